"""`Experiment`: space + strategy + evaluator + executor + storage + objective, resumable by name.

This is the only place that wires the layers together: the experiment checks and holds the parts, and a run
is handed to a `TrialLoop` (`nasforge.experiment.loop`), the export to `nasforge.experiment.final`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.cost import LatencyMeter, LatencySetting, describe_latency, make_latency_meter
from nasforge.errors import ConfigError, StorageError
from nasforge.estimation.inheritance import WeightInheritance, make_inheritance
from nasforge.estimation.stopping import BaseStopper, make_stopper
from nasforge.estimation.warm_start import WarmStart, make_warm_start
from nasforge.evaluators.base import BaseEvaluator
from nasforge.executors import BaseExecutor, SequentialExecutor
from nasforge.experiment.budget import JobBudget
from nasforge.experiment.callbacks import Callback
from nasforge.experiment.driver import check_timing
from nasforge.experiment.final import check_keep_weights, check_resumable, export_trial
from nasforge.experiment.gate import ConstraintsUnmet
from nasforge.experiment.loop import TrialLoop, warm_source
from nasforge.multiobjective.objectives import (
    ObjectivesSpec,
    feasible,
    parse_constraints,
    parse_objectives,
    score_matrix,
)
from nasforge.multiobjective.pareto import pareto_front
from nasforge.multiobjective.selection import best_of, hypervolume_of, pick_trial
from nasforge.space import ModelSpace
from nasforge.storage import BaseStorage, ExperimentRow, get_storage
from nasforge.strategies import BaseStrategy
from nasforge.trial import TrialRecord

if TYPE_CHECKING:
    from nasforge.oneshot import BaseOneShot

__all__ = ["ConstraintsUnmet", "Experiment", "best_of", "check_name", "default_checkpoint_dir", "space_fingerprint"]


def space_fingerprint(space: ModelSpace) -> str:
    """Equal for spaces with the same decisions: their archs, and so their trials, are interchangeable."""
    return hashlib.sha256(json.dumps(space.describe(), sort_keys=True).encode()).hexdigest()[:16]


class Experiment:
    """A named, persistent search.

    >>> from nasforge import Experiment, RegularizedEvolution, ClassificationEvaluator, FashionMNIST
    >>> from nasforge.zoo import SmallImageCNN
    >>> exp = Experiment("fmnist", SmallImageCNN(), RegularizedEvolution(),      # doctest: +SKIP
    ...                  ClassificationEvaluator(FashionMNIST(), epochs=2), storage="nas.db")
    >>> exp.run(max_trials=20).best_trial                                       # doctest: +SKIP

    Running an experiment whose name is already in the storage resumes it: finished trials are kept,
    trials that were running when the process died run again, and the strategy continues from its
    saved state. `max_trials` counts every trial of the experiment, across resumes.

    Several runs of one experiment (processes on any machines sharing the storage, or calls in threads)
    cooperate: they take turns at its strategy through the storage and share its trials
    (`nasforge.experiment.turns`). Running trials carry their driver's id and a heartbeat refreshed every
    `heartbeat_interval` seconds; a run takes over trials whose driver is dead or whose heartbeat is older
    than `stale_after` (`nasforge.experiment.driver`). `trial_timeout` stops a trial after that many
    seconds of wall time (it fails with `Timeout`; the search goes on). `keep_weights` saves every completed
    trial's trained weights, so that `export(inherit=True)` retrains from them.
    """

    def __init__(
        self,
        name: str,
        space: ModelSpace,
        strategy: BaseStrategy | BaseOneShot,
        evaluator: BaseEvaluator,
        *,
        storage: str | BaseStorage = "nasforge.db",
        executor: BaseExecutor | None = None,
        objective: ObjectivesSpec = "val_acc",
        constraints: Any = None,
        latency: Mapping[str, Any] | LatencySetting | LatencyMeter | bool | None = None,
        seed: int = 0,
        spec: Mapping[str, Any] | None = None,
        checkpoint_dir: str | Path | None = None,
        early_stopping: str | Mapping[str, Any] | BaseStopper | None = None,
        inherit_weights: bool | Mapping[str, Any] | WeightInheritance | None = None,
        keep_weights: bool = False,
        warm_start: str | Mapping[str, Any] | WarmStart | None = None,
        trial_timeout: float | None = None,
        heartbeat_interval: float = 10.0,
        stale_after: float = 120.0,
    ) -> None:
        check_name(name)
        if not isinstance(space, ModelSpace):
            raise ConfigError(f"`space` must be a ModelSpace, but got {type(space).__name__}.")
        from nasforge.oneshot import BaseOneShot, OneShotStrategy

        if isinstance(strategy, BaseOneShot):  # a one-shot method is run by its strategy wrapper
            strategy = OneShotStrategy(strategy)
        if not isinstance(strategy, BaseStrategy):
            raise ConfigError(f"`strategy` must be a BaseStrategy (e.g. RegularizedEvolution()), but got {strategy!r}.")
        if not isinstance(evaluator, BaseEvaluator):
            raise ConfigError(f"`evaluator` must be a BaseEvaluator, but got {type(evaluator).__name__}.")
        if executor is not None and not isinstance(executor, BaseExecutor):
            raise ConfigError(f"`executor` must be a BaseExecutor or None, but got {type(executor).__name__}.")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"`seed` must be an int, but got {seed!r}.")
        self.name = name
        self.space = space
        self.strategy = strategy
        self.evaluator = evaluator
        self.storage = get_storage(storage)
        self.executor = executor or SequentialExecutor()
        #: every objective, the primary one first; `objective` is the primary one (best trial, early stopping)
        self.objectives = parse_objectives(objective)
        self.objective = self.objectives[0]
        #: hard limits: checked before training when the metric needs none (`static_metric_names`, latency)
        self.constraints = parse_constraints(constraints)
        named = "latency_ms" in {o.metric for o in self.objectives} | {c.metric for c in self.constraints}
        self.latency = make_latency_meter(
            latency,
            needed=named and "latency_ms" not in evaluator.static_metric_names,  # e.g. a table of measured ones
            input_shape=lambda: evaluator.input_shape,
            owner=type(evaluator).__name__,
        )
        self.seed = seed
        self.spec = dict(spec) if spec is not None else None
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir(self)
        self.early_stopping = make_stopper(early_stopping)
        self.inheritance = make_inheritance(inherit_weights)
        self.warm_start = make_warm_start(warm_start)
        check_timing(trial_timeout, heartbeat_interval, stale_after)
        #: wall-clock seconds one trial may run before it is stopped and fails with `Timeout` (None: no limit)
        self.trial_timeout = None if trial_timeout is None else float(trial_timeout)
        #: how often this driver stamps its running trials alive, and how old a stamp must be before another
        #: driver may take a trial over (`nasforge.experiment.driver`)
        self.heartbeat_interval, self.stale_after = float(heartbeat_interval), float(stale_after)
        #: what the warm start did in the last run: source, mode, trials used, archs enqueued (None: no warm start)
        self.warm_started: dict[str, Any] | None = None
        #: every completed trial's trained weights are saved (under `checkpoint_dir`), for its children when
        #: inheriting and for `export(inherit=True)`
        self.keep_weights = check_keep_weights(keep_weights, self.inheritance, evaluator)
        #: the strategy's promotions resume their arch's earlier trial from its saved weights (`resume` of a
        #: multi-fidelity strategy), so every trial's weights are saved too
        self.resumable = check_resumable(strategy, evaluator)
        self._row: ExperimentRow | None = None
        self._callbacks: Sequence[Callback] = ()
        self._stop = False
        self.run_started: float | None = None
        self.run_timeout: float | None = None
        self.run_max_trials: int | None = None
        #: the whole-job budget of the last `run(total_time=...)`, which `export` retrains within
        self.job_budget: JobBudget | None = None
        #: the loop of the last `run` (its trials' curves, refusals, ...); None before the first
        self.last_run: TrialLoop | None = None

    # --- persistence -------------------------------------------------------------------------------------------
    def stored_config(self) -> dict[str, Any]:
        """What the storage keeps of this experiment's setup (and a warm start compares with its source's)."""
        from nasforge.export.exporter import space_spec

        cls = type(self.space)
        return {
            "space_class": f"{cls.__module__}:{cls.__qualname__}",
            "space_spec": space_spec(self.space),  # lets the report draw archs without the data
            "space_fingerprint": space_fingerprint(self.space),
            "strategy": repr(self.strategy),
            "evaluator": type(self.evaluator).__name__,
            "task": self.evaluator.task(),
            "objective": {"metric": self.objective.metric, "direction": self.objective.direction},
            "objectives": [{"metric": o.metric, "direction": o.direction} for o in self.objectives],
            "constraints": [str(c) for c in self.constraints],
            "latency": describe_latency(self.latency),
            "seed": self.seed,
            "spec": self.spec,
            "early_stopping": repr(self.early_stopping) if self.early_stopping is not None else None,
            "inherit_weights": repr(self.inheritance) if self.inheritance is not None else None,
            "warm_start": repr(self.warm_start) if self.warm_start is not None else None,
            "trial_timeout": self.trial_timeout,
        }

    def _open(self) -> ExperimentRow:
        row = self.storage.get_experiment(self.name)
        if row is None:
            try:
                return self.storage.create_experiment(self.name, self.stored_config())
            except StorageError:  # another driver created it at the same moment: join it
                row = self.storage.get_experiment(self.name)
                if row is None:
                    raise
        if row.config.get("space_fingerprint") != space_fingerprint(self.space):
            raise StorageError(
                f"Experiment {self.name!r} already exists in {self.storage} with a different search space; "
                "use a new experiment name to search this space, or delete the old experiment."
            )
        return row

    @property
    def id(self) -> int:
        if self._row is None:
            self._row = self._open()
        return self._row.id

    # --- results ------------------------------------------------------------------------------------------------
    @property
    def trials(self) -> list[TrialRecord]:
        row = self.storage.get_experiment(self.name)
        return [] if row is None else self.storage.get_trials(row.id)

    @property
    def best_trial(self) -> TrialRecord | None:
        """The completed trial best in the primary objective among those that meet every constraint."""
        return best_of([t for t in self.trials if feasible(t, self.constraints)], self.objective)

    def pareto_front(self) -> list[TrialRecord]:
        """The completed, feasible trials that no other such trial dominates in the objectives, best in the
        primary objective first (with one objective: the best trial and its equals)."""
        records, scores = score_matrix(self.trials, self.objectives, self.constraints)
        return [records[i] for i in pareto_front(scores)] if records else []

    def hypervolume(self, reference: Mapping[str, float] | Sequence[float]) -> float:
        """The hypervolume of the feasible trials' objectives over `reference`, a value per objective in the
        metrics' own units and directions (e.g. `{"val_acc": 0.5, "latency_ms": 20}`): points not better than
        it in every objective add nothing."""
        return hypervolume_of(self.trials, self.objectives, reference, self.constraints)

    def pick(self, rule: str = "knee", constraints: Any = None) -> TrialRecord | None:
        """One trial of the Pareto front: `"knee"` (where gaining more in one objective starts to cost much
        more in the others) or `"best"` (best in the primary objective), among the feasible trials that also
        meet the extra `constraints` (e.g. `["latency_ms <= 5"]`). None when no trial qualifies."""
        return pick_trial(self.trials, self.objectives, rule, (*self.constraints, *parse_constraints(constraints)))

    @property
    def rejected(self) -> int:
        """Proposals refused by a constraint before training in the last run (the strategy heard of each)."""
        return 0 if self.last_run is None else self.last_run.gate.rejected

    def reports(self, number: int) -> list[tuple[int, dict[str, float]]]:
        return self.storage.get_reports(self.id, number)

    # --- the loop -------------------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since this run started, on the executor's clock (simulated for a simulated executor)."""
        return 0.0 if self.run_started is None else self.executor.now() - self.run_started

    @property
    def search_limit(self) -> float | None:
        """Seconds this run may search: its timeout or its job budget's search time, whichever ends first."""
        limits = [] if self.run_timeout is None else [float(self.run_timeout)]
        budget = self.job_budget
        if budget is not None and budget.started and self.run_started is not None:
            limits.append(budget.search_deadline() - self.run_started)
        return min(limits) if limits else None

    def stop(self) -> None:
        """Ask a running `run` to stop proposing trials (running ones finish)."""
        self._stop = True

    @property
    def stop_requested(self) -> bool:
        """True once `stop()` was called in this run."""
        return self._stop

    def should_stop(self) -> bool:
        """True once `stop()` was called, this run's timeout has passed or its job budget's search time is up."""
        timeout, budget = self.run_timeout, self.job_budget
        return (
            self._stop
            or (timeout is not None and self.elapsed() >= timeout)
            or (budget is not None and budget.started and budget.search_over(self.executor.now()))
        )

    # --- for strategies that work in the driver (`BaseStrategy.prepare`) -----------------------------------------
    def search_progress(self, step: int, metrics: Mapping[str, float]) -> None:
        """Save the strategy's state (its progress) in the storage and tell the callbacks."""
        self.save_strategy_state()
        for cb in self._callbacks:
            cb.on_search_progress(self, step, metrics)

    def save_strategy_state(self) -> None:
        self.storage.mark_told(self.id, [], self.strategy.state_dict())

    def run(
        self,
        max_trials: int | None = None,
        timeout: float | None = None,
        callbacks: Sequence[Callback] = (),
        total_time: JobBudget | float | None = None,
    ) -> Experiment:
        """Search until `max_trials` trials exist in the experiment or `timeout` seconds pass in this call.

        Trials running at the timeout are finished, not abandoned. Ctrl-C stops at once; running trials are
        rerun when the experiment resumes.

        `total_time` (seconds, or a `JobBudget`) is one budget for this search and the `export` after it: the
        search ends early enough for the retrain and the export to fit (`JobBudget`), a trial still running at
        the search's deadline is stopped and kept as PRUNED, and `export` then retrains for the time left.
        """
        if max_trials is not None and (
            not isinstance(max_trials, int) or isinstance(max_trials, bool) or max_trials < 1
        ):
            raise ConfigError(f"`max_trials` must be an int >= 1 or None, but got {max_trials!r}.")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ConfigError(f"`timeout` must be a number of seconds > 0 or None, but got {timeout!r}.")
        budget = JobBudget.of(total_time)
        if max_trials is None and timeout is None and budget is None:
            raise ConfigError(
                "Give `max_trials`, `timeout` or `total_time` to Experiment.run, or the search never ends."
            )
        # may refuse the space or the objectives: before any write
        self.strategy.setup(self.space, self.objective, self.seed, self.objectives)
        source = warm_source(self)  # a bad source is refused before the experiment is created
        self._row = row = self._open()
        self._stop = False
        self._callbacks = callbacks
        clock = self.executor.now  # wall time, or simulated time for a simulated executor
        self.run_started, self.run_timeout, self.run_max_trials = clock(), timeout, max_trials
        self.job_budget = budget
        if budget is not None:
            budget.clock = clock
            budget.start()
        self.last_run = TrialLoop(self, row, callbacks, source)
        self.last_run.run()
        return self

    # --- export -------------------------------------------------------------------------------------------------
    def export(
        self,
        path: str,
        epochs: int | None = None,
        seed: int | None = None,
        log: Any = None,
        time_budget: float | None = None,
        trial: TrialRecord | int | None = None,
        formats: Sequence[str] | str | None = None,
        ensemble: int = 1,
        ensemble_seeds: int = 1,
        inherit: bool = False,
        workers: int | str = 1,
    ) -> tuple[Path, dict[str, float]]:
        """Export a trial's network to the folder `path`: the best trial's (`best_trial`, which meets the
        constraints), or the given `trial` (a record or number, e.g. from `pick`).

        With an evaluator that can retrain (`RetrainableEvaluator`, such as `ClassificationEvaluator`) the arch
        is retrained from scratch on train + valid for `epochs`
        (default: its search epochs; fewer if `time_budget` seconds would not hold them) and measured once
        on the test split, with `seed` (default: the experiment's seed); returns the folder and metrics. When
        the experiment measures latency, the exported network's latency is measured again, uncached
        (`latency_ms`; `search_latency_ms` is the search's). `formats` (default
        `nasforge.export.DEFAULT_FORMATS`): besides the weights, any of `torchscript`, `onnx` and `python`,
        each checked against the network on a real batch (`export.json`).

        `ensemble` > 1 retrains that many archs, the chosen one and the next best distinct ones that meet the
        constraints, and exports their `nasforge.export.Ensemble` (class probabilities averaged;
        `ensemble.json` lists the members). Its metrics add `ensemble_size`, `ensemble_workers`, and
        `best_member_test_acc` and `member_mean_test_acc`, which the ensemble's `test_acc` compares with; the
        chosen arch's `epochs`, `epoch_time` and `inherited` are its first member's. `ensemble_seeds` > 1 retrains
        each of those archs that many times from scratch, with seeds `seed`, `seed + 1`, ..., and averages
        them all (bagging over training randomness: on small data one arch's retrains differ by as much as
        its neighbours do); the best member is then the chosen arch at `seed`, the network a single export
        gives. Members are retrained one after another within `time_budget`, each for the epochs it is owed
        (`epochs`, else its trial's): those that no longer fit at their epochs are left out with a warning,
        and the rest share the time left (`nasforge.experiment.members`); `export.json`'s `retrain` records
        each member's epochs and time. `workers` > 1 (or 'auto': one per member, at most one per usable core)
        retrains that many members at once, each in its own process with its share of the cores as torch
        threads, each for the whole time its round has (`nasforge.experiment.parallel_members`): on a CPU two
        one-thread trainings nearly double what one two-thread training does.
        With any other evaluator nothing is retrained, so the seeds count once. `inherit` starts each member's
        retrain (at its first seed) from its trial's trained weights, which `keep_weights` saved, instead of
        from scratch (`inherited_from`, `inherited` in the metrics; `nasforge.experiment.final`).

        After `run(total_time=...)` the retrain gets what is left of that budget less the export's reserve
        (or `time_budget`, if shorter), and the metrics say where the job's time went (`JobBudget.spent`).
        """
        return export_trial(
            self, path, epochs, seed, log, time_budget, trial, formats, ensemble, ensemble_seeds, inherit, workers
        )


def default_checkpoint_dir(experiment: Experiment) -> Path:
    """Beside a SQLite file (`nas.db` -> `nas.db.checkpoints/<name>`), else under ./nasforge-checkpoints."""
    url = str(getattr(experiment.storage, "url", ""))
    base = Path("nasforge-checkpoints")
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        base = Path(url.split(":///", 1)[1] + ".checkpoints")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment.name)[:60].strip("._") or "experiment"
    return base / f"{slug}-{hashlib.sha256(experiment.name.encode()).hexdigest()[:8]}"


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ConfigError(f"An experiment name must be a non-empty string of at most 200 characters, but got {name!r}.")
    return name
