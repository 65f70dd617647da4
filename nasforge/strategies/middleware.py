"""Middleware: behaviour written once and wrapped around any strategy (NNI 3.0's idea).

- `Deduplicate` never evaluates the same arch (at the same budget) twice: a repeat proposal is answered
  from the earlier result, or waits for it if it is still running;
- `Retry` proposes a failed arch again, up to `max_retries` times, before the strategy hears of the failure;
- `ConstraintFilter` rejects archs that violate a constraint checked before any training (the strategy is
  told they failed) and asks again;
- `BudgetLimit` adds up what the finished trials cost (a metric such as "cost", else their wall time) and
  stops proposing once `max_cost` is spent.

>>> from nasforge.strategies import RegularizedEvolution
>>> strategy = BudgetLimit(Retry(Deduplicate(RegularizedEvolution()), max_retries=1), max_cost=3600)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from nasforge.errors import ConfigError
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, Sampler, arch_key, check_int
from nasforge.strategies.context import SearchContext
from nasforge.trial import Proposal, TrialRecord, TrialState

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


def _record_to_json(r: TrialRecord) -> dict[str, Any]:
    return {
        "arch": r.arch.to_dict(),
        "budget": r.budget,
        "state": r.state.value,
        "metrics": dict(r.metrics),
        "error": r.error,
        "info": dict(r.info),
    }


def _record_from_json(d: Mapping[str, Any]) -> TrialRecord:
    return TrialRecord(
        SYNTHETIC, Arch(d["arch"]), d["budget"], TrialState(d["state"]), d["metrics"], d["error"], d["info"]
    )


class Deduplicate(StrategyMiddleware):
    """Evaluate each arch (per budget) once. `key(arch)` decides what counts as the same arch: by default
    the space's `canonical_key(arch)` when it has one (e.g. an isomorphism class), else the arch id.

    After `max_skips` duplicates in a row the proposal is let through, so a strategy that has converged
    still makes progress instead of spinning.
    """

    def __init__(self, inner: BaseStrategy, key: Callable[[Arch], str] | None = None, max_skips: int = 20) -> None:
        super().__init__(inner)
        self.key = key
        self.max_skips = check_int("Deduplicate", "max_skips", max_skips, 0)
        self._results: dict[str, TrialRecord] = {}
        self._results_json: dict[str, dict[str, Any]] = {}  # kept as results arrive: state_dict is per trial
        self._running: set[str] = set()
        self._waiting: dict[str, list[dict[str, Any]]] = {}
        self.skipped = 0

    def _key(self, arch: Arch, budget: float | None) -> str:
        base = self.key(arch) if self.key is not None else arch_key(self.space, arch)
        return f"{base}@{budget}"

    def _ask(self) -> Proposal | None:
        skips = 0
        while (proposal := self.inner.ask()) is not None:
            k = self._key(proposal.arch, proposal.budget)
            if skips == self.max_skips or (k not in self._results and k not in self._running):
                self._running.add(k)  # new, or the strategy insists: evaluate (again)
                return proposal
            skips += 1
            self.skipped += 1
            if k in self._results:
                self.inner.tell(self._answer(self._results[k], proposal))
            else:
                self._waiting.setdefault(k, []).append(
                    {"arch": proposal.arch.to_dict(), "budget": proposal.budget, "info": dict(proposal.info)}
                )
        return None

    @staticmethod
    def _answer(result: TrialRecord, proposal: Proposal) -> TrialRecord:
        return result.with_(
            number=SYNTHETIC, arch=proposal.arch, budget=proposal.budget, info={**proposal.info, "deduplicated": True}
        )

    def _tell(self, record: TrialRecord) -> None:
        k = self._key(record.arch, record.budget)
        self._running.discard(k)
        if record.state.finished:
            self._results[k] = record
            self._results_json[k] = _record_to_json(record)
        self.inner.tell(record)
        for w in self._waiting.pop(k, []):
            self.inner.tell(self._answer(record, Proposal(Arch(w["arch"]), w["budget"], w["info"])))

    def _warm_start(self, records: list[TrialRecord]) -> None:
        for record in records:  # earlier results answer repeat proposals, as this search's own would
            k = self._key(record.arch, record.budget)
            self._results[k] = record
            self._results_json[k] = _record_to_json(record)
        self.inner.warm_start(records)

    def _own_state(self) -> dict[str, Any]:
        return {
            "results": dict(self._results_json),
            "running": sorted(self._running),
            "waiting": self._waiting,
            "skipped": self.skipped,
        }

    def _load_own_state(self, state: Mapping[str, Any]) -> None:
        self._results_json = {k: dict(r) for k, r in state["results"].items()}
        self._results = {k: _record_from_json(r) for k, r in self._results_json.items()}
        self._running = set(state["running"])
        self._waiting = {k: list(v) for k, v in state["waiting"].items()}
        self.skipped = int(state["skipped"])


class Retry(StrategyMiddleware):
    """Propose a failed arch again (same budget and info), up to `max_retries` times; only the last
    failure reaches the inner strategy."""

    def __init__(self, inner: BaseStrategy, max_retries: int = 1) -> None:
        super().__init__(inner)
        self.max_retries = check_int("Retry", "max_retries", max_retries, 1)
        self._attempts: dict[str, int] = {}
        self._queue: list[dict[str, Any]] = []

    def _ask(self) -> Proposal | None:
        if self._queue:
            item = self._queue.pop(0)
            return Proposal(Arch(item["arch"]), item["budget"], item["info"])
        return self.inner.ask()

    def _tell(self, record: TrialRecord) -> None:
        k = f"{record.arch.id}@{record.budget}"
        if record.state is TrialState.FAILED and self._attempts.get(k, 0) < self.max_retries:
            self._attempts[k] = self._attempts.get(k, 0) + 1
            info = {**record.info, "retry": self._attempts[k]}
            self._queue.append({"arch": record.arch.to_dict(), "budget": record.budget, "info": info})
            return
        self._attempts.pop(k, None)
        self.inner.tell(record)

    def _own_state(self) -> dict[str, Any]:
        return {"attempts": self._attempts, "queue": self._queue}

    def _load_own_state(self, state: Mapping[str, Any]) -> None:
        self._attempts = dict(state["attempts"])
        self._queue = list(state["queue"])


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
