"""Random search: the baseline every other strategy must beat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasforge.strategies.base import BaseStrategy, check_int
from nasforge.trial import Proposal


class RandomSearch(BaseStrategy):
    """Sample archs uniformly over the space's decisions.

    With `dedup` (default), an arch already proposed is resampled up to `max_retries` times, so small
    spaces are not evaluated twice while any arch is still new. It ignores scores, so it serves any number of
    objectives (the multi-objective baseline too).
    """

    multi_objective = True

    def __init__(self, dedup: bool = True, max_retries: int = 100) -> None:
        self.dedup = bool(dedup)
        self.max_retries = check_int("RandomSearch", "max_retries", max_retries, 0)
        self._seen: set[str] = set()

    def _ask(self) -> Proposal:
        arch = self.sample_random()
        if self.dedup:
            for _ in range(self.max_retries):
                if arch.id not in self._seen:
                    break
                arch = self.sample_random()
            self._seen.add(arch.id)
        return Proposal(arch)

    def _state_dict(self) -> dict[str, Any]:
        return {"seen": sorted(self._seen)}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._seen = set(state.get("seen", []))

    def __repr__(self) -> str:
        return f"RandomSearch(dedup={self.dedup})"
