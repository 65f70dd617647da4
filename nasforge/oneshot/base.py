"""What every one-shot strategy shares: its checked settings, the data batches, and the result it returns."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from nasforge.data import ArrayData
from nasforge.errors import ConfigError
from nasforge.space import Arch, ModelSpace

__all__ = ["BaseOneShot", "OneShotResult"]


@dataclass(frozen=True)
class OneShotResult:
    """The derived arch, the final architecture weights per label (softmax, where the method has them) and
    a per-epoch history of the supernet's train loss and validation accuracy."""

    arch: Arch
    probabilities: dict[str, list[float]] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    search_time: float = 0.0


def check_int(owner: str, name: str, value: Any, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"`{name}` of {owner} must be an int >= {low}, but got {value!r}.")
    return value


def check_float(owner: str, name: str, value: Any, low: float = 0.0, strict: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        rel = ">" if strict else ">="
        raise ConfigError(f"`{name}` of {owner} must be a number {rel} {low}, but got {value!r}.")
    return float(value)


def batches(data: ArrayData, batch_size: int, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled full batches of `data`, forever (one-shot loops count steps, not epochs of one split)."""
    n = len(data)
    size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n - size + 1, size):
            idx = perm[start : start + size]
            yield data.x[idx], data.y[idx]


class BaseOneShot(ABC):
    """A one-shot search: `search(space, train, valid)` builds the supernet, trains it and derives an arch."""

    def __init__(self, epochs: int = 10, batch_size: int = 64, seed: int = 0) -> None:
        owner = type(self).__name__
        self.epochs = check_int(owner, "epochs", epochs)
        self.batch_size = check_int(owner, "batch_size", batch_size)
        self.seed = check_int(owner, "seed", seed, low=0)

    def search(self, space: ModelSpace, train: ArrayData, valid: ArrayData) -> OneShotResult:
        owner = type(self).__name__
        if not isinstance(space, ModelSpace) or space.is_frozen:
            raise ConfigError(
                f"{owner}.search needs a ModelSpace (not a frozen network), but got {type(space).__name__}."
            )
        for name, part in (("train", train), ("valid", valid)):
            if not isinstance(part, ArrayData) or len(part) == 0:
                raise ConfigError(f"`{name}` of {owner}.search must be a non-empty ArrayData, but got {part!r}.")
        torch.manual_seed(self.seed)
        return self._search(space, train, valid)

    @abstractmethod
    def _search(self, space: ModelSpace, train: ArrayData, valid: ArrayData) -> OneShotResult:
        """Train the supernet and derive the arch."""
