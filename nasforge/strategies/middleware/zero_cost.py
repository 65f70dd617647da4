"""Zero-cost warm-up (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Section 5):
rank a pool of random archs by a zero-cost proxy before the search, and serve the strategy's random
proposals from the top of that ranking.

>>> from nasforge.strategies import RegularizedEvolution
>>> strategy = ZeroCostWarmup(RegularizedEvolution(population_size=10), proxy="synflow", pool=1000)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.errors import ConfigError
from nasforge.estimation.scorer import ProxyScorer
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, arch_key, check_int
from nasforge.strategies.context import SearchContext
from nasforge.strategies.middleware.base import StrategyMiddleware
from nasforge.strategies.middleware.limits import ConstraintFilter
from nasforge.trial import Proposal


def _make_scorer(owner: str, scorer: Any, proxy: Any, scorer_kwargs: Mapping[str, Any]) -> ProxyScorer:
    if scorer is not None and not isinstance(scorer, ProxyScorer):
        raise ConfigError(
            f"`scorer` of {owner} must be a nasforge.estimation.ProxyScorer, but got {type(scorer).__name__}."
        )
    if scorer is not None and scorer_kwargs:
        raise ConfigError(
            f"{owner} takes either `scorer` or the arguments to build one, but got both "
            f"(scorer and {sorted(scorer_kwargs)}); put them into the ProxyScorer."
        )
    return scorer if scorer is not None else ProxyScorer(proxy, **scorer_kwargs)


class ZeroCostWarmup(StrategyMiddleware):
    """Before the first ask, draw `pool` random archs (distinct by the space's `canonical_key`), score them
    with `scorer` (default: `ProxyScorer(proxy, **scorer_kwargs)`; several proxies combine by mean rank)
    and rank them best first. The inner strategy's random proposals (`sample_random`: evolution's initial
    population, BO's initial design, random search's order, local search's starts and restarts) are then
    served from that ranking in turn; once it is used up they are uniform again.

    Data-dependent proxies need samples: pass `batch=(x, y)` or `dataset=` through `scorer_kwargs`, or
    run under an evaluator with a `dataset` (and an `input_shape`), from which `prepare` takes them.
    The ranking and the position in it are part of `state_dict`, so a resumed search continues exactly.
    """

    def __init__(
        self,
        inner: BaseStrategy,
        proxy: str | Sequence[str] = "synflow",
        pool: int = 1000,
        scorer: ProxyScorer | None = None,
        **scorer_kwargs: Any,
    ) -> None:
        super().__init__(inner)
        self.pool = check_int("ZeroCostWarmup", "pool", pool, 1)
        self.scorer = _make_scorer("ZeroCostWarmup", scorer, proxy, scorer_kwargs)
        self._ranking: list[Arch] | None = None  # the pool, best first; None until scored
        self._scores: list[float | None] = []
        self._position = 0  # archs of the ranking served so far

    # --- the pool ----------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        super()._setup()
        self.inner.set_sampler(self._serve)

    def prepare(self, context: SearchContext) -> bool:
        """Take samples and the input shape from the experiment's evaluator when the scorer has none."""
        self.scorer.take_data_from(context.evaluator)
        return super().prepare(context)

    def _ask(self) -> Proposal | None:
        if self._ranking is None:
            self._build()
        return self.inner.ask()

    def _build(self) -> None:
        archs: list[Arch] = []
        keys: set[str] = set()
        # a pool as big as the space cannot always be filled with distinct archs by sampling: stop trying
        for _ in range(4 * self.pool):
            if len(archs) == self.pool:
                break
            arch = self.space.random(self.rng)
            k = arch_key(self.space, arch)
            if k not in keys:
                keys.add(k)
                archs.append(arch)
        scores = np.asarray(self.scorer(self.space, archs), dtype=float)
        ordered = np.where(np.isfinite(scores), scores, -np.inf)
        order = sorted(range(len(archs)), key=lambda i: -ordered[i])  # stable: ties keep the draw order
        self._ranking = [archs[i] for i in order]
        self._scores = [float(scores[i]) if math.isfinite(scores[i]) else None for i in order]
        self._position = 0

    def _serve(self, rng: np.random.Generator) -> Arch:
        """The inner strategy's sampler: the next arch of the ranking, then uniform draws."""
        if self._ranking is None:
            self._build()
        assert self._ranking is not None
        if self._position < len(self._ranking):
            self._position += 1
            return self._ranking[self._position - 1]
        return self.space.random(rng)

    @property
    def ranking(self) -> list[tuple[Arch, float | None]]:
        """The pool, best first, with each arch's score (None where it was not finite)."""
        return list(zip(self._ranking or [], self._scores, strict=True))

    @property
    def served(self) -> int:
        return self._position

    # --- state -------------------------------------------------------------------------------------------------
    def _own_state(self) -> dict[str, Any]:
        return {
            "ranking": None if self._ranking is None else [a.to_dict() for a in self._ranking],
            "scores": list(self._scores),
            "position": self._position,
        }

    def _load_own_state(self, state: Mapping[str, Any]) -> None:
        ranking = state["ranking"]
        self._ranking = None if ranking is None else [Arch(a) for a in ranking]
        self._scores = [None if s is None else float(s) for s in state["scores"]]
        self._position = int(state["position"])

    def __repr__(self) -> str:
        return f"ZeroCostWarmup({self.inner!r}, scorer={self.scorer!r}, pool={self.pool})"


class ZeroCostFilter(ConstraintFilter):
    """Let through only proposals whose proxy score reaches the `1 - keep` quantile of a reference pool of
    `pool` random archs (scored before the first ask): with `keep=0.5`, the better half of the space by the
    proxy. The inner strategy is told a rejected arch failed (`ConstraintFilter`) and asked again, so
    evolution's children and BO's picks come only from the region the proxy favours; archs whose score is
    not finite are rejected. Each proposal costs one proxy evaluation (cached per arch).

    >>> from nasforge.strategies import RegularizedEvolution
    >>> strategy = ZeroCostFilter(RegularizedEvolution(population_size=10), proxy="synflow", keep=0.5)
    """

    def __init__(
        self,
        inner: BaseStrategy,
        proxy: str | Sequence[str] = "synflow",
        keep: float = 0.5,
        pool: int = 100,
        scorer: ProxyScorer | None = None,
        max_skips: int = 1000,
        **scorer_kwargs: Any,
    ) -> None:
        if not isinstance(keep, (int, float)) or isinstance(keep, bool) or not 0 < keep <= 1:
            raise ConfigError(f"`keep` of ZeroCostFilter must be a fraction in (0, 1], but got {keep!r}.")
        self.keep = float(keep)
        self.pool = check_int("ZeroCostFilter", "pool", pool, 1)
        self.scorer = _make_scorer("ZeroCostFilter", scorer, proxy, scorer_kwargs)
        if len(self.scorer.names) > 1 and self.scorer.lookup is None:
            raise ConfigError(
                f"ZeroCostFilter compares one arch at a time with a threshold, which needs one proxy's values, "
                f"but got {list(self.scorer.names)}; give one proxy (a mean rank has no fixed scale)."
            )
        super().__init__(inner, self._passes, f"zero-cost {self.scorer.names[0]} below threshold", max_skips)
        self.threshold: float | None = None
        self._cache: dict[str, float] = {}

    def prepare(self, context: SearchContext) -> bool:
        self.scorer.take_data_from(context.evaluator)
        return super().prepare(context)

    def _score(self, arch: Arch) -> float:
        if arch.id not in self._cache:
            self._cache[arch.id] = float(self.scorer(self.space, [arch])[0])
        return self._cache[arch.id]

    def _passes(self, arch: Arch) -> bool:
        if self.threshold is None:
            reference = [self.space.random(self.rng) for _ in range(self.pool)]
            scores = np.asarray(self.scorer(self.space, reference), dtype=float)
            finite = scores[np.isfinite(scores)]
            self.threshold = float(np.quantile(finite, 1.0 - self.keep)) if len(finite) else -math.inf
        score = self._score(arch)
        return math.isfinite(score) and score >= self.threshold

    def _own_state(self) -> dict[str, Any]:
        return {**super()._own_state(), "threshold": self.threshold}

    def _load_own_state(self, state: Mapping[str, Any]) -> None:
        super()._load_own_state(state)
        threshold = state.get("threshold")
        self.threshold = None if threshold is None else float(threshold)

    def __repr__(self) -> str:
        return f"ZeroCostFilter({self.inner!r}, scorer={self.scorer!r}, keep={self.keep}, pool={self.pool})"
