"""NSGA-II, Deb et al. 2002, "A fast and elitist multiobjective genetic algorithm: NSGA-II" (IEEE TEC):
generations of offspring bred from parents chosen by (non-domination rank, crowding distance), and an elitist
selection of the next parents from parents and offspring together."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.errors import ArchError, ConfigError
from nasforge.multiobjective.pareto import crowding_distance, non_dominated_sort
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, check_int
from nasforge.trial import Proposal, TrialRecord

Member = tuple[Arch, np.ndarray]  # an arch and its scores, larger is better in every column


def rank_and_crowding(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's front number (0: non-dominated) and its crowding distance within that front."""
    rank, crowd = np.zeros(len(scores), dtype=int), np.zeros(len(scores))
    for k, front in enumerate(non_dominated_sort(scores)):
        rank[front], crowd[front] = k, crowding_distance(scores[front])
    return rank, crowd


def select_best(members: Sequence[Member], n: int) -> list[Member]:
    """The best `n` members, best first: whole fronts while they fit, then the most isolated (largest crowding
    distance, computed within that front) of the front that does not fit; ties keep the given order."""
    if not members:
        return []
    scores = np.array([s for _, s in members])
    chosen: list[int] = []
    for front in non_dominated_sort(scores):
        if len(chosen) >= n:
            break
        order = np.argsort(-crowding_distance(scores[front]), kind="stable")
        chosen.extend(int(i) for i in front[order][: n - len(chosen)])
    return [members[i] for i in chosen]


def draw_unseen(make: Callable[[], Arch], seen: set[str] | None) -> Arch:
    """Draw from `make()`, retrying a few times for an arch not in `seen` (and add it); None: no retries."""
    arch = make()
    if seen is not None:
        for _ in range(20):
            if arch.id not in seen:
                break
            arch = make()
        seen.add(arch.id)
    return arch


def scored(strategy: BaseStrategy, record: TrialRecord) -> np.ndarray | None:
    """The record's score vector, or None for failed trials (a constraint's rejection among them) and missing
    metrics. A middleware's answer from an earlier result (`Deduplicate`) counts like the result itself."""
    return strategy.scores(record)


class NSGA2(BaseStrategy):
    """NSGA-II over the decisions of a space.

    Generation 0 is `population_size` random archs. Each later generation breeds `population_size` offspring:
    two parents, each the winner of a `tournament` of distinct parents drawn at random (lower rank, then larger
    crowding distance, then the first drawn), are mixed by uniform crossover over their decisions with
    probability `crossover` (a child the space rejects, possible in a conditional space, falls back to the first
    parent), then mutated in `mutations` decisions. When every offspring of a generation is told, the next
    parents are the best `population_size` of parents and offspring (`select_best`; one copy of each arch).

    Asynchronous: offspring are asked one by one; once a generation is all asked, `ask` returns None until its
    last results arrive (the next generation needs them), never while nothing is outstanding. Failed trials and
    synthetic records end their ask but never become parents. With one objective the rank is the score order.

    >>> from nasforge.strategies.nsga2 import NSGA2
    >>> strategy = NSGA2(population_size=20, crossover=0.5)
    """

    accepts_history = True
    multi_objective = True

    def __init__(
        self,
        population_size: int = 20,
        mutations: int = 1,
        crossover: float = 0.5,
        tournament: int = 2,
        dedup: bool = True,
    ):
        self.population_size = check_int("NSGA2", "population_size", population_size, 2)
        self.mutations = check_int("NSGA2", "mutations", mutations, 1)
        ok = isinstance(crossover, (int, float)) and not isinstance(crossover, bool) and 0.0 <= crossover <= 1.0
        if not ok:
            raise ConfigError(f"`crossover` of NSGA2 must be a probability in [0, 1], but got {crossover!r}.")
        self.crossover = float(crossover)
        self.tournament = check_int("NSGA2", "tournament", tournament, 1)
        if tournament > population_size:
            raise ConfigError(
                f"`tournament` of NSGA2 must be <= population_size ({population_size}), but got {tournament}."
            )
        self.dedup = bool(dedup)
        self._parents: list[Member] = []
        self._offspring: list[Member] = []
        self._outstanding: Counter[str] = Counter()  # arch id -> asks of this generation not told yet
        self._asked = 0  # asks of this generation
        self._generation = 0
        self._seen: set[str] = set()

    def _ask(self) -> Proposal | None:
        self._advance()
        if self._asked >= self.population_size:
            return None  # the generation waits for its last results (`_advance` ran: some are outstanding)
        self._asked += 1
        info: dict[str, Any] = {"generation": self._generation}
        if not self._parents:
            arch = self._fresh(self.sample_random)
            info["origin"] = "random"
        else:
            rank, crowd = rank_and_crowding(np.array([s for _, s in self._parents]))
            pair: list[str] = []

            def breed() -> Arch:
                a, b = self._parents[self._select(rank, crowd)][0], self._parents[self._select(rank, crowd)][0]
                pair[:] = [a.id, b.id]
                child = self._cross(a, b) if self.rng.random() < self.crossover else a
                return self.space.mutate(child, self.rng, self.mutations)

            arch = self._fresh(breed)
            info.update(origin="offspring", parents=pair, parent=pair[0])  # parent: weight inheritance
        self._outstanding[arch.id] += 1
        return Proposal(arch, info=info)

    def _select(self, rank: np.ndarray, crowd: np.ndarray) -> int:
        picks = self.rng.choice(len(rank), size=min(self.tournament, len(rank)), replace=False)
        return int(min(picks, key=lambda i: (rank[i], -crowd[i])))  # min keeps the first drawn of equals

    def _cross(self, a: Arch, b: Arch) -> Arch:
        """Uniform crossover: each decision's value from either parent (the one that has it, if only one)."""
        labels = sorted(set(a) | set(b))
        take_a = self.rng.random(len(labels)) < 0.5
        values = {k: a[k] if (t and k in a) or k not in b else b[k] for k, t in zip(labels, take_a, strict=True)}
        try:
            return self.space.validate(values)
        except ArchError:
            return a  # a conditional space: a mix of two branches may lack a value it needs

    def _fresh(self, make: Callable[[], Arch]) -> Arch:
        return draw_unseen(make, self._seen if self.dedup else None)

    def _tell(self, record: TrialRecord) -> None:
        if self._outstanding[record.arch.id] > 0:
            self._outstanding[record.arch.id] -= 1
        self._outstanding += Counter()  # drops zero counts
        scores = scored(self, record)
        if scores is not None:  # a result this generation did not ask for still counts as an offspring
            self._offspring.append((record.arch, scores))
        self._advance()

    def _advance(self) -> None:
        """Once the generation is all asked and told, select the next parents and start the next one."""
        if self._asked < self.population_size or self._outstanding:
            return
        unique: dict[str, Member] = {}
        for arch, scores in self._parents + self._offspring:
            unique.setdefault(arch.id, (arch, scores))
        self._parents = select_best(list(unique.values()), self.population_size)
        self._offspring, self._asked = [], 0
        self._generation += 1

    def _warm_start(self, records: list[TrialRecord]) -> None:
        """The best `population_size` earlier results (by rank, then crowding) join the parents, and breeding
        starts at once; every earlier arch counts as seen."""
        earlier = [(r.arch, s) for r in records if (s := scored(self, r)) is not None]
        self._parents = select_best(self._parents + earlier, self.population_size)
        self._seen.update(r.arch.id for r in records)

    @property
    def population(self) -> list[tuple[Arch, np.ndarray]]:
        """The current parents, best first, each with its scores (larger is better in every column)."""
        return list(self._parents)

    def _state_dict(self) -> dict[str, Any]:
        return {
            "parents": [[a.to_dict(), s.tolist()] for a, s in self._parents],
            "offspring": [[a.to_dict(), s.tolist()] for a, s in self._offspring],
            "outstanding": dict(sorted(self._outstanding.items())),
            "asked": self._asked,
            "generation": self._generation,
            "seen": sorted(self._seen),
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._parents = [(Arch(a), np.array(s, dtype=float)) for a, s in state["parents"]]
        self._offspring = [(Arch(a), np.array(s, dtype=float)) for a, s in state["offspring"]]
        self._outstanding = Counter({k: int(v) for k, v in state["outstanding"].items()})
        self._asked = int(state["asked"])
        self._generation = int(state["generation"])
        self._seen = set(state["seen"])

    def __repr__(self) -> str:
        return (
            f"NSGA2(population_size={self.population_size}, mutations={self.mutations}, "
            f"crossover={self.crossover}, tournament={self.tournament})"
        )
