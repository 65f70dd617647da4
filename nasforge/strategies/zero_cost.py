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
from nasforge.strategies.middleware import StrategyMiddleware
from nasforge.trial import Proposal


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
        if scorer is not None and not isinstance(scorer, ProxyScorer):
            raise ConfigError(
                f"`scorer` of ZeroCostWarmup must be a nasforge.estimation.ProxyScorer, but got {type(scorer).__name__}."
            )
        if scorer is not None and scorer_kwargs:
            raise ConfigError(
                f"ZeroCostWarmup takes either `scorer` or the arguments to build one, but got both "
                f"(scorer and {sorted(scorer_kwargs)}); put them into the ProxyScorer."
            )
        self.scorer = scorer if scorer is not None else ProxyScorer(proxy, **scorer_kwargs)
        self._ranking: list[Arch] | None = None  # the pool, best first; None until scored
        self._scores: list[float | None] = []
        self._position = 0  # archs of the ranking served so far

    # --- the pool ----------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        super()._setup()
        self.inner.set_sampler(self._serve)

    def prepare(self, experiment: Any) -> bool:
        """Take samples and the input shape from the experiment's evaluator when the scorer has none."""
        evaluator = getattr(experiment, "evaluator", None)
        dataset = getattr(evaluator, "dataset", None)  # a nasforge dataset; a tabular evaluator's is a name
        if not self.scorer.data_free and not self.scorer.has_data and callable(getattr(dataset, "load", None)):
            self.scorer.dataset = dataset
        if self.scorer.input_shape is None and not self.scorer.has_data:
            shape = getattr(evaluator, "input_shape", None)
            if shape is not None:
                self.scorer.input_shape = tuple(int(d) for d in shape)
        return super().prepare(experiment)

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
