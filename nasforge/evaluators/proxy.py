"""`ProxyEvaluator`: an arch's zero-cost proxy scores as its metrics, in place of training.

A search whose objective is a proxy (`max:synflow`) costs milliseconds to a second per trial instead of
minutes: a screening run over many archs, whose best are then trained (export, or a warm start of a training
experiment in `enqueue` mode). Every proxy named is a metric; with several, `proxy_rank` is not given (a
rank needs the other archs), so pick one as the objective or combine them in `ZeroCostWarmup` instead.

>>> from nasforge.zoo.nb201 import NB201Space
>>> from nasforge.evaluators import EvalContext
>>> space = NB201Space(C=4, N=1)
>>> metrics = ProxyEvaluator(("synflow", "params"), input_shape=(3, 32, 32)).evaluate(
...     EvalContext(space, space.random(0), None))
>>> sorted(metrics)
['cpu_time', 'params', 'synflow']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nasforge.errors import ConfigError
from nasforge.estimation.scorer import ProxyScorer
from nasforge.evaluators.base import EvalContext, RetrainableEvaluator
from nasforge.space import Arch, ModelSpace

if TYPE_CHECKING:
    from nasforge.evaluators.classification import ClassificationEvaluator


class ProxyEvaluator(RetrainableEvaluator):
    """Metrics: each proxy's value (named by the proxy; higher is better for all but `params` and `flops`,
    which count) and `cpu_time`. Data-dependent proxies draw one batch of `batch_size` samples from `dataset`
    (a nasforge dataset) with `seed`; data-free ones need `input_shape`, taken from the dataset when there is
    one. A NaN score fails the trial with the reason, as a diverging training would."""

    def __init__(
        self,
        proxy: str | Sequence[str] = "synflow",
        dataset: Any = None,
        batch_size: int = 64,
        input_shape: Sequence[int] | None = None,
        seed: int = 0,
    ) -> None:
        self.scorer = ProxyScorer(proxy, dataset=dataset, batch_size=batch_size, input_shape=input_shape, seed=seed)
        self.dataset = dataset

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        if self.scorer.input_shape is not None:
            return self.scorer.input_shape
        load = getattr(self.dataset, "load", None)
        return tuple(load().input_shape) if callable(load) else None

    def prepare(self) -> None:
        if self.scorer.input_shape is None and self.input_shape is not None:
            self.scorer.input_shape = self.input_shape

    def task(self) -> dict[str, Any]:
        data = self.dataset
        return {
            **super().task(),
            "proxies": list(self.scorer.names),
            "dataset": None if data is None else getattr(data, "name", type(data).__name__),
            "batch_size": self.scorer.batch_size,
            "seed": self.scorer.seed,
        }

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        self.prepare()
        start = time.process_time()
        with torch.random.fork_rng():  # the scorer seeds torch per arch; leave the caller's generator alone
            scores = self.scorer.scores(ctx.space, [ctx.arch])
        return {**{name: values[0] for name, values in scores.items()}, "cpu_time": time.process_time() - start}

    def train_final(
        self,
        space: ModelSpace,
        arch: Arch,
        epochs: int,
        seed: int = 0,
        log: Any = None,
        time_budget: float | None = None,
        weights_in: str | None = None,
    ) -> tuple[nn.Module, dict[str, float]]:
        """Export trains the screened arch for real (`ClassificationEvaluator.train_final`) on the dataset."""
        trainer = self._trainer()
        if trainer is None:
            raise ConfigError(
                "Exporting from a ProxyEvaluator trains the best arch on its dataset, but it has none; pass "
                "`dataset=` to the ProxyEvaluator or export the untrained network with `space.freeze(arch)`."
            )
        return trainer.train_final(space, arch, epochs, seed, log, time_budget, weights_in)

    def test_metrics(self, model: nn.Module) -> dict[str, float]:
        """The test metrics of a finally trained model, as `train_final` measures them."""
        trainer = self._trainer()
        return {} if trainer is None else trainer.test_metrics(model)

    def final_space(self, space: ModelSpace) -> ModelSpace:
        """`space` as `train_final` builds it for the dataset's refitted preprocessing."""
        trainer = self._trainer()
        return space if trainer is None else trainer.final_space(space)

    def _trainer(self) -> ClassificationEvaluator | None:
        """What trains, tests and refits for the export: a training evaluator on the dataset, if there is one."""
        if self.dataset is None:
            return None
        from nasforge.evaluators.classification import ClassificationEvaluator

        return ClassificationEvaluator(self.dataset)

    def __repr__(self) -> str:
        return f"ProxyEvaluator({self.scorer!r})"
