"""`MOASHA`: asynchronous successive halving that promotes by Pareto rank instead of by one score.

Schmucker, Donini, Zafar, Salinas & Archambeau 2021, "Multi-objective Asynchronous Successive Halving"
(arXiv:2106.12639). A rung's results are ordered as NSGA-II orders a population (Deb et al. 2002): by
non-dominated front, and within a front by crowding distance, largest first, so that the promoted archs
spread along the front rather than crowd at one end of it. With one objective the fronts are the distinct
scores, best first, and the order is `ASHA`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.multiobjective.pareto import crowding_distance, non_dominated_sort
from nasforge.strategies.multifidelity import ASHA
from nasforge.trial import TrialRecord


class MOASHA(ASHA):
    """ASHA whose promotions go to the top 1/eta of each rung by non-dominated sorting of the objective
    vectors, ties within a front broken by crowding distance, then by order of arrival (Schmucker et al.
    2021). A trial missing any objective counts as failed and is never promoted.

    >>> from nasforge.strategies.mo_asha import MOASHA
    >>> strategy = MOASHA(budgets=(12, 200), eta=3)
    """

    multi_objective = True

    def __init__(self, budgets: Sequence[float] = (12, 200), eta: int | None = None, *, resume: bool = False) -> None:
        super().__init__(budgets, eta, resume=resume)
        # every objective of each result of `_rungs` (None: failed), in the same positions
        self._vectors: list[list[list[float] | None]] = [[] for _ in self.budgets]
        self._order: list[tuple[int, list[int]]] = [(0, []) for _ in self.budgets]  # (rung size, `_rank`)

    def _tell(self, record: TrialRecord) -> None:
        pending = self._match(record)
        if pending is None:  # not proposed by us, or told twice
            return
        vector = self.scores(record)
        self._vectors[pending.rung].append(None if vector is None else [float(v) for v in vector])
        self._on_result(pending, None if vector is None else float(vector[0]))

    def _rank(self, r: int) -> list[int]:
        vectors = self._vectors[r]
        size, order = self._order[r]
        if size == len(vectors):  # asked again with no new result in this rung
            return order
        scored = [i for i, v in enumerate(vectors) if v is not None]
        order = []
        if scored:
            points = np.array([vectors[i] for i in scored], dtype=np.float64)
            for front in non_dominated_sort(points):
                crowd = crowding_distance(points[front])
                order += [scored[int(front[k])] for k in np.argsort(-crowd, kind="stable")]
        order += [i for i, v in enumerate(vectors) if v is None]
        self._order[r] = (len(vectors), order)
        return order

    def _state_dict(self) -> dict[str, Any]:
        return {
            **super()._state_dict(),
            "vectors": [[None if v is None else list(v) for v in rung] for rung in self._vectors],
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        super()._load_state_dict(state)
        self._vectors = [[None if v is None else [float(x) for x in v] for v in rung] for rung in state["vectors"]]
        self._order = [(0, []) for _ in self.budgets]
