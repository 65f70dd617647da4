"""BOHB, Falkner et al. 2018, "BOHB: Robust and Efficient Hyperparameter Optimization at Scale" (ICML):
Hyperband whose new archs come from a TPE-like density model instead of uniform sampling."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.errors import ConfigError
from nasforge.space import Arch
from nasforge.space.algebra import complete, to_indices
from nasforge.strategies.base import check_int
from nasforge.strategies.multifidelity import Hyperband, _Pending


class BOHB(Hyperband):
    """Hyperband brackets; each new arch is drawn from a model of the results at the largest budget that has
    at least `min_points` of them (default: the number of decisions + 1).

    The model splits those results into the top `top_fraction` ("good") and the rest ("bad"), fits a
    categorical kernel density over the decisions' value indices (an inactive decision counts as one more
    value) to each, draws `n_samples` candidates around the good archs (each decision keeps the good arch's
    value with probability 1 - bandwidth, the bandwidth widened by `bandwidth_factor`, else takes another
    value) and proposes the unseen candidate that maximises l(x) / g(x). A `random_fraction` of new archs,
    and all of them before the first model, are uniform. Failed trials count as the worst results.

    The kernel of a decision with C values, fit on n archs, keeps the value with probability 1 - bw and
    spreads bw = (C - 1) / (n + C) over the others: one uniform pseudo-observation, as in Optuna's TPE, so
    densities stay positive and sharpen as results accumulate.

    >>> from nasforge.strategies import BOHB
    >>> strategy = BOHB(budgets=(12, 200), eta=3)
    """

    def __init__(
        self,
        budgets: Sequence[float] = (12, 200),
        eta: int | None = None,
        min_points: int | None = None,
        top_fraction: float = 0.15,
        n_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3,
        *,
        resume: bool = False,
    ) -> None:
        super().__init__(budgets, eta, resume=resume)
        self.min_points = None if min_points is None else check_int("BOHB", "min_points", min_points, 2)
        self.top_fraction = _check_fraction("top_fraction", top_fraction, closed=False)
        self.n_samples = check_int("BOHB", "n_samples", n_samples, 1)
        self.random_fraction = _check_fraction("random_fraction", random_fraction, closed=True)
        if (
            not isinstance(bandwidth_factor, (int, float))
            or isinstance(bandwidth_factor, bool)
            or not math.isfinite(bandwidth_factor)
            or bandwidth_factor <= 0
        ):
            raise ConfigError(f"`bandwidth_factor` of BOHB must be a number > 0, but got {bandwidth_factor!r}.")
        self.bandwidth_factor = float(bandwidth_factor)
        self._observations: list[list[tuple[Arch, float | None]]] = [[] for _ in self.budgets]

    def _setup(self) -> None:
        self._min_points = self.min_points if self.min_points is not None else len(self.decisions) + 1
        sizes = [len(d.values) for d in self.decisions]
        # categories per decision in the model: its values, plus "inactive" for a conditional one
        self._n_categories = np.array([c + int(d.conditional) for c, d in zip(sizes, self.decisions)], dtype=float)
        self._n_values = np.array(sizes, dtype=float)

    def model_rung(self) -> int | None:
        """The rung whose results the model is fit on: the largest with at least `min_points` results."""
        for r in range(self.max_rung, -1, -1):
            if len(self._observations[r]) >= self._min_points:
                return r
        return None

    def _new_arch(self, rung: int) -> tuple[Arch, str]:
        model_rung = self.model_rung()
        if model_rung is None or self.rng.random() < self.random_fraction:
            return self._random_arch(), "random"
        arch = self._model_arch(self._observations[model_rung])
        return (self._random_arch(), "random") if arch is None else (arch, "model")

    def _model_arch(self, observations: Sequence[tuple[Arch, float | None]]) -> Arch | None:
        """The best unseen of `n_samples` candidates by l(x) / g(x), or None if every candidate was seen."""
        scores = np.array([-np.inf if s is None else s for _, s in observations])
        order = np.argsort(-scores, kind="stable")
        n_good = min(max(1, math.ceil(self.top_fraction * len(observations))), len(observations) - 1)
        data = np.array([to_indices(self.decisions, a) for a, _ in observations], dtype=np.int64)
        good, bad = data[order[:n_good]], data[order[n_good:]]
        bw_good, bw_bad = self._bandwidth(len(good)), self._bandwidth(len(bad))
        # widened for sampling, at most uniform over the values
        spread = np.minimum(self.bandwidth_factor * bw_good, (self._n_values - 1) / self._n_values)
        candidates = [
            self._sample_around(good[int(self.rng.integers(len(good)))], spread) for _ in range(self.n_samples)
        ]
        fresh = [a for a in candidates if a.id not in self._seen]
        if not fresh:
            return None
        x = np.array([to_indices(self.decisions, a) for a in fresh], dtype=np.int64)
        ratio = self._log_density(x, good, bw_good) - self._log_density(x, bad, bw_bad)
        return fresh[int(np.argmax(ratio))]

    def _bandwidth(self, n: int) -> np.ndarray:
        return (self._n_categories - 1) / (n + self._n_categories)

    def _sample_around(self, datum: np.ndarray, spread: np.ndarray) -> Arch:
        values: dict[str, Any] = {}
        for d, index, p in zip(self.decisions, datum, spread):
            if index < 0:
                continue  # inactive in the datum: `complete` samples it if it becomes active
            if self.rng.random() < p:
                other = int(self.rng.integers(len(d.values) - 1))
                index = other if other < index else other + 1
            values[d.label] = d.values[int(index)]
        return complete(self.decisions, values, self.rng)

    def _log_density(self, x: np.ndarray, data: np.ndarray, bw: np.ndarray) -> np.ndarray:
        """log of the mean over `data` of the product over decisions of the categorical kernel, per row of x."""
        same = np.log1p(-bw)
        other = np.log(np.where(self._n_categories > 1, bw / np.maximum(self._n_categories - 1, 1), 1.0))
        log_k = np.where(x[:, None, :] == data[None, :, :], same, other).sum(axis=2)
        top = log_k.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(log_k - top).mean(axis=1, keepdims=True))).ravel()

    def _on_result(self, pending: _Pending, score: float | None) -> None:
        self._observations[pending.rung].append((pending.arch, score))
        super()._on_result(pending, score)

    def _state_dict(self) -> dict[str, Any]:
        observations = [[[a.to_dict(), s] for a, s in rung] for rung in self._observations]
        return {**super()._state_dict(), "observations": observations}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        super()._load_state_dict(state)
        self._observations = [
            [(Arch(a), None if s is None else float(s)) for a, s in rung] for rung in state["observations"]
        ]

    def __repr__(self) -> str:
        return (
            f"BOHB(budgets={self.budgets!r}, eta={self.eta}, min_points={self.min_points}, "
            f"top_fraction={self.top_fraction}, n_samples={self.n_samples}, random_fraction={self.random_fraction:.3g}, "
            f"bandwidth_factor={self.bandwidth_factor:g}{', resume=True' if self.resumes else ''})"
        )


def _check_fraction(name: str, value: Any, closed: bool) -> float:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    inside = number and (0 <= value <= 1 if closed else 0 < value < 1)
    if not inside:
        bounds = "in [0, 1]" if closed else "in (0, 1)"
        raise ConfigError(f"`{name}` of BOHB must be a number {bounds}, but got {value!r}.")
    return float(value)
