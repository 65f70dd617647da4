"""A fading identity path that a weight-entangled supernet keeps, while it trains, around the blocks whose
residual (a `nasforge.space.optional(..., shortcut=True)`, as `nasforge.ops.residual_if`) an arch leaves out.

The candidate operations of a `LayerChoice` are separate modules, each with its own channel basis; a block
without a shortcut replaces the representation with its candidate's, so when every block draws its operation
at random the next block cannot read any of them and the subnets stay near chance (docs/supernet.md, "Why
the subnets score near chance"). Adding the block's input to its output keeps one representation that every
candidate only adds to. OFA's `shortcut_epochs` anneals the path's weight to 0 over the first epochs, so the
subnets trained from then on, and every subnet scored or extracted, are the arch's own networks. Measured on
digits under the sandwich rule it does not lift the random subnets by itself (docs/supernet.md, "A fading
identity shortcut"), so it is off by default.

>>> x = torch.ones(1, 2, 4, 4)
>>> identity_like(x, torch.zeros(1, 3, 2, 2))[0, :, 0, 0].tolist()  # pooled to 2 x 2, padded to 3 channels
[1.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.errors import SpaceError

__all__ = ["FadingShortcut", "identity_like"]


def identity_like(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """`x` shaped as `out`: its channels (dimension 1) cut to `out`'s or padded with zeros (the leading
    channels, as weight-entangled widths share them), and a 4-d input average-pooled to `out`'s size."""
    if x.dim() != out.dim() or x.shape[0] != out.shape[0]:
        raise SpaceError(
            f"A fading shortcut adds a block's input to its output, but the input has shape {list(x.shape)} and "
            f"the output {list(out.shape)}; train without `shortcut_epochs` for this space."
        )
    if x.shape[2:] != out.shape[2:]:
        if x.dim() != 4:
            raise SpaceError(
                f"A fading shortcut cannot match the input of shape {list(x.shape)} to the output's "
                f"{list(out.shape)}; train without `shortcut_epochs` for this space."
            )
        x = F.adaptive_avg_pool2d(x, (int(out.shape[2]), int(out.shape[3])))
    c_in, c_out = x.shape[1], out.shape[1]
    if c_in > c_out:
        return x[:, :c_out]
    if c_in < c_out:
        return torch.cat([x, x.new_zeros((x.shape[0], c_out - c_in, *x.shape[2:]))], dim=1)
    return x


class FadingShortcut:
    """The weight of the identity path of one supernet (0: off), read by the forward hooks it registers on
    the subnets' blocks that leave their residual out."""

    def __init__(self) -> None:
        self.weight = 0.0

    def set(self, weight: float) -> None:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise SpaceError(f"The weight of a fading shortcut must be a number >= 0, but got {weight!r}.")
        self.weight = float(weight)

    def attach(self, module: nn.Module) -> None:
        """Let `module` add its input, times the current weight, to its output."""
        module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor | None:
        if self.weight == 0.0:
            return None
        return out + self.weight * identity_like(args[0], out)
