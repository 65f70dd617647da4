"""Multi-objective regularized (ageing) evolution: the tournament of Real et al. 2019 ("Regularized Evolution
for Image Classifier Architecture Search", AAAI) judged by NSGA-II's non-domination rank and crowding distance
(Deb et al. 2002) instead of a single score."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from nasforge.errors import ConfigError
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, check_int
from nasforge.strategies.nsga2 import Member, draw_unseen, rank_and_crowding, scored, select_best
from nasforge.trial import Proposal, TrialRecord


class MORegularizedEvolution(BaseStrategy):
    """Ageing evolution with a Pareto tournament.

    The first `population_size` proposals are random. After that each proposal mutates the winner of
    `sample_size` population members drawn at random: the one with the lowest non-domination rank within the
    *whole* population, ties broken by the larger crowding distance within its front (cheap and free of a
    reference point, unlike a hypervolume contribution), remaining ties by the draw order, which is random.
    Each finished trial joins the population and, beyond `population_size`, pushes out the oldest member,
    whatever its rank. Asynchronous: while the population is still empty every ask is random. Failed trials
    and synthetic records never join. With one objective the rank is the score order.

    >>> from nasforge.strategies.mo_evolution import MORegularizedEvolution
    >>> strategy = MORegularizedEvolution(population_size=20, sample_size=5)
    """

    accepts_history = True
    multi_objective = True

    def __init__(self, population_size: int = 20, sample_size: int = 5, mutations: int = 1, dedup: bool = True):
        owner = "MORegularizedEvolution"
        self.population_size = check_int(owner, "population_size", population_size, 2)
        self.sample_size = check_int(owner, "sample_size", sample_size, 1)
        if sample_size > population_size:
            raise ConfigError(
                f"`sample_size` of {owner} must be <= population_size ({population_size}), but got {sample_size}."
            )
        self.mutations = check_int(owner, "mutations", mutations, 1)
        self.dedup = bool(dedup)
        self._population: deque[Member] = deque()
        self._n_asked = 0
        self._seen: set[str] = set()

    def _ask(self) -> Proposal:
        self._n_asked += 1
        if self._n_asked <= self.population_size or not self._population:
            return Proposal(self._fresh(self.sample_random), info={"origin": "random"})
        members = list(self._population)
        rank, crowd = rank_and_crowding(np.array([s for _, s in members]))
        picks = self.rng.choice(len(members), size=min(self.sample_size, len(members)), replace=False)
        winner = int(min(picks, key=lambda i: (rank[i], -crowd[i])))  # min keeps the first drawn of equals
        parent = members[winner][0]
        child = self._fresh(lambda: self.space.mutate(parent, self.rng, self.mutations))
        return Proposal(child, info={"origin": "mutation", "parent": parent.id, "parent_rank": int(rank[winner])})

    def _fresh(self, make: Callable[[], Arch]) -> Arch:
        return draw_unseen(make, self._seen if self.dedup else None)

    def _tell(self, record: TrialRecord) -> None:
        scores = scored(self, record)
        if scores is None:
            return
        self._population.append((record.arch, scores))
        while len(self._population) > self.population_size:
            self._population.popleft()

    def _warm_start(self, records: list[TrialRecord]) -> None:
        """The best `population_size` earlier results by rank, then crowding, become the population (the best
        youngest) and mutation starts at once; every earlier arch counts as seen."""
        earlier = [(r.arch, s) for r in records if (s := scored(self, r)) is not None]
        best = select_best(earlier, self.population_size)
        self._population.extend(reversed(best))
        while len(self._population) > self.population_size:
            self._population.popleft()
        self._seen.update(r.arch.id for r in records)
        self._n_asked += len(best)  # a full population: no random members left to draw

    @property
    def population(self) -> list[tuple[Arch, np.ndarray]]:
        """The members, oldest first, each with its scores (larger is better in every column)."""
        return list(self._population)

    def _state_dict(self) -> dict[str, Any]:
        return {
            "population": [[a.to_dict(), s.tolist()] for a, s in self._population],
            "n_asked": self._n_asked,
            "seen": sorted(self._seen),
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._population = deque((Arch(a), np.array(s, dtype=float)) for a, s in state["population"])
        self._n_asked = int(state["n_asked"])
        self._seen = set(state["seen"])

    def __repr__(self) -> str:
        return (
            f"MORegularizedEvolution(population_size={self.population_size}, sample_size={self.sample_size}, "
            f"mutations={self.mutations})"
        )
