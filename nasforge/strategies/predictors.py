"""Performance predictors for predictor-based strategies: map arch encodings to a predicted score with an
uncertainty. Plain numpy: the training sets are small (tens to hundreds of archs), where numpy beats torch's
per-operation overhead by an order of magnitude.

- `GaussianProcess`: exact GP regression with a squared-exponential kernel on the encoding (on one-hot
  encodings the squared distance is twice the number of differing decisions); the length scale and noise
  are chosen by marginal likelihood over a small grid at every fit.
- `MLPEnsemble`: BANANAS's predictor (White, Neiswanger, Savani, AAAI 2021), an ensemble of small ReLU
  networks from different initialisations; the spread of their predictions is the uncertainty.

Both take targets as given; strategies standardise or warp them first (see `warp`).
"""

from __future__ import annotations

import abc

import numpy as np
from scipy.linalg import solve_triangular

from nasforge.errors import ConfigError
from nasforge.registry import Registry
from nasforge.strategies.base import check_int


class Predictor(abc.ABC):
    """`fit(X, y)` then `predict(X) -> (mean, std)`; X is (n, d) float, y is (n,)."""

    @abc.abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Predictor: ...

    @abc.abstractmethod
    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def warp(y: np.ndarray, how: str) -> np.ndarray:
    """Standardised targets after a monotone warp that keeps the predictor's attention on the top.

    `rank`: ranks scaled to [0, 1] (robust to a few catastrophic archs, such as NAS-Bench-201's 10 %-accuracy
    cells, that would otherwise dominate a squared loss); `clip`: values below the median raised to it;
    `none`: as given.
    """
    y = np.asarray(y, dtype=np.float64)
    if how == "rank":
        y = np.argsort(np.argsort(y, kind="stable"), kind="stable") / max(len(y) - 1, 1)
    elif how == "clip":
        y = np.maximum(y, np.median(y))
    elif how != "none":
        raise ConfigError(f"`warp` must be one of ['rank', 'clip', 'none'], but got {how!r}.")
    sd = y.std()
    return (y - y.mean()) / (sd if sd > 0 else 1.0)


def _sq_dists(A: np.ndarray, B: np.ndarray, a2: np.ndarray | None = None) -> np.ndarray:
    a2 = (A * A).sum(1) if a2 is None else a2
    return np.maximum(a2[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T, 0.0)


class GaussianProcess(Predictor):
    """Exact GP with unit signal variance (targets standardised); hyperparameters by marginal likelihood."""

    def __init__(
        self,
        length_scales: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0),
        noises: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 0.3),
    ) -> None:
        if not length_scales or any(float(v) <= 0 for v in length_scales):
            raise ConfigError(
                f"`length_scales` of GaussianProcess must be positive numbers, but got {length_scales!r}."
            )
        if not noises or any(float(v) <= 0 for v in noises):
            raise ConfigError(f"`noises` of GaussianProcess must be positive numbers, but got {noises!r}.")
        self.length_scales = tuple(float(v) for v in length_scales)
        self.noises = tuple(float(v) for v in noises)

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> GaussianProcess:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        D = _sq_dists(X, X)
        best: tuple[float, float, np.ndarray, np.ndarray] | None = None
        for ls in self.length_scales:
            K0 = np.exp(-D / (2.0 * ls * ls))
            for noise in self.noises:
                try:
                    L = np.linalg.cholesky(K0 + noise * np.eye(len(X)))
                except np.linalg.LinAlgError:
                    continue
                alpha = solve_triangular(
                    L.T, solve_triangular(L, y, lower=True, check_finite=False), check_finite=False
                )
                loglik = -0.5 * float(y @ alpha) - float(np.log(np.diag(L)).sum())
                if best is None or loglik > best[0]:
                    best = (loglik, ls, L, alpha)
        if best is None:
            raise ConfigError("The GaussianProcess could not factorise its kernel for any noise level given.")
        _, self.length_scale, self._L, self._alpha = best
        self._X = X
        self._x2 = (X * X).sum(1)
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Ks = np.exp(-_sq_dists(self._X, np.asarray(X, dtype=np.float64), self._x2) / (2.0 * self.length_scale**2))
        mean = Ks.T @ self._alpha
        V = solve_triangular(self._L, Ks, lower=True, check_finite=False)
        var = np.maximum(1.0 - (V * V).sum(0), 1e-12)
        return mean, np.sqrt(var)


class _MLP:
    """Two hidden ReLU layers, trained full-batch with Adam on the squared error."""

    def __init__(self, d: int, hidden: int, rng: np.random.Generator) -> None:
        self.params = [
            rng.normal(0.0, np.sqrt(2.0 / d), (d, hidden)),
            rng.normal(0.0, np.sqrt(2.0 / hidden), (hidden, hidden)),
            rng.normal(0.0, np.sqrt(1.0 / hidden), (hidden, 1)),
            np.zeros(hidden),
            np.zeros(hidden),
            np.zeros(1),
        ]

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        W0, W1, W2, b0, b1, b2 = self.params
        a1 = np.maximum(X @ W0 + b0, 0.0)
        a2 = np.maximum(a1 @ W1 + b1, 0.0)
        return a1, a2, (a2 @ W2 + b2)[:, 0]

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int, lr: float) -> None:
        _, W1, W2, *_ = self.params
        m = [np.zeros_like(p) for p in self.params]
        v = [np.zeros_like(p) for p in self.params]
        for t in range(1, epochs + 1):
            a1, a2, out = self._forward(X)
            g = (2.0 * (out - y) / len(X))[:, None]
            d2 = (g @ W2.T) * (a2 > 0)
            d1 = (d2 @ W1.T) * (a1 > 0)
            grads = [X.T @ d1, a1.T @ d2, a2.T @ g, d1.sum(0), d2.sum(0), g.sum(0)]
            for i, (p, gr) in enumerate(zip(self.params, grads)):
                m[i] = 0.9 * m[i] + 0.1 * gr
                v[i] = 0.999 * v[i] + 0.001 * gr * gr
                p -= lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X)[2]


class MLPEnsemble(Predictor):
    """BANANAS's ensemble: `size` networks of two `hidden`-unit layers, `epochs` of full-batch Adam each."""

    def __init__(self, size: int = 5, hidden: int = 32, epochs: int = 200, lr: float = 0.01) -> None:
        self.size = check_int("MLPEnsemble", "size", size, 2)
        self.hidden = check_int("MLPEnsemble", "hidden", hidden, 1)
        self.epochs = check_int("MLPEnsemble", "epochs", epochs, 1)
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"`lr` of MLPEnsemble must be a positive number, but got {lr!r}.")
        self.lr = float(lr)
        self._nets: list[_MLP] = []

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> MLPEnsemble:
        rng = rng if rng is not None else np.random.default_rng(0)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self._nets = []
        for _ in range(self.size):
            net = _MLP(X.shape[1], self.hidden, rng)
            net.fit(X, y, self.epochs, self.lr)
            self._nets.append(net)
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        P = np.stack([net.predict(np.asarray(X, dtype=np.float64)) for net in self._nets])
        return P.mean(0), P.std(0)


#: the `predictor` names of BayesianOptimization, BANANAS and ParEGO
PREDICTORS: Registry[Predictor] = Registry("predictor")
PREDICTORS.add("gp", GaussianProcess)
PREDICTORS.add("ensemble", MLPEnsemble)
