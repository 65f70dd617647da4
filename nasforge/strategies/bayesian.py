"""Predictor-based Bayesian optimisation over any space: fit a predictor with uncertainty on the archs
evaluated so far, score candidate archs with an acquisition function, propose the best candidate.

- `BayesianOptimization` (registry name `bo`, the default strategy of `nasforge run`): a Gaussian process
  on the one-hot encoding, rank-warped targets, independent Thompson sampling, and candidates drawn from
  the whole space when it is small enough to enumerate (NAS-Bench-201's 15,625 cells are), else from
  mutations of the best archs so far plus random archs.
- `BANANAS` (White, Neiswanger, Savani, AAAI 2021): the same loop with an ensemble of small networks as the
  predictor, independent Thompson sampling, and candidates from mutations of the best archs.

With `proxy_features` (a proxy name or a `ProxyScorer`), each arch's encoding gets one more feature: its
zero-cost proxy score (log-scaled, standardised over the archs in the fit), so the predictor can lean on
the proxy where few archs have been evaluated (White et al. 2021, "How Powerful are Performance
Predictors in Neural Architecture Search?", which finds proxies most useful as extra features).

Both skip candidates equal to an arch already evaluated or running, by the space's `canonical_key` when it
has one (NAS-Bench-201's isomorphism classes), else by arch id. Pending proposals are excluded, so several
asks may be outstanding; Thompson sampling's randomness keeps concurrent proposals apart.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from nasforge.errors import ConfigError, suggest
from nasforge.estimation.scorer import ProxyScorer
from nasforge.space import Arch, ModelSpace
from nasforge.strategies.base import BaseStrategy, arch_key, check_int
from nasforge.strategies.context import SearchContext
from nasforge.strategies.predictors import PREDICTORS, Predictor, warp
from nasforge.trial import Proposal, TrialRecord

ACQUISITIONS = ("its", "ucb", "ei", "mean")
CANDIDATES = ("auto", "space", "mutation")


class _Pool:
    """Every arch of a small space with its encoding and dedup key, built once per space object."""

    def __init__(self, space: ModelSpace) -> None:
        self.archs = list(space.grid())
        self.X = np.stack([space.encode(a) for a in self.archs]).astype(np.float64)
        self.rows: dict[str, list[int]] = {}
        for i, a in enumerate(self.archs):
            self.rows.setdefault(arch_key(space, a), []).append(i)

    def free(self, taken: set[str]) -> np.ndarray:
        mask = np.ones(len(self.archs), dtype=bool)
        for key in taken:
            mask[self.rows.get(key, [])] = False
        return np.nonzero(mask)[0]


_POOLS: weakref.WeakKeyDictionary[ModelSpace, _Pool] = weakref.WeakKeyDictionary()


def _pool(space: ModelSpace) -> _Pool:
    if space not in _POOLS:
        _POOLS[space] = _Pool(space)
    return _POOLS[space]


def _choice(owner: str, name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        hint = suggest(value, allowed) if isinstance(value, str) else ""
        raise ConfigError(f"`{name}` of {owner} must be one of {list(allowed)}, but got {value!r}.{hint}")
    return str(value)


class BayesianOptimization(BaseStrategy):
    """Predictor-based search.

    The first `n_initial` proposals are random. Then each ask fits `predictor` (`"gp"` or `"ensemble"`) to
    the finished archs' scores after `warp` (`"rank"`, `"clip"`, `"none"`), scores the candidates with
    `acquisition` (`"its"`: independent Thompson sampling, mean + std x N(0, 1) per candidate; `"ucb"`:
    mean + `beta` x std; `"ei"`: expected improvement; `"mean"`: greedy) and proposes the best one.
    `candidates`: `"space"` enumerates the whole space (only for spaces of at most `max_pool` archs),
    `"mutation"` takes every one-decision neighbour of the `n_parents` best archs (at most
    `n_candidates`, topped up with random archs), `"auto"` the first when the space is small enough.

    >>> from nasforge.strategies import BayesianOptimization
    >>> strategy = BayesianOptimization(n_initial=10, predictor="gp", acquisition="its")
    """

    accepts_history = True

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
    ) -> None:
        owner = type(self).__name__
        self.n_initial = check_int(owner, "n_initial", n_initial, 1)
        self.predictor = _choice(owner, "predictor", predictor, tuple(PREDICTORS))
        self.acquisition = _choice(owner, "acquisition", acquisition, ACQUISITIONS)
        self.warp = _choice(owner, "warp", warp, ("rank", "clip", "none"))
        self.candidates = _choice(owner, "candidates", candidates, CANDIDATES)
        self.n_candidates = check_int(owner, "n_candidates", n_candidates, 1)
        self.n_parents = check_int(owner, "n_parents", n_parents, 1)
        self.max_pool = check_int(owner, "max_pool", max_pool, 1)
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or beta < 0:
            raise ConfigError(f"`beta` of {owner} must be a number >= 0, but got {beta!r}.")
        self.beta = float(beta)
        if proxy_features is not None and not isinstance(proxy_features, (str, ProxyScorer)):
            raise ConfigError(
                f"`proxy_features` of {owner} must be a proxy name or a ProxyScorer, but got {proxy_features!r}."
            )
        self.proxy_features = ProxyScorer(proxy_features) if isinstance(proxy_features, str) else proxy_features
        self._proxy: dict[str, float] = {}  # arch key -> raw proxy score, computed once
        self._observed: list[tuple[Arch, float]] = []
        self._encoded: list[np.ndarray] = []  # encodings of the observed archs, in order
        self._evaluated: set[str] = set()  # keys of archs finished (scored or failed)
        self._pending: dict[str, int] = {}  # keys of proposals not yet told -> how many
        self._n_asked = 0

    # --- setup ---------------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        self._use_pool = self.candidates == "space" or (
            self.candidates == "auto" and self.space.size() <= self.max_pool
        )
        if self.candidates == "space" and self.space.size() > self.max_pool:
            raise ConfigError(
                f"`candidates='space'` enumerates the space, which must have at most max_pool={self.max_pool} "
                f"archs, but this one has {self.space.size()}; use candidates='mutation' or raise max_pool."
            )

    def _make_predictor(self) -> Predictor:
        return PREDICTORS.create(self.predictor)

    # --- ask / tell ----------------------------------------------------------------------------------------------
    def _taken(self, key: str) -> bool:
        return key in self._evaluated or key in self._pending

    def _propose(self, arch: Arch, info: dict[str, Any]) -> Proposal:
        key = arch_key(self.space, arch)
        self._pending[key] = self._pending.get(key, 0) + 1
        self._n_asked += 1
        return Proposal(arch, info=info)

    def _random(self) -> Arch:
        arch = self.sample_random()
        for _ in range(50):
            if not self._taken(arch_key(self.space, arch)):
                break
            arch = self.sample_random()
        return arch

    def _ask(self) -> Proposal:
        if self._n_asked < self.n_initial or len(self._observed) < 2:
            return self._propose(self._random(), {"origin": "random"})
        targets = self._targets()
        archs, X = self._candidate_set(targets)
        if not archs:  # everything evaluated or running
            return self._propose(self._random(), {"origin": "random"})
        y = warp(targets, self.warp)
        train = np.stack(self._encoded).astype(np.float64)
        if self.proxy_features is not None:
            train, X = self._with_proxy([a for a, _ in self._observed], train, archs, X)
        model = self._make_predictor().fit(train, y, self.rng)
        mean, std = model.predict(X)
        score = self._acquire(mean, std, float(y.max()))
        best = int(np.argmax(score))
        return self._propose(archs[best], {"origin": "acquisition", "predicted": round(float(mean[best]), 4)})

    def prepare(self, context: SearchContext) -> bool:
        if self.proxy_features is not None:
            self.proxy_features.take_data_from(context.evaluator)
        return True

    def _with_proxy(
        self, train_archs: list[Arch], train: np.ndarray, archs: list[Arch], X: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Append the proxy feature to the training and candidate encodings."""
        assert self.proxy_features is not None
        every = train_archs + archs
        keys = [arch_key(self.space, a) for a in every]
        missing = {k: a for k, a in zip(keys, every, strict=True) if k not in self._proxy}
        if missing:
            scores = self.proxy_features(self.space, list(missing.values()))
            self._proxy.update(zip(missing, (float(v) for v in scores), strict=True))
        raw = np.array([self._proxy[k] for k in keys], dtype=np.float64)
        z = np.sign(raw) * np.log1p(np.abs(raw))  # proxies such as synflow span many orders of magnitude
        finite = np.isfinite(z)
        z[~finite] = z[finite].min() if finite.any() else 0.0
        z = (z - z.mean()) / (z.std() or 1.0) * np.sqrt(2.0)  # a standard deviation weighs one changed decision
        n = len(train_archs)
        return np.column_stack([train, z[:n]]), np.column_stack([X, z[n:]])

    def _acquire(self, mean: np.ndarray, std: np.ndarray, incumbent: float) -> np.ndarray:
        if self.acquisition == "its":
            return mean + std * self.rng.standard_normal(len(mean))
        if self.acquisition == "ucb":
            return mean + self.beta * std
        if self.acquisition == "ei":
            from scipy.stats import norm

            z = (mean - incumbent) / std
            return (mean - incumbent) * norm.cdf(z) + std * norm.pdf(z)
        return mean

    def _targets(self) -> np.ndarray:
        """What the predictor learns, one value per observation in `self._observed`, larger is better (before
        `warp`): the scores. Called once per ask after the initial design; a subclass may draw from `self.rng`."""
        return np.array([s for _, s in self._observed])

    def _candidate_set(self, targets: np.ndarray) -> tuple[list[Arch], np.ndarray]:
        if self._use_pool:
            pool = _pool(self.space)
            free = pool.free(self._evaluated | set(self._pending))
            return [pool.archs[i] for i in free], pool.X[free]
        best = np.argsort(-targets, kind="stable")[: self.n_parents]  # stable: ties keep the order of arrival
        parents = [self._observed[int(i)][0] for i in best]
        seen: set[str] = set()
        archs: list[Arch] = []

        def add(arch: Arch) -> None:
            key = arch_key(self.space, arch)
            if key not in seen and not self._taken(key):
                seen.add(key)
                archs.append(arch)

        for parent in parents:
            neighbours = list(self.space.neighbours(parent))
            for i in self.rng.permutation(len(neighbours))[: max(1, self.n_candidates // len(parents))]:
                add(neighbours[int(i)])
        for _ in range(max(0, self.n_candidates - len(archs))):
            add(self.space.random(self.rng))
        if not archs:
            return [], np.zeros((0, self.space.encoding_size))
        return archs, np.stack([self.space.encode(a) for a in archs]).astype(np.float64)

    def _warm_start(self, records: list[TrialRecord]) -> None:
        """Earlier results are observations like this search's own: they count toward the initial design."""
        for record in records:
            self._tell(record)
        self._n_asked += len(records)

    def _tell(self, record: TrialRecord) -> None:
        key = arch_key(self.space, record.arch)
        if key in self._pending:
            self._pending[key] -= 1
            if self._pending[key] <= 0:
                del self._pending[key]
        self._evaluated.add(key)
        score = self.score(record)
        if score is not None and np.isfinite(score):
            self._observed.append((record.arch, float(score)))
            self._encoded.append(self.space.encode(record.arch))

    # --- state ---------------------------------------------------------------------------------------------------
    def _state_dict(self) -> dict[str, Any]:
        return {
            "observed": [[a.to_dict(), s] for a, s in self._observed],
            "evaluated": sorted(self._evaluated),
            "pending": dict(sorted(self._pending.items())),
            "n_asked": self._n_asked,
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._observed = [(Arch(a), float(s)) for a, s in state["observed"]]
        self._encoded = [self.space.encode(a) for a, _ in self._observed]
        self._evaluated = set(state["evaluated"])
        self._pending = {str(k): int(v) for k, v in state["pending"].items()}
        self._n_asked = int(state["n_asked"])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_initial={self.n_initial}, predictor={self.predictor!r}, "
            f"acquisition={self.acquisition!r}, warp={self.warp!r}, candidates={self.candidates!r}"
            + (f", proxy_features={self.proxy_features!r}" if self.proxy_features is not None else "")
            + ")"
        )


class BANANAS(BayesianOptimization):
    """BANANAS: an ensemble of 5 small networks, independent Thompson sampling, candidates from mutations of
    the best archs (White et al. 2021). Slower per ask than the GP; every option of
    `BayesianOptimization` can be changed."""

    def __init__(
        self,
        n_initial: int = 10,
        predictor: str = "ensemble",
        acquisition: str = "its",
        warp: str = "rank",
        candidates: str = "mutation",
        n_candidates: int = 200,
        n_parents: int = 10,
        max_pool: int = 20_000,
        beta: float = 2.0,
        proxy_features: str | ProxyScorer | None = None,
    ) -> None:
        super().__init__(
            n_initial, predictor, acquisition, warp, candidates, n_candidates, n_parents, max_pool, beta, proxy_features
        )
