"""`ParEGO`: Bayesian optimisation of several objectives through a fresh random scalarisation at each ask.

Knowles 2006, "ParEGO: A hybrid algorithm with on-line landscape approximation for expensive multiobjective
optimization problems" (IEEE TEVC); Paria, Kandasamy & Poczos 2019, "A Flexible Framework for
Multi-Objective Bayesian Optimization using Random Scalarizations" (UAI), who show that drawing the weights
anew each step covers the whole Pareto front.

Each ask after the initial design scales every objective to [0, 1] by the range observed so far, draws weights
uniformly from the simplex (`simplex_weights`), folds the objectives into one with the augmented Tchebycheff
function (`chebyshev`, ideal point all ones) and proposes as `BayesianOptimization` does on that single target.
With one objective it is `BayesianOptimization`, proposal for proposal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nasforge.errors import ConfigError
from nasforge.estimation.scorer import ProxyScorer
from nasforge.multiobjective.pareto import chebyshev, simplex_weights
from nasforge.strategies.bayesian import BayesianOptimization
from nasforge.trial import TrialRecord


class ParEGO(BayesianOptimization):
    """Random augmented-Tchebycheff scalarisations of the objectives, each fitted and acquired by
    `BayesianOptimization` (Knowles 2006; Paria et al. 2019).

    Every option of `BayesianOptimization` applies; `rho` is the weight of the sum term of the Tchebycheff
    function, which keeps its maximiser off weakly dominated points. A trial counts as an observation only
    when every objective is scored.

    >>> from nasforge.strategies.parego import ParEGO
    >>> strategy = ParEGO(n_initial=10, rho=0.05)
    """

    multi_objective = True

    def __init__(
        self,
        n_initial: int = 10,
        predictor: str = "gp",
        acquisition: str = "its",
        warp: str = "rank",
        candidates: str = "auto",
        n_candidates: int = 200,
        n_parents: int = 10,
        max_pool: int = 20_000,
        beta: float = 2.0,
        proxy_features: str | ProxyScorer | None = None,
        rho: float = 0.05,
    ) -> None:
        super().__init__(
            n_initial, predictor, acquisition, warp, candidates, n_candidates, n_parents, max_pool, beta, proxy_features
        )
        if not isinstance(rho, (int, float)) or isinstance(rho, bool) or not 0 <= rho < math.inf:
            raise ConfigError(f"`rho` of {type(self).__name__} must be a finite number >= 0, but got {rho!r}.")
        self.rho = float(rho)
        self._vectors: list[list[float]] = []  # every objective of each observation, aligned with `_observed`

    def score(self, record: TrialRecord) -> float | None:
        """The primary score, or None unless every objective is scored: an observation needs its whole vector."""
        vector = self.scores(record)
        return None if vector is None else float(vector[0])

    def _tell(self, record: TrialRecord) -> None:
        n = len(self._observed)
        super()._tell(record)
        if len(self._observed) > n:  # observed: `score` above made sure the vector is there
            vector = self.scores(record)
            assert vector is not None
            self._vectors.append([float(v) for v in vector])

    def _targets(self) -> np.ndarray:
        scores = np.array(self._vectors, dtype=np.float64)
        if scores.shape[1] == 1:
            return scores[:, 0]  # nothing to scalarise (and no weights drawn): plain Bayesian optimisation
        low, span = scores.min(axis=0), np.ptp(scores, axis=0)
        scaled = (scores - low) / np.where(span > 0, span, 1.0)  # an objective that never varied stays at 0
        weights = simplex_weights(scores.shape[1], self.rng)
        return chebyshev(scaled, weights, ideal=np.ones(scores.shape[1]), rho=self.rho)

    def _state_dict(self) -> dict[str, Any]:
        return {**super()._state_dict(), "vectors": [list(row) for row in self._vectors]}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        super()._load_state_dict(state)
        self._vectors = [[float(v) for v in row] for row in state["vectors"]]

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", rho={self.rho})"
