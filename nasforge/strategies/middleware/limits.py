"""Middleware for limits: `ConstraintFilter` rejects archs that violate a constraint checked before any
training, `BudgetLimit` stops proposing once the finished trials have cost `max_cost`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from nasforge.errors import ConfigError
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, check_int
from nasforge.strategies.middleware.base import SYNTHETIC, StrategyMiddleware
from nasforge.trial import Proposal, TrialRecord, TrialState


class ConstraintFilter(StrategyMiddleware):
    """Only propose archs for which `constraint(arch)` is true (e.g. a parameter limit computed on the
    frozen network); the inner strategy is told the others failed, with the reason, and asked again.
    After `max_skips` rejections in a row `ask` returns None, since the strategy seems unable to comply."""

    def __init__(
        self,
        inner: BaseStrategy,
        constraint: Callable[[Arch], bool],
        name: str = "constraint",
        max_skips: int = 1000,
    ) -> None:
        super().__init__(inner)
        if not callable(constraint):
            raise ConfigError(
                f"`constraint` of ConstraintFilter must be callable as constraint(arch) -> bool, "
                f"but got {constraint!r}."
            )
        self.constraint = constraint
        self.name = name
        self.max_skips = check_int("ConstraintFilter", "max_skips", max_skips, 1)
        self.rejected = 0

    def _ask(self) -> Proposal | None:
        for _ in range(self.max_skips):
            proposal = self.inner.ask()
            if proposal is None or self.constraint(proposal.arch):
                return proposal
            self.rejected += 1
            self.inner.tell(
                TrialRecord(
                    SYNTHETIC,
                    proposal.arch,
                    proposal.budget,
                    TrialState.FAILED,
                    error=f"ConstraintViolated: {self.name}",
                    info=dict(proposal.info),
                )
            )
        return None

    def _own_state(self) -> dict[str, Any]:
        return {"rejected": self.rejected}

    def _load_own_state(self, state: Mapping[str, Any]) -> None:
        self.rejected = int(state["rejected"])


class BudgetLimit(StrategyMiddleware):
    """Stop proposing once the finished trials have cost `max_cost` in all; `spent` is the running total.

    A trial costs its `metric` (default "cost"); a trial that does not report it (e.g. one that failed)
    costs its wall time when the record has one, else nothing, and is counted in `uncosted`. Records
    never evaluated cost nothing: answers from `Deduplicate` and a `ConstraintFilter`'s rejections. Trials
    still running when the budget runs out finish, so the total may overshoot by what they cost.
    Wrapped outermost, it sees every evaluated trial, retried attempts included.
    """

    def __init__(self, inner: BaseStrategy, max_cost: float, metric: str = "cost") -> None:
        super().__init__(inner)
        if (
            not isinstance(max_cost, (int, float))
            or isinstance(max_cost, bool)
            or not math.isfinite(max_cost)
            or max_cost <= 0
        ):
            raise ConfigError(f"`max_cost` of BudgetLimit must be a finite number > 0, but got {max_cost!r}.")
        if not isinstance(metric, str) or not metric:
            raise ConfigError(
                f"`metric` of BudgetLimit must be the name of a trial metric (a non-empty string), but got {metric!r}."
            )
        self.max_cost = float(max_cost)
        self.metric = metric
        self.spent = 0.0
        self.uncosted = 0  # finished trials charged nothing: neither the metric nor a wall time to go by

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.max_cost

    def _ask(self) -> Proposal | None:
        return None if self.exhausted else self.inner.ask()

    def is_done(self) -> bool:
        return self.exhausted or self.inner.is_done()

    def cost(self, record: TrialRecord) -> float | None:
        """What `record` is charged, or None when nothing tells (it is then charged 0)."""
        if record.number == SYNTHETIC or record.info.get("deduplicated"):
            return 0.0
        value = record.metrics.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            value = record.duration
        return None if value is None else max(0.0, float(value))

    def _tell(self, record: TrialRecord) -> None:
        if record.state.finished:
            cost = self.cost(record)
            if cost is None:
                self.uncosted += 1
            else:
                self.spent += cost
        self.inner.tell(record)

    def _own_state(self) -> dict[str, Any]:
        return {"spent": self.spent, "uncosted": self.uncosted}

    def _load_own_state(self, state: Mapping[str, Any]) -> None:
        self.spent = float(state["spent"])
        self.uncosted = int(state["uncosted"])

    def __repr__(self) -> str:
        return f"BudgetLimit({self.inner!r}, max_cost={self.max_cost:g}, metric={self.metric!r})"
