"""`BaseEvaluator`: turns an arch into metrics (trains it, looks it up, or scores it with a proxy)."""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nasforge.errors import NasforgeError
from nasforge.space import Arch, ModelSpace

if TYPE_CHECKING:
    import torch
    from torch import nn

    from nasforge.data import BaseDataset

Report = Callable[[int, Mapping[str, float]], None]


class TrialError(NasforgeError):
    """The evaluation of one trial failed (NaN loss, bad metrics, ...); the trial is FAILED, the search goes on."""


class TrialPruned(Exception):
    """Raised from `EvalContext.report` when a stopping rule ends the trial; the executor records it as PRUNED."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped early after step {step}")
        self.step = step


def _no_report(step: int, metrics: Mapping[str, float]) -> None:
    return None


@dataclass
class EvalContext:
    """What an evaluator knows of the trial it evaluates."""

    space: ModelSpace
    arch: Arch
    budget: float | None = None
    number: int = 0
    seed: int = 0
    report: Report = field(default=_no_report)
    weights_in: str | None = None  # start from these weights where they fit (weight inheritance)
    weights_out: str | None = None  # save the trained weights here (for children)
    inheritance: Any = None  # `WeightInheritance`: how an inheriting trial trains
    #: the budget the weights in `weights_in` were trained for by this arch's earlier trial: the trial resumes
    #: that training for the rest of its budget (`supports_resume`), instead of inheriting as a child
    resumed: float | None = None
    info: dict[str, Any] = field(default_factory=dict)  # what the evaluator tells the trial's record


class BaseEvaluator(abc.ABC):
    """Subclasses implement `_evaluate`, returning finite float metrics; stream intermediate ones with
    `ctx.report(step, metrics)` so strategies can stop or promote a trial, and a stopping rule can end it
    (`report` then raises `TrialPruned`, which must not be caught)."""

    #: True for evaluators that honour `ctx.weights_in` / `ctx.weights_out` (weight inheritance)
    supports_inheritance: bool = False
    #: True for evaluators that honour `ctx.resumed`: given the weights of the same arch trained for a smaller
    #: budget, they train only the rest (a multi-fidelity strategy's `resume`)
    supports_resume: bool = False

    def evaluate(self, ctx: EvalContext) -> dict[str, float]:
        metrics = self._evaluate(ctx)
        if not isinstance(metrics, Mapping):
            raise TrialError(
                f"{type(self).__name__} must return a mapping of metric name -> float, but returned "
                f"{type(metrics).__name__}."
            )
        out: dict[str, float] = {}
        for key, value in metrics.items():
            try:
                out[str(key)] = float(value)
            except (TypeError, ValueError):
                raise TrialError(f"Metric {key!r} must be a number, but got {value!r}.") from None
            if math.isnan(out[str(key)]):
                raise TrialError(f"Metric {key!r} is NaN.")
        return out

    @abc.abstractmethod
    def _evaluate(self, ctx: EvalContext) -> Mapping[str, Any]: ...

    def prepare(self) -> None:
        """Load what evaluations need (data, tables) once per process, before the first trial there."""
        return None

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """The shape of one input sample (channels, height, width; features; ...), when this evaluator knows
        it: measuring latency and counting FLOPs need it. None by default."""
        return None

    def task(self) -> dict[str, Any]:
        """What the metrics depend on besides the arch (data, validation split, training), JSON-ready: two
        evaluators with equal tasks give comparable results, so an experiment can take another's results as
        its own (warm start). Subclasses add their settings to the class name."""
        return {"evaluator": type(self).__name__}

    #: metrics `static_metrics` can give for an arch without training it
    static_metric_names: frozenset[str] = frozenset({"params", "flops"})

    def static_metrics(self, space: ModelSpace, arch: Arch, names: Collection[str]) -> dict[str, float]:
        """The metrics among `names` that need no training (`static_metric_names`), in the units this
        evaluator reports them in, so that a constraint on them is checked before the trial is trained.
        By default the frozen network's parameter count, and its FLOPs when an input shape is known."""
        from nasforge.cost import count_flops, count_params

        wanted = set(names) & self.static_metric_names
        if not wanted:
            return {}
        model = space.freeze(arch)
        out: dict[str, float] = {}
        if "params" in wanted:
            out["params"] = float(count_params(model))
        shape = self.input_shape or getattr(space, "input_shape", None)
        if "flops" in wanted and shape is not None:
            out["flops"] = float(count_flops(model, tuple(shape)))
        return out


class RetrainableEvaluator(BaseEvaluator):
    """An evaluator that can also retrain a chosen arch for export: `Experiment.export` retrains with
    `train_final` and tests with `test_metrics` what such an evaluator searched; any other evaluator's arch is
    exported untrained (`space.freeze(arch)`).

    Subclasses implement `train_final` and `test_metrics`; the rest describe the final data and have defaults
    for data that is not refitted for the final training.
    """

    @abc.abstractmethod
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
        """Retrain `arch` of `space` (as `final_space` built it) from scratch for `epochs` (or `time_budget`
        seconds, if shorter), with `seed`, calling `log(epoch, metrics)` if given; the trained network, on the
        CPU in eval mode, and its metrics, the test split's included (`test_metrics`). An evaluator that
        `supports_inheritance` starts from the saved weights `weights_in` where they fit instead (the metric
        `inherited`: the fraction of the network's values that came from there); the others ignore it."""

    @abc.abstractmethod
    def test_metrics(self, model: nn.Module) -> dict[str, float]:
        """The test metrics (`test_acc`, ...) of a finally trained `model` or ensemble; empty without a test
        split."""

    def final_space(self, space: ModelSpace) -> ModelSpace:
        """`space` as the final training builds it (e.g. a vocabulary refitted on train + valid)."""
        return space

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        """How raw input becomes the exported model's input (a tokenizer's vocabulary...), JSON-ready; None
        when raw input goes in as it is."""
        return None

    def example_input(self, n: int = 16) -> torch.Tensor | None:
        """A real batch of `n` inputs as the final model reads them, to trace and check exported formats; None
        when this evaluator has no data (the formats are then checked on zeros of `input_shape`)."""
        return None


class DatasetEvaluator(RetrainableEvaluator):
    """A retrainable evaluator of one dataset (`self.dataset`): the input shape and the preprocessing of its
    models are the loaded dataset's."""

    dataset: BaseDataset

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.dataset.load().input_shape)

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        """How raw input becomes the model's input (a tokenizer's vocabulary, log-mel settings...): the
        dataset's."""
        prep = self.dataset.load().info.get("preprocessing")
        return dict(prep) if prep else None
