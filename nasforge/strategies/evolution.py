"""Regularized (ageing) evolution, Real et al. 2019, "Regularized Evolution for Image Classifier Architecture
Search" (AAAI): tournament selection over a population from which the *oldest* member dies."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from nasforge.errors import ConfigError
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, check_int
from nasforge.trial import Proposal, TrialRecord


class RegularizedEvolution(BaseStrategy):
    """Ageing evolution.

    The first `population_size` proposals are random. After that each proposal mutates the best of
    `sample_size` population members drawn at random (a tournament); each finished trial joins the
    population and, beyond `population_size`, pushes out the oldest member, whatever its fitness.
    Asynchronous: while the population is still empty every ask is random. Failed trials never join.

    >>> from nasforge.strategies import RegularizedEvolution
    >>> strategy = RegularizedEvolution(population_size=20, sample_size=5)
    """

    accepts_history = True

    def __init__(self, population_size: int = 20, sample_size: int = 5, mutations: int = 1, dedup: bool = True):
        self.population_size = check_int("RegularizedEvolution", "population_size", population_size, 2)
        self.sample_size = check_int("RegularizedEvolution", "sample_size", sample_size, 1)
        if sample_size > population_size:
            raise ConfigError(
                f"`sample_size` of RegularizedEvolution must be <= population_size ({population_size}), "
                f"but got {sample_size}."
            )
        self.mutations = check_int("RegularizedEvolution", "mutations", mutations, 1)
        self.dedup = bool(dedup)
        self._population: deque[tuple[Arch, float]] = deque()
        self._n_asked = 0
        self._seen: set[str] = set()

    def _ask(self) -> Proposal:
        self._n_asked += 1
        if self._n_asked <= self.population_size or not self._population:
            arch = self._fresh(lambda rng: self.sample_random())
            return Proposal(arch, info={"origin": "random"})
        members = list(self._population)
        picks = self.rng.choice(len(members), size=min(self.sample_size, len(members)), replace=False)
        parent, _ = max((members[int(i)] for i in picks), key=lambda m: m[1])
        child = self._fresh(lambda rng: self.space.mutate(parent, rng, self.mutations))
        return Proposal(child, info={"origin": "mutation", "parent": parent.id})

    def _fresh(self, make: Any) -> Arch:
        """Draw from `make(rng)`, retrying a few times for an arch not proposed before."""
        arch: Arch = make(self.rng)
        if self.dedup:
            for _ in range(20):
                if arch.id not in self._seen:
                    break
                arch = make(self.rng)
            self._seen.add(arch.id)
        return arch

    def _tell(self, record: TrialRecord) -> None:
        score = self.score(record)
        if score is None:
            return
        self._population.append((record.arch, score))
        while len(self._population) > self.population_size:
            self._population.popleft()

    def _warm_start(self, records: list[TrialRecord]) -> None:
        """The best `population_size` earlier results become the population (the best youngest) and mutation
        starts at once; every earlier arch counts as seen."""
        scored = [(r, s) for r in records if (s := self.score(r)) is not None]
        best = sorted(scored, key=lambda p: p[1])[-self.population_size :]
        for record, _ in best:
            self._tell(record)
        self._seen.update(r.arch.id for r in records)
        self._n_asked += len(best)  # a full population: no random members left to draw

    @property
    def population(self) -> list[tuple[Arch, float]]:
        return list(self._population)

    def _state_dict(self) -> dict[str, Any]:
        return {
            "population": [[a.to_dict(), s] for a, s in self._population],
            "n_asked": self._n_asked,
            "seen": sorted(self._seen),
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._population = deque((Arch(a), float(s)) for a, s in state["population"])
        self._n_asked = int(state["n_asked"])
        self._seen = set(state.get("seen", []))

    def __repr__(self) -> str:
        return (
            f"RegularizedEvolution(population_size={self.population_size}, sample_size={self.sample_size}, "
            f"mutations={self.mutations})"
        )
