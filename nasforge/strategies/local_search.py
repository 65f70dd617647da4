"""Local search (White, Nolen, Savani, "Exploring the loss landscape in neural architecture search",
UAI 2021): hill climbing over one-decision neighbours, restarting from a random arch at a local optimum."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, check_int
from nasforge.trial import Proposal, TrialRecord


class LocalSearch(BaseStrategy):
    """Evaluate `n_initial` random archs and start from the best; evaluate its neighbours (archs differing
    in one decision) in random order and move to the first that improves on it. When a whole
    neighbourhood brings no improvement, restart from a new random arch.

    Asynchronous: while the last neighbours of an arch are still running, extra asks get random archs;
    any result better than the current arch, whenever it arrives, becomes the current arch.
    """

    accepts_history = True

    def __init__(self, n_initial: int = 10) -> None:
        self.n_initial = check_int("LocalSearch", "n_initial", n_initial, 1)
        self._current: tuple[Arch, float] | None = None
        self._start_left = self.n_initial  # random starts still to propose
        self._start_needed = self.n_initial  # successful starts before climbing
        self._start_done = 0
        self._start_best: tuple[Arch, float] | None = None
        self._queue: list[Arch] = []
        self._expanded = False  # the current arch's neighbourhood has been queued
        self._outstanding: set[str] = set()
        self._seen: set[str] = set()
        self.restarts = 0

    def _random(self) -> Arch:
        arch = self.sample_random()
        for _ in range(20):
            if arch.id not in self._seen:
                break
            arch = self.sample_random()
        return arch

    def _propose(self, arch: Arch, origin: str) -> Proposal:
        self._seen.add(arch.id)
        self._outstanding.add(arch.id)
        info: dict[str, Any] = {"origin": origin}
        if origin == "neighbour" and self._current is not None:
            info["parent"] = self._current[0].id  # the arch it differs from in one decision (weight inheritance)
        return Proposal(arch, info=info)

    def _ask(self) -> Proposal:
        if self._current is None:
            self._start_left = max(0, self._start_left - 1)
            return self._propose(self._random(), "start")
        if not self._expanded:
            neighbours = [a for a in self.space.neighbours(self._current[0]) if a.id not in self._seen]
            self._queue = [neighbours[int(i)] for i in self.rng.permutation(len(neighbours))]
            self._expanded = True
        if self._queue:
            return self._propose(self._queue.pop(0), "neighbour")
        if not self._outstanding:  # every neighbour evaluated, none better: a local optimum
            self._restart()
            return self._ask()
        return self._propose(self._random(), "filler")

    def _warm_start(self, records: list[TrialRecord]) -> None:
        """Climb from the best earlier result at once; earlier archs count as seen."""
        self._seen.update(r.arch.id for r in records)
        scored = [(r.arch, s) for r in records if (s := self.score(r)) is not None]
        if scored and self._current is None:
            self._current = max(scored, key=lambda p: p[1])
            self._start_left, self._start_best = 0, None
            self._queue, self._expanded = [], False

    def _restart(self) -> None:
        self.restarts += 1
        self._current, self._start_best = None, None
        self._start_left = self._start_needed = 1
        self._start_done, self._queue, self._expanded = 0, [], False

    def _tell(self, record: TrialRecord) -> None:
        self._outstanding.discard(record.arch.id)
        score = self.score(record)
        if self._current is None:
            if score is not None:
                self._start_done += 1
                if self._start_best is None or score > self._start_best[1]:
                    self._start_best = (record.arch, score)
            # climb once enough starts succeeded; starts still running count as ordinary results later
            if self._start_left == 0 and self._start_done >= self._start_needed and self._start_best is not None:
                self._current, self._start_best = self._start_best, None
                self._queue, self._expanded = [], False
            return
        if score is not None and score > self._current[1]:
            self._current = (record.arch, score)  # first improvement: move at once
            self._queue, self._expanded = [], False
        elif self._expanded and not self._queue and not self._outstanding:
            self._restart()

    def _state_dict(self) -> dict[str, Any]:
        def pair(p: tuple[Arch, float] | None) -> list[Any] | None:
            return None if p is None else [p[0].to_dict(), p[1]]

        return {
            "current": pair(self._current),
            "start_left": self._start_left,
            "start_needed": self._start_needed,
            "start_done": self._start_done,
            "start_best": pair(self._start_best),
            "queue": [a.to_dict() for a in self._queue],
            "expanded": self._expanded,
            "outstanding": sorted(self._outstanding),
            "seen": sorted(self._seen),
            "restarts": self.restarts,
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        def pair(p: Any) -> tuple[Arch, float] | None:
            return None if p is None else (Arch(p[0]), float(p[1]))

        self._current = pair(state["current"])
        self._start_left = int(state["start_left"])
        self._start_needed = int(state["start_needed"])
        self._start_done = int(state["start_done"])
        self._start_best = pair(state["start_best"])
        self._queue = [Arch(a) for a in state["queue"]]
        self._expanded = bool(state["expanded"])
        self._outstanding = set(state["outstanding"])
        self._seen = set(state["seen"])
        self.restarts = int(state["restarts"])

    def __repr__(self) -> str:
        return f"LocalSearch(n_initial={self.n_initial})"
