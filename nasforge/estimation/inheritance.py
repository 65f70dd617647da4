"""Weight inheritance: a child network starts from its parent's trained weights and trains fewer epochs.

In evolution and local search most children differ from their parent in one decision, so most of their
tensors have the parent's names and shapes. `inherit(child, parent_state)` copies those; a tensor whose
shape differs only in its sizes (a wider or narrower layer, a kernel of another odd size) gets the
overlapping block, aligned so that the parent's function is kept where that is cheap (a larger kernel
holds the parent's in its centre; a wider layer's new units reach the old ones through zero weights); the
rest keeps its fresh initialisation, and anything else (another operation at the same name) stays fresh.
The returned fraction of the child's parameter values that came from the parent is stored as the trial's
`inherited` metric. This is Lamarckian evolution in the sense of LEMONADE (Elsken et al. 2019) with only its
cheap morphisms: the child is trained again after the copy, so an exact function is a head start, not a need.

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
    `preserve`: keep the parent's function where cheap (a kernel of another size copied centred, zero
    weights from a wider layer's new units; see `inherit`);
    `lr_scale`: in (0, 1], the child's learning rate as a fraction of its own, cosine-decayed without warm-up
    when below 1 (1: the child's normal schedule); `by_fraction`: the epochs grow with the part of the child
    that starts fresh, from `epochs` when it inherited everything to all of them when it inherited nothing."""

    epochs: float | int = 0.5
    partial: bool = True
    preserve: bool = True
    lr_scale: float = 1.0
    by_fraction: bool = False

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
        for name in ("partial", "preserve", "by_fraction"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"`{name}` of WeightInheritance must be true or false, but got {getattr(self, name)!r}."
                )
        r = self.lr_scale
        if not isinstance(r, (int, float)) or isinstance(r, bool) or not (math.isfinite(r) and 0 < r <= 1):
            raise ConfigError(
                f"`lr_scale` of WeightInheritance is the child's learning rate as a fraction of its own, a number in "
                f"(0, 1], but got {r!r}."
            )

    def child_epochs(self, epochs: int, inherited: float = 1.0) -> int:
        """The epochs of a child that inherited the fraction `inherited` of its parameter values."""
        if isinstance(self.epochs, int):
            least = min(epochs, self.epochs)
        else:
            least = max(1, math.ceil(epochs * self.epochs - 1e-9))
        if not self.by_fraction:
            return least
        fresh = min(max(1.0 - inherited, 0.0), 1.0)
        return min(epochs, math.floor(least + (epochs - least) * fresh + 0.5))  # rounded half up

    def child_settings(self, epochs: int, learning_rate: float, inherited: float = 1.0) -> dict[str, Any]:
        """The training settings an inheriting child overrides: its epochs, and its schedule when it fine-tunes."""
        settings: dict[str, Any] = {"epochs": self.child_epochs(epochs, inherited)}
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
        valid = ["by_fraction", "epochs", "lr_scale", "partial", "preserve"]
        unknown = sorted(set(spec) - set(valid))
        if unknown:
            raise ConfigError(f"Unknown weight-inheritance option(s) {unknown}; valid: {valid}.")
        return WeightInheritance(**spec)
    raise ConfigError(f"Weight inheritance is true, false or a mapping such as {{epochs: 0.5}}, but got {spec!r}.")


@torch.no_grad()
def inherit(
    model: nn.Module, parent_state: Mapping[str, torch.Tensor], partial: bool = True, preserve: bool = True
) -> float:
    """Copy `parent_state` into `model` where names and shapes match (the overlapping block where only the
    sizes differ, if `partial`); returns the fraction of the model's parameter values copied.

    With `preserve` (and `partial`), two cheap function-preserving morphisms (Wei et al. 2016, "Network
    Morphism"; Chen et al. 2016, "Net2Net"): a kernel of another odd size is copied centred (a larger one
    gets the parent's kernel in its middle and zeros around it, which computes the same with 'same'
    padding; a smaller one gets the parent's centre), and where a layer gained inputs (a wider layer before
    it), the weights from the new inputs to the old outputs start at zero, so the old units compute what
    they did until training moves them. New units keep their fresh initialisation, so they can learn.
    """
    params = {n: p for n, p in model.named_parameters() if not _lazy(p)}
    total = sum(p.numel() for p in params.values()) or 1
    copied = 0
    for name, tensor, src in _pairs(model.state_dict(keep_vars=True), parent_state):
        if _lazy(tensor):  # a lazy module's parameter has no shape until the first forward: stays fresh
            continue
        if not isinstance(src, torch.Tensor) or src.dtype != tensor.dtype:
            continue
        if src.shape == tensor.shape:
            tensor.data.copy_(src.to(tensor.device))
            n = tensor.numel()
        elif partial and src.ndim == tensor.ndim and src.ndim > 0:
            n = _copy_overlap(tensor.data, src.to(tensor.device), preserve)
            if n == 0:
                continue
        else:
            continue
        if name in params:
            copied += n
    return copied / total


def _pairs(child: Mapping[str, torch.Tensor], parent: Mapping[str, Any]) -> list[tuple[str, torch.Tensor, Any]]:
    """Each child tensor with the parent entry it inherits from: the one of the same name, else one whose
    name differs by a single wrapper (a named, non-numeric path segment such as `body.` that one of them has
    and the other lacks: a layer wrapped into a residual block, or unwrapped), one of the same shape first.
    A parent entry goes to one child tensor at most, exact names first, then in the child's order."""
    taken = {name for name in child if name in parent}
    pairs = [(name, tensor, parent[name]) for name, tensor in child.items() if name in parent]
    # the parent's names with one wrapper segment removed, in the parent's order
    unwrapped: dict[str, list[str]] = {}
    for name in parent:
        for short in _without_one_wrapper(name):
            unwrapped.setdefault(short, []).append(name)
    for name, tensor in child.items():
        if name in parent:
            continue
        candidates = [c for c in unwrapped.get(name, []) + _without_one_wrapper(name) if c in parent and c not in taken]
        if not candidates:
            continue
        same = [c for c in candidates if getattr(parent[c], "shape", None) == tensor.shape]
        match = (same or candidates)[0]  # the same shape first (a residual body, not its shortcut)
        taken.add(match)
        pairs.append((name, tensor, parent[match]))
    return pairs


def _without_one_wrapper(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i] + parts[i + 1 :]) for i in range(len(parts) - 1) if not parts[i].isdigit()]


def _copy_overlap(dst: torch.Tensor, src: torch.Tensor, preserve: bool) -> int:
    """Copy the overlap of `src` into `dst` (same number of dims, other sizes); the values copied, 0 if none.

    Dims 0 and 1 (outputs and inputs, or the channels) overlap from the start; dims 2+ (a kernel's) only
    when equal, or, with `preserve`, when both are odd: then they are aligned on their centres."""
    dst_idx, src_idx = [], []
    for d, (a, b) in enumerate(zip(src.shape, dst.shape, strict=True)):
        if d < 2 or a == b:
            m = min(a, b)
            dst_idx.append(slice(0, m))
            src_idx.append(slice(0, m))
        elif preserve and a % 2 == 1 and b % 2 == 1:
            if b > a:  # the child's kernel is larger: the parent's goes in its middle
                off = (b - a) // 2
                dst_idx.append(slice(off, off + a))
                src_idx.append(slice(0, a))
            else:  # smaller: the parent's centre
                off = (a - b) // 2
                dst_idx.append(slice(0, b))
                src_idx.append(slice(off, off + b))
        else:
            return 0  # a 3x3 kernel is not part of a 4x4 one
    channels = tuple(dst_idx[:2])
    if preserve and dst.ndim >= 3 and dst.shape[2:] != src.shape[2:]:
        dst[channels] = 0  # around a smaller parent kernel: zeros, so the centred kernel computes the same
    if preserve and dst.ndim >= 2 and dst.shape[1] > src.shape[1]:
        dst[: min(dst.shape[0], src.shape[0]), src.shape[1] :] = 0  # new inputs reach the old outputs with 0
    dst[tuple(dst_idx)] = src[tuple(src_idx)]
    return int(dst[tuple(dst_idx)].numel())


def _lazy(tensor: torch.Tensor) -> bool:
    return isinstance(tensor, nn.parameter.UninitializedParameter | nn.parameter.UninitializedBuffer)


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
