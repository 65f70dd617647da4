"""Grid search: every arch of a (small) space exactly once."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from nasforge.errors import ConfigError
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, check_int
from nasforge.trial import Proposal


class GridSearch(BaseStrategy):
    """Propose `space.grid()` in order (or in a seeded random order with `shuffle`), then stop.

    `shuffle` materialises the grid, so it refuses spaces larger than `max_size`. It ignores scores, so it
    serves any number of objectives.
    """

    multi_objective = True

    def __init__(self, shuffle: bool = False, max_size: int = 1_000_000) -> None:
        self.shuffle = bool(shuffle)
        self.seeded = self.shuffle
        self.max_size = check_int("GridSearch", "max_size", max_size, 1)
        self._position = 0
        self._iter: Iterator[Arch] | None = None
        self._order: list[int] | None = None
        self._exhausted = False

    def _setup(self) -> None:
        if self.shuffle:
            size = self.space.size()
            if size > self.max_size:
                raise ConfigError(
                    f"GridSearch(shuffle=True) holds the whole grid in memory, so the space must have at most "
                    f"max_size={self.max_size} archs, but it has {size}; raise max_size or use shuffle=False."
                )

    def _archs(self) -> Iterator[Arch]:
        if not self.shuffle:
            return itertools.islice(self.space.grid(), self._position, None)
        archs = list(self.space.grid())
        if self._order is None:
            self._order = [int(i) for i in self.rng.permutation(len(archs))]
        return (archs[i] for i in self._order[self._position :])

    def _ask(self) -> Proposal | None:
        if self._exhausted:
            return None
        if self._iter is None:
            self._iter = self._archs()
        arch = next(self._iter, None)
        if arch is None:
            self._exhausted = True
            return None
        self._position += 1
        return Proposal(arch, info={"grid_position": self._position - 1})

    def is_done(self) -> bool:
        return self._exhausted

    def _state_dict(self) -> dict[str, Any]:
        return {"position": self._position, "order": self._order, "exhausted": self._exhausted}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._position = int(state["position"])
        self._order = state.get("order")
        self._exhausted = bool(state.get("exhausted", False))
        self._iter = None

    def __repr__(self) -> str:
        return f"GridSearch(shuffle={self.shuffle})"
