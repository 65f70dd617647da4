"""The configuration's fixed sections as typed dataclasses: each key's type, default, meaning and command-line
flag are written once, here.

`Section.parse(where, mapping)` checks a section's keys against the fields (an unknown key gets the closest
names, a value of the wrong type what it must be, both derived from the annotations) and then its values
(`check`); `nasforge run` derives its flags from the same fields (`add_flags`, `flag_values`). The named sections
(`space`, `dataset`, `strategy`, `evaluator`, `executor`) are checked against what builds them instead: the
registered class's signature is their schema (`nasforge.config.schema`).

>>> RunSection.parse("run", {"total_time": 900}).total_time
900
>>> RunSection.parse("run", {"max_trial": 10})
Traceback (most recent call last):
...
nasforge.errors.ConfigError: Unknown key 'max_trial' in section 'run'. Did you mean 'max_trials'? Valid keys: max_trials, timeout, trial_timeout, total_time, retrain_share, export_reserve.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import field
from typing import Any, ClassVar

from nasforge.config.typed import Section, add_flags, flag_values, meta
from nasforge.errors import ConfigError

__all__ = [
    "FIXED_SECTIONS",
    "EstimationSection",
    "ExportSection",
    "MiddlewareSection",
    "ProxyEvaluatorSection",
    "RunSection",
    "Section",
    "TopSection",
    "TrainEvaluatorSection",
    "ZeroCostFilterSection",
    "ZeroCostSection",
    "add_flags",
    "flag_values",
    "meta",
]


@dataclasses.dataclass(frozen=True)
class TopSection(Section):
    """The top level: the experiment's identity and the names of the other sections."""

    section: ClassVar[str] = ""
    name: str | None = field(default=None, metadata=meta("experiment name (rerunning a name resumes it)", "--name"))
    storage: str = field(default="nasforge.db", metadata=meta("SQLite file or SQLAlchemy URL", "--storage"))
    seed: int = field(default=0, metadata=meta("the experiment's seed (strategy, trials, retrain)", "--seed"))
    objective: str | list = field(
        default="max:val_acc", metadata=meta("an objective such as max:val_acc, or a list of them")
    )
    constraints: str | list | dict | None = field(
        default=None, metadata=meta("hard limits such as 'params <= 1e6', checked early")
    )
    latency: dict | bool | None = field(
        default=None, metadata=meta("how latency_ms is measured (nasforge.cost.LatencySetting)")
    )
    space: dict = field(default_factory=dict, metadata=meta("the search space: {name: ..., options}"))
    dataset: dict = field(default_factory=dict, metadata=meta("the data: {name: ..., options}"))
    strategy: dict = field(
        default_factory=dict, metadata=meta("the search strategy: {name: ..., options, middleware keys}")
    )
    evaluator: dict = field(
        default_factory=dict, metadata=meta("how a trial is scored: training (the default) or proxy")
    )
    executor: dict = field(
        default_factory=dict, metadata=meta("where trials run: {name: sequential, pool or ray, options}")
    )
    run: dict = field(default_factory=dict, metadata=meta("when the search ends (RunSection)"))
    export: dict = field(default_factory=dict, metadata=meta("the retrain and export of the best (ExportSection)"))
    estimation: dict = field(default_factory=dict, metadata=meta("cheaper evaluation (EstimationSection)"))

    def check(self, given: frozenset[str], where: str) -> None:
        for required in ("space", "dataset"):
            if required not in given:
                raise ConfigError(f"The configuration needs a {required!r} section (e.g. {required}: {{name: ...}}).")


@dataclasses.dataclass(frozen=True)
class RunSection(Section):
    """When the search ends: a trial count, a search timeout, or one budget for the whole job."""

    section: ClassVar[str] = "run"
    max_trials: int | None = field(default=None, metadata=meta("total trials of the experiment", "--max-trials"))
    timeout: float | None = field(default=None, metadata=meta("seconds of searching in this run", "--timeout"))
    trial_timeout: float | None = field(
        default=None, metadata=meta("seconds one trial may run before it is stopped", "--trial-timeout", "S")
    )
    total_time: float | None = field(
        default=None,
        metadata=meta(
            "one budget in seconds for search, retrain and export together (see JobBudget)", "--total-time", "S"
        ),
    )
    retrain_share: float = field(default=0.5, metadata=meta("the share of total_time kept for the retrain"))
    export_reserve: float = field(default=30.0, metadata=meta("seconds of total_time kept for writing the export"))

    def check(self, given: frozenset[str], where: str) -> None:
        self.budget(given)

    def budget(self, given: frozenset[str] = frozenset()) -> Any:
        """The whole-job `JobBudget`, or None without `total_time`."""
        from nasforge.experiment.budget import JobBudget

        split = [k for k in ("retrain_share", "export_reserve") if k in given]
        if self.total_time is None:
            if split:
                raise ConfigError(
                    f"Keys run.{' and run.'.join(split)} split a whole-job budget, but run.total_time is not set; "
                    "give run.total_time (seconds) or drop them."
                )
            return None
        return JobBudget.of(self.total_time, retrain_share=self.retrain_share, export_reserve=self.export_reserve)


@dataclasses.dataclass(frozen=True)
class ExportSection(Section):
    """The retrain of the chosen arch (or ensemble) and the files it is written to."""

    section: ClassVar[str] = "export"
    path: str | None = field(default=None, metadata=meta("folder for the exported best model", "--export", "PATH"))
    formats: list | str | None = field(
        default=None,
        metadata=meta(
            "what the export writes besides the weights: torchscript, onnx, python (comma-separated) or all",
            "--export-format",
            "FMT",
        ),
    )
    pick: str = field(default="best", metadata=meta("which trial of a Pareto front: best (first objective) or knee"))
    epochs: int | None = field(
        default=None, metadata=meta("epochs to retrain the best arch before export", "--export-epochs", "N")
    )
    time_budget: float | None = field(
        default=None, metadata=meta("seconds the retraining before export may take", "--export-time", "S")
    )
    ensemble: int = field(
        default=1,
        metadata=meta(
            "retrain the K best distinct archs and export them as one model averaging their probabilities",
            "--export-ensemble",
            "K",
        ),
    )
    ensemble_seeds: int = field(
        default=1,
        metadata=meta(
            "retrain each exported arch S times with successive seeds and average them all",
            "--export-ensemble-seeds",
            "S",
        ),
    )
    inherit: bool = field(
        default=False,
        metadata=meta(
            "start the retrain from the weights the chosen trial trained in the search (which then saves them) "
            "instead of from scratch",
            "--export-inherit",
        ),
    )
    workers: int | str = field(
        default=1,
        metadata=meta(
            "ensemble members retrained at once, each in its own process with its share of the cores: N, or auto "
            "(one per member, at most one per core)",
            "--export-workers",
            "N",
        ),
    )

    def check(self, given: frozenset[str], where: str) -> None:
        from nasforge.experiment.parallel_members import check_workers
        from nasforge.export import check_ensemble_seeds, check_ensemble_size, check_formats, check_time_budget

        if self.formats is not None:
            check_formats(self.formats)
        check_ensemble_size(self.ensemble)
        check_ensemble_seeds(self.ensemble_seeds)
        check_time_budget(self.time_budget, "Key export.time_budget")
        check_workers(self.workers, "Key export.workers")
        if self.pick not in ("best", "knee"):
            raise ConfigError(f"Key export.pick must be 'best' or 'knee', but got {self.pick!r}.")


@dataclasses.dataclass(frozen=True)
class EstimationSection(Section):
    """Cheaper evaluation (`nasforge.estimation`): early stopping, weight inheritance, warm start."""

    section: ClassVar[str] = "estimation"
    early_stopping: str | dict | None = field(
        default=None, metadata=meta("a stopping rule: median, curve, ... or {rule: ..., options}")
    )
    inherit_weights: bool | dict | None = field(
        default=None, metadata=meta("children start from their parent's weights")
    )
    warm_start: str | dict | None = field(
        default=None, metadata=meta("an earlier experiment whose results seed the strategy")
    )

    def check(self, given: frozenset[str], where: str) -> None:
        from nasforge.estimation.inheritance import make_inheritance
        from nasforge.estimation.stopping import make_stopper
        from nasforge.estimation.warm_start import make_warm_start

        make_stopper(self.early_stopping)
        make_inheritance(self.inherit_weights)
        make_warm_start(self.warm_start)


@dataclasses.dataclass(frozen=True)
class MiddlewareSection(Section):
    """The strategy section's keys that wrap any strategy in middleware (`nasforge.strategies.middleware`)."""

    section: ClassVar[str] = "strategy"
    deduplicate: bool = field(
        default=False,
        metadata=meta("answer a repeated arch from its earlier result instead of rerunning", "--deduplicate"),
    )
    max_params: float | None = field(
        default=None, metadata=meta("skip archs with more than N parameters, untrained", "--max-params", "N")
    )
    retry_failed: int = field(default=0, metadata=meta("rerun a failed trial up to N times", "--retry-failed", "N"))
    max_cost: float | None = field(
        default=None,
        metadata=meta(
            "stop proposing once the trials cost X in all (metric strategy.cost_metric, else seconds)",
            "--max-cost",
            "X",
        ),
    )
    cost_metric: str = field(default="cost", metadata=meta("the trial metric that max_cost sums"))
    zero_cost_warmup: dict | None = field(
        default=None, metadata=meta("random proposals from a zero-cost proxy's top (ZeroCostSection)")
    )
    zero_cost_filter: dict | None = field(
        default=None, metadata=meta("only a zero-cost proxy's better part is trained")
    )

    def check(self, given: frozenset[str], where: str) -> None:
        if self.retry_failed < 0:
            raise ConfigError(
                f"Key strategy.retry_failed must be an int >= 0 (reruns of a failed trial), but got {self.retry_failed!r}."
            )
        for key, meaning in (("max_params", "parameters"), ("max_cost", "total cost of the trials")):
            value = getattr(self, key)
            if value is not None and not (value == value and abs(value) != float("inf") and value > 0):
                raise ConfigError(f"Key strategy.{key} must be a number > 0 ({meaning}) or null, but got {value!r}.")
        if "cost_metric" in given and self.max_cost is None:
            raise ConfigError("Key strategy.cost_metric names what strategy.max_cost counts; give max_cost too.")
        if self.cost_metric == "":
            raise ConfigError("Key strategy.cost_metric must name a trial metric (e.g. cost), but got ''.")
        if self.zero_cost_warmup is not None:
            from nasforge.strategies import RandomSearch, ZeroCostWarmup

            options = ZeroCostSection.parse("strategy.zero_cost_warmup", self.zero_cost_warmup).given()
            ZeroCostWarmup(RandomSearch(), **options)
        if self.zero_cost_filter is not None:
            from nasforge.strategies import RandomSearch, ZeroCostFilter

            options = ZeroCostFilterSection.parse("strategy.zero_cost_filter", self.zero_cost_filter).given()
            ZeroCostFilter(RandomSearch(), **options)


@dataclasses.dataclass(frozen=True)
class ZeroCostSection(Section):
    """Options of `strategy.zero_cost_warmup` (`ZeroCostWarmup` and its `ProxyScorer`); None: their default."""

    section: ClassVar[str] = "strategy.zero_cost_warmup"
    proxy: str | list | None = field(
        default=None, metadata=meta("a proxy name (synflow, ...) or a list to combine by rank")
    )
    pool: int | None = field(default=None, metadata=meta("archs scored by the proxy"))
    batch_size: int | None = field(default=None, metadata=meta("images per proxy score"))
    input_shape: list | None = field(default=None, metadata=meta("the input shape when the data does not give it"))
    seed: int | None = field(default=None, metadata=meta("seed of the pool and the proxy batch"))

    def check(self, given: frozenset[str], where: str) -> None:
        if self.pool is not None and self.pool < 1:
            raise ConfigError(f"Key {where}.pool must be an int >= 1 (archs scored), but got {self.pool!r}.")

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in super().given().items() if v is not None}


@dataclasses.dataclass(frozen=True)
class ZeroCostFilterSection(ZeroCostSection):
    """Options of `strategy.zero_cost_filter` (`ZeroCostFilter`)."""

    section: ClassVar[str] = "strategy.zero_cost_filter"
    keep: int | float | None = field(default=None, metadata=meta("the share (or count) of proposals kept"))


@dataclasses.dataclass(frozen=True)
class ProxyEvaluatorSection(Section):
    """`evaluator: {name: proxy, ...}`: zero-cost scores instead of training (`ProxyEvaluator`)."""

    section: ClassVar[str] = "evaluator"
    proxy: str | list | None = field(default=None, metadata=meta("a proxy name or a list to combine by rank"))
    batch_size: int | None = field(default=None, metadata=meta("images per score"))
    input_shape: list | None = field(default=None, metadata=meta("the input shape when the data does not give it"))
    seed: int | None = field(default=None, metadata=meta("seed of the scoring batch"))

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in super().given().items() if v is not None}


@dataclasses.dataclass(frozen=True)
class TrainEvaluatorSection(Section):
    """`evaluator: {...}`: the training evaluator's (`ClassificationEvaluator`) own options; the fields of
    `TrainConfig` are keys too (`hints`), so that a new training setting needs no second edit here. The values
    themselves are checked where they are used, when the evaluator is built."""

    section: ClassVar[str] = "evaluator"
    epochs: int = field(
        default=3, metadata=meta("epochs a trial trains at most (its budget, unless trial_time is set)")
    )
    train_fraction: float = field(default=1.0, metadata=meta("share of the training split a trial trains on"))
    device: str = field(default="auto", metadata=meta("cpu, cuda, cuda:1, ... or auto (cuda when there is one)"))
    interim_valid: float = field(
        default=1.0, metadata=meta("validation share (or count) scoring the epochs before the last")
    )
    trial_time: float | None = field(default=None, metadata=meta("seconds a trial trains (its budget in seconds)"))

    @classmethod
    def hints(cls) -> dict[str, Any]:
        from nasforge.evaluators.training import TrainConfig

        hints = dict(super().hints())
        own = typing.get_type_hints(TrainConfig)
        for f in dataclasses.fields(TrainConfig):
            hints.setdefault(f.name, own[f.name])
        return hints

    @classmethod
    def _build(cls, values: dict[str, Any]) -> Section:
        own = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in own})


#: every fixed section, in the order the configuration reference lists them
FIXED_SECTIONS: tuple[type[Section], ...] = (
    TopSection,
    RunSection,
    ExportSection,
    EstimationSection,
    MiddlewareSection,
    ZeroCostSection,
    ZeroCostFilterSection,
    TrainEvaluatorSection,
    ProxyEvaluatorSection,
)
