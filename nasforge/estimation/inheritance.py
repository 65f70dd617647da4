"""Weight inheritance: a child network starts from its parent's trained weights and trains fewer epochs.

In evolution and local search most children differ from their parent in one decision, so most of their
tensors have the parent's names and shapes. `inherit(child, parent_state)` copies those; a tensor whose
shape differs only in its sizes (a wider or narrower layer) gets the overlapping block, the rest keeping
its fresh initialisation; anything else (another operation at the same name) stays fresh. The returned
fraction of the child's parameter values that came from the parent is stored as the trial's `inherited`
metric. This is Lamarckian evolution in the sense of LEMONADE (Elsken et al. 2019) without its
function-preserving morphisms: the child is trained again after the copy, so an exact function is not needed.

The experiment (`Experiment(..., inherit_weights=WeightInheritance(...))`) saves each completed trial's
weights under its checkpoint folder and hands a child its parent's file: a proposal names its parent arch
in `info["parent"]` (evolution and local search do), and the latest completed trial of that arch is the
parent. The evaluator trains an inheriting child for `epochs` (a fraction of its budget, or a count). With
`lr_scale` below 1 the child fine-tunes: its learning rate starts at `lr_scale` times its own and decays on a
cosine, with no warm-up, since a warm-up to the full rate would first undo much of what it inherited.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasforge.errors import ConfigError


@dataclass(frozen=True)
class WeightInheritance:
    """`epochs`: what an inheriting child trains, a fraction of its normal epochs (a float in (0, 1]) or a
    number of epochs (an int >= 1); `partial`: also copy the overlapping block of a tensor whose sizes differ;
    `lr_scale`: in (0, 1], the child's learning rate as a fraction of its own, cosine-decayed without warm-up
    when below 1 (1: the child's normal schedule)."""

    epochs: float | int = 0.5
    partial: bool = True
    lr_scale: float = 1.0

    def __post_init__(self) -> None:
        e = self.epochs
        ok = (isinstance(e, int) and not isinstance(e, bool) and e >= 1) or (
            isinstance(e, float) and math.isfinite(e) and 0 < e <= 1
        )
        if not ok:
            raise ConfigError(
                "`epochs` of WeightInheritance is a fraction of the trial's epochs (a float in (0, 1]) or a "
                f"number of epochs (an int >= 1), but got {e!r}."
            )
        if not isinstance(self.partial, bool):
            raise ConfigError(f"`partial` of WeightInheritance must be true or false, but got {self.partial!r}.")
        r = self.lr_scale
        if not isinstance(r, (int, float)) or isinstance(r, bool) or not (math.isfinite(r) and 0 < r <= 1):
            raise ConfigError(
                f"`lr_scale` of WeightInheritance is the child's learning rate as a fraction of its own, a number in "
                f"(0, 1], but got {r!r}."
            )

    def child_epochs(self, epochs: int) -> int:
        if isinstance(self.epochs, int):
            return min(epochs, self.epochs)
        return max(1, math.ceil(epochs * self.epochs - 1e-9))

    def child_settings(self, epochs: int, learning_rate: float) -> dict[str, Any]:
        """The training settings an inheriting child overrides: its epochs, and its schedule when it fine-tunes."""
        settings: dict[str, Any] = {"epochs": self.child_epochs(epochs)}
        if self.lr_scale < 1:
            settings.update(learning_rate=learning_rate * self.lr_scale, schedule="cosine")
        return settings


def make_inheritance(spec: bool | Mapping[str, Any] | WeightInheritance | None) -> WeightInheritance | None:
    """`True` (the defaults), a mapping of `WeightInheritance` options, an instance, or False/None (off)."""
    if spec is None or spec is False:
        return None
    if spec is True:
        return WeightInheritance()
    if isinstance(spec, WeightInheritance):
        return spec
    if isinstance(spec, Mapping):
        valid = ["epochs", "lr_scale", "partial"]
        unknown = sorted(set(spec) - set(valid))
        if unknown:
            raise ConfigError(f"Unknown weight-inheritance option(s) {unknown}; valid: {valid}.")
        return WeightInheritance(**spec)
    raise ConfigError(f"Weight inheritance is true, false or a mapping such as {{epochs: 0.5}}, but got {spec!r}.")


@torch.no_grad()
def inherit(model: nn.Module, parent_state: Mapping[str, torch.Tensor], partial: bool = True) -> float:
    """Copy `parent_state` into `model` where names and shapes match (the overlapping block where only the
    sizes differ, if `partial`); returns the fraction of the model's parameter values copied."""
    params = {n: p for n, p in model.named_parameters() if not _lazy(p)}
    total = sum(p.numel() for p in params.values()) or 1
    copied = 0
    for name, tensor in model.state_dict(keep_vars=True).items():
        if _lazy(tensor):  # a lazy module's parameter has no shape until the first forward: stays fresh
            continue
        src = parent_state.get(name)
        if src is None or not isinstance(src, torch.Tensor) or src.dtype != tensor.dtype:
            continue
        if src.shape == tensor.shape:
            tensor.data.copy_(src.to(tensor.device))
            n = tensor.numel()
        elif partial and src.ndim == tensor.ndim and src.ndim > 0 and _same_kernel(src, tensor):
            block = tuple(slice(0, min(a, b)) for a, b in zip(src.shape, tensor.shape, strict=True))
            tensor.data[block].copy_(src[block].to(tensor.device))
            n = tensor.data[block].numel()
        else:
            continue
        if name in params:
            copied += n
    return copied / total


def _lazy(tensor: torch.Tensor) -> bool:
    return isinstance(tensor, nn.parameter.UninitializedParameter | nn.parameter.UninitializedBuffer)


def _same_kernel(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Only channel counts may differ: a 3x3 kernel is not half of a 5x5 one."""
    return a.ndim < 3 or a.shape[2:] == b.shape[2:]


def save_weights(model: nn.Module, path: str | Path) -> None:
    """Write the model's state dict to `path` atomically (a temporary file renamed over it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)


def load_weights(path: str | Path) -> dict[str, torch.Tensor] | None:
    """The state dict at `path` (read with `weights_only=True`), or None when it is missing or unreadable:
    a child whose parent's weights are gone trains from scratch."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        return None
    return state if isinstance(state, dict) else None
