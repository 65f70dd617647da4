"""`StrategyMiddleware`: a strategy that wraps another, passing asks and tells through unless it intervenes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasforge.errors import ConfigError
from nasforge.strategies.base import BaseStrategy, Sampler
from nasforge.strategies.context import SearchContext
from nasforge.trial import Proposal, TrialRecord

SYNTHETIC = -1  # the number of records a middleware makes up for its inner strategy


class StrategyMiddleware(BaseStrategy):
    """Wraps `inner`: asks and tells pass through unless a subclass intervenes. State nests the inner's."""

    def __init__(self, inner: BaseStrategy) -> None:
        if not isinstance(inner, BaseStrategy):
            raise ConfigError(f"{type(self).__name__} wraps a strategy, but got {type(inner).__name__}.")
        self.inner = inner

    @property
    def seeded(self) -> bool:  # type: ignore[override]
        return self.inner.seeded

    @property
    def multi_objective(self) -> bool:  # type: ignore[override]
        return self.inner.multi_objective

    @property
    def cooperative(self) -> bool:  # type: ignore[override]
        return self.inner.cooperative

    @property
    def resumes(self) -> bool:  # type: ignore[override]
        return self.inner.resumes

    def _setup(self) -> None:
        self.inner.setup(self.space, self.objective, int(self.rng.integers(2**31)), self.objectives)

    def _ask(self) -> Proposal | None:
        return self.inner.ask()

    def _tell(self, record: TrialRecord) -> None:
        self.inner.tell(record)

    def set_sampler(self, sampler: Sampler | None) -> None:
        """Random proposals are the inner strategy's: the sampler goes to it (and on to the innermost)."""
        self.inner.set_sampler(sampler)

    @property
    def sampler(self) -> Sampler | None:
        return self.inner.sampler

    @property
    def accepts_history(self) -> bool:  # type: ignore[override]
        return self.inner.accepts_history

    def _warm_start(self, records: list[TrialRecord]) -> None:
        self.inner.warm_start(records)

    def is_done(self) -> bool:
        return self.inner.is_done()

    def prepare(self, context: SearchContext) -> bool:
        return self.inner.prepare(context)

    def _state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), **self._own_state()}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self._load_own_state(state)

    def _own_state(self) -> dict[str, Any]:
        return {}

    def _load_own_state(self, state: Mapping[str, Any]) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
