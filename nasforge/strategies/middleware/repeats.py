"""Middleware for repeats: `Deduplicate` answers a repeated proposal from the earlier result, `Retry`
proposes a failed arch again before the strategy hears of the failure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, arch_key, check_int
from nasforge.strategies.middleware.base import SYNTHETIC, StrategyMiddleware
from nasforge.trial import Proposal, TrialRecord, TrialState


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
