"""`Experiment`: space + strategy + evaluator + executor + storage + objective, resumable by name.

This is the only place that wires the layers together.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.cost import LatencyMeter, LatencySetting
from nasforge.data.split import check_seed
from nasforge.errors import ConfigError, StorageError
from nasforge.estimation.inheritance import WeightInheritance, make_inheritance
from nasforge.estimation.stopping import BaseStopper, StopCheck, make_stopper
from nasforge.estimation.warm_start import Source, WarmStart, load_source, make_warm_start, queue_sampler
from nasforge.evaluators.base import BaseEvaluator
from nasforge.executors import BaseExecutor, Job, JobResult, SequentialExecutor
from nasforge.experiment.budget import JobBudget, typical_duration
from nasforge.experiment.callbacks import Callback
from nasforge.experiment.driver import driver_id, is_dead
from nasforge.multiobjective.objectives import (
    Constraint,
    ObjectivesSpec,
    feasible,
    parse_constraints,
    parse_objectives,
    score_matrix,
)
from nasforge.multiobjective.pareto import best_under, hypervolume, knee_point, pareto_front
from nasforge.space import Arch, ModelSpace
from nasforge.storage import BaseStorage, ExperimentRow, get_storage
from nasforge.strategies import BaseStrategy
from nasforge.strategies.base import arch_key
from nasforge.strategies.middleware import SYNTHETIC
from nasforge.trial import Objective, Proposal, TrialRecord, TrialState

if TYPE_CHECKING:
    from nasforge.oneshot import BaseOneShot


#: proposals refused by the constraints one after another before the run gives up (`ConstraintsUnmet`)
MAX_REJECTIONS_IN_A_ROW = 1000


class ConstraintsUnmet(ConfigError):
    """The strategy keeps proposing archs that break the constraints: the search cannot go on."""


def space_fingerprint(space: ModelSpace) -> str:
    """Equal for spaces with the same decisions: their archs, and so their trials, are interchangeable."""
    return hashlib.sha256(json.dumps(space.describe(), sort_keys=True).encode()).hexdigest()[:16]


def trial_seed(seed: int, number: int) -> int:
    return (seed * 1_000_003 + number) % (2**31 - 1)


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

    Running trials carry this driver's id and a heartbeat refreshed every `heartbeat_interval` seconds; a
    resume takes over trials whose driver is dead or whose heartbeat is older than `stale_after`, and refuses
    to run beside a live driver (`nasforge.experiment.driver`). `trial_timeout` stops a trial after that many
    seconds of wall time (it fails with `Timeout`; the search goes on).
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
        self.latency = make_latency_meter(latency, self.objectives, self.constraints, evaluator, space)
        #: proposals refused by a constraint before training, in this run (the strategy hears of each)
        self.rejected = 0
        self._rejected_in_a_row = 0
        self._closest: dict[str, float] = {}  # per constraint, the value seen closest to meeting it
        self.seed = seed
        self.spec = dict(spec) if spec is not None else None
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir(self)
        self.early_stopping = make_stopper(early_stopping)
        self.inheritance = make_inheritance(inherit_weights)
        self.warm_start = make_warm_start(warm_start)
        for key, value, allow_none in (
            ("trial_timeout", trial_timeout, True),
            ("heartbeat_interval", heartbeat_interval, False),
            ("stale_after", stale_after, False),
        ):
            if (value is None and not allow_none) or (
                value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0)
            ):
                raise ConfigError(
                    f"`{key}` must be a number of seconds > 0{' or None' if allow_none else ''}, but got {value!r}."
                )
        if stale_after <= heartbeat_interval:
            raise ConfigError(
                f"`stale_after` ({stale_after:g} s) must be longer than `heartbeat_interval` ({heartbeat_interval:g} s), "
                "or live trials would look dead between two heartbeats; raise stale_after."
            )
        #: wall-clock seconds one trial may run before it is stopped and fails with `Timeout` (None: no limit)
        self.trial_timeout = None if trial_timeout is None else float(trial_timeout)
        #: how often this driver stamps its running trials alive, and how old a stamp must be before another
        #: driver may take a trial over (`nasforge.experiment.driver`)
        self.heartbeat_interval, self.stale_after = float(heartbeat_interval), float(stale_after)
        #: what the warm start did in the last run: source, mode, trials used, archs enqueued (None: no warm start)
        self.warm_started: dict[str, Any] | None = None
        if self.inheritance is not None and not evaluator.supports_inheritance:
            raise ConfigError(
                f"Weight inheritance needs an evaluator that trains weights, but {type(evaluator).__name__} does "
                "not; drop `inherit_weights` or use a training evaluator such as ClassificationEvaluator."
            )
        self._curves: dict[int, list[Mapping[str, float]]] = {}  # reports of this run's trials, by number
        self._weights_of: dict[str, int] = {}  # arch id -> latest completed trial whose weights were saved
        self._peer_curves: dict[int, tuple[Any, list[Mapping[str, float]]]] = {}  # completed: (kind, curve)
        self._row: ExperimentRow | None = None
        self._static: dict[int, dict[str, float]] = {}  # metrics measured before training, by trial number
        self._callbacks: Sequence[Callback] = ()
        self._stop = False
        self.run_started: float | None = None
        self.run_timeout: float | None = None
        self.run_max_trials: int | None = None
        #: the whole-job budget of the last `run(total_time=...)`, which `export` retrains within
        self.job_budget: JobBudget | None = None

    # --- persistence -------------------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
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
            return self.storage.create_experiment(self.name, self._config())
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
        source = self._warm_source()  # a bad source is refused before the experiment is created
        self._row = row = self._open()
        self._stop = False
        self._callbacks = callbacks
        clock = self.executor.now  # wall time, or simulated time for a simulated executor
        self.run_started, self.run_timeout, self.run_max_trials = clock(), timeout, max_trials
        self.job_budget = budget
        if budget is not None:
            budget.clock = clock
            budget.start()
        durations: list[float] = []  # of this run's finished trials: how long the next one likely takes
        exp_id = row.id
        if row.strategy_state:
            try:
                self.strategy.load_state_dict(row.strategy_state)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise StorageError(
                    f"Experiment {self.name!r} was saved by strategy {row.config.get('strategy')}, whose state "
                    f"{self.strategy!r} cannot resume ({type(exc).__name__}: {exc}); resume with the same "
                    "strategy and middleware, or give this search a new experiment name."
                ) from exc
        me = driver_id()
        claimed = self._claim(exp_id, me)  # refuses, before anything else is written, if another driver is live
        records = {r.number: r for r in self.storage.get_trials(exp_id)}
        untold = self.storage.untold_numbers(exp_id)
        for number in untold:  # finished before a crash, but the strategy never heard
            self.strategy.tell(records[number])
        if untold:
            self.storage.mark_told(exp_id, untold, self.strategy.state_dict())
        if source is not None:
            self._apply_warm_start(source, fresh=not records and not row.strategy_state, records=records.values())
        requeue = list(claimed)
        n_total = max(records, default=-1) + 1
        running: dict[int, TrialRecord] = {}
        self.rejected = self._rejected_in_a_row = 0
        self._closest = {}
        self._static = {}
        self._curves, self._weights_of, self._peer_curves = {}, {}, {}
        for r in sorted(records.values(), key=lambda r: r.number):
            self._completed(r)

        def on_report(number: int, step: int, metrics: Mapping[str, float]) -> None:
            self.storage.add_report(exp_id, number, step, metrics)
            if self.early_stopping is not None and number in running:
                self._curves.setdefault(number, []).append(dict(metrics))
            for cb in callbacks:
                cb.on_report(self, number, step, metrics)

        def submit(record: TrialRecord) -> None:
            running[record.number] = record
            self._curves.pop(record.number, None)  # a rerun after a crash starts its curve again
            for cb in callbacks:
                cb.on_trial_start(self, record)
            job = self._job(record)
            if budget is not None:
                job = replace(job, deadline=budget.search_deadline())
            self.executor.submit(job)

        self.executor.start(self.evaluator, self.space, on_report)
        self.storage.set_status(exp_id, "running")
        beat_at = time.time()
        for cb in callbacks:
            cb.on_run_start(self)
        try:
            if not self.strategy.prepare(self):  # stopped before it could propose: a later run continues
                self.storage.set_status(exp_id, "paused")
                return self
            while True:
                now = clock()
                out_of_time = (timeout is not None and now - self.run_started >= timeout) or (
                    budget is not None and budget.search_over(now, typical_duration(durations))
                )
                while not (self._stop or out_of_time) and self.executor.n_running < self.executor.n_workers:
                    if requeue:
                        record = records[requeue.pop(0)].with_(state=TrialState.RUNNING, started_at=clock())
                        self.storage.update_trial(exp_id, record)
                    else:
                        if (max_trials is not None and n_total >= max_trials) or self.strategy.is_done():
                            break
                        proposal = self.strategy.ask()
                        if proposal is None:
                            break
                        arch = self.space.validate(proposal.arch)
                        static = self._static_metrics(arch)
                        broken = [c for c in self.constraints if c.check(static) is False]
                        if broken:  # refused before training: the strategy hears, nothing is stored
                            self._reject(proposal, arch, static, broken)
                            continue
                        self._rejected_in_a_row = 0
                        record = TrialRecord(
                            number=n_total,
                            arch=arch,
                            budget=proposal.budget,
                            state=TrialState.RUNNING,
                            info=dict(proposal.info),
                            started_at=clock(),
                        )
                        record = self.storage.append_trial(exp_id, record, self.strategy.state_dict(), me)
                        self._static[record.number] = static
                        n_total = max(n_total, record.number) + 1
                    submit(record)
                if self.executor.n_running == 0:
                    break
                for result in self.executor.wait(timeout=1.0):
                    if not result.info.get("pruned"):
                        durations.append(result.finished_at - result.started_at)
                    self._finish(exp_id, running.pop(result.number), result, callbacks)
                if time.time() - beat_at >= self.heartbeat_interval and running:
                    beat_at = time.time()
                    self.storage.heartbeat(exp_id, sorted(running), me, beat_at)
            self.storage.set_status(exp_id, "finished")
        except ConstraintsUnmet:
            self.storage.set_status(exp_id, "paused")
            raise
        except KeyboardInterrupt:
            kill = getattr(self.executor, "kill", None)
            if callable(kill):
                kill()
            self.storage.set_status(exp_id, "interrupted")
            raise
        finally:
            self.executor.shutdown()
            if budget is not None:
                budget.mark("search_end")
            for cb in callbacks:
                cb.on_run_end(self)
        return self

    def _claim(self, exp_id: int, me: str) -> list[int]:
        """Take over the trials left running by this process, by a dead driver or by one whose heartbeat went
        stale; refuse to run beside a live driver of the same experiment."""
        now = time.time()
        owners = self.storage.running_owners(exp_id)
        dead = [o for o in owners if o is not None and o != me and is_dead(o)]
        live = {
            o: beat
            for o, beat in owners.items()
            if o is not None and o != me and o not in dead and beat is not None and beat >= now - self.stale_after
        }
        if live:
            who, beat = max(live.items(), key=lambda kv: kv[1] or 0.0)
            raise StorageError(
                f"Experiment {self.name!r} has trials running under another driver ({who}, heartbeat "
                f"{now - (beat or now):.0f} s ago); two drivers on one experiment would run its search twice. Wait "
                f"for that run to end or stop it; if it died on another machine, its trials are taken over once "
                f"their heartbeat is {self.stale_after:g} s old."
            )
        return self.storage.claim_trials(exp_id, me, now - self.stale_after, dead)

    # --- warm start ---------------------------------------------------------------------------------------------
    def _warm_source(self) -> Source | None:
        """The warm start's source; on a resume, a source that has gone since only loses the archs still queued."""
        if self.warm_start is None:
            return None
        new = not self.storage.exists() or self.storage.get_experiment(self.name) is None
        try:
            return load_source(
                self.warm_start, self.storage, self.name, self.space, self.objective, self._config(), self.seed
            )
        except ConfigError as exc:
            if new:
                raise
            warnings.warn(f"Experiment {self.name!r} resumes without its warm start: {exc}", stacklevel=3)
            return None

    def _apply_warm_start(self, source: Source, fresh: bool, records: Iterable[TrialRecord]) -> None:
        """`tell`: the strategy learns from the source's trials once, before its first ask (its state keeps them
        across resumes). `enqueue`: the source's best archs not yet evaluated here are the strategy's next random
        proposals."""
        assert self.warm_start is not None
        mode = source.mode if self.strategy.accepts_history else "enqueue"
        enqueued = 0
        if mode == "tell":
            if fresh:
                self.strategy.warm_start(source.records)
                self.save_strategy_state()
        else:
            done = {arch_key(self.space, r.arch) for r in records}
            queue = []
            for r in source.records[: self.warm_start.top_k]:
                key = arch_key(self.space, r.arch)
                if key not in done:  # evaluated here already (before a resume), or isomorphic to one queued
                    done.add(key)
                    queue.append(r.arch)
            if queue:
                fallback = self.strategy.sampler or self.space.random
                self.strategy.set_sampler(queue_sampler(queue, fallback))
            enqueued = len(queue)
        self.warm_started = {**source.summary(), "mode": mode, "enqueued": enqueued}

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
    ) -> tuple[Path, dict[str, float]]:
        """Export a trial's network to the folder `path`: the best trial's (`best_trial`, which meets the
        constraints), or the given `trial` (a record or number, e.g. from `pick`).

        With a training evaluator the arch is retrained from scratch on train + valid for `epochs`
        (default: its search epochs; fewer if `time_budget` seconds would not hold them) and measured once
        on the test split, with `seed` (default: the experiment's seed); returns the folder and metrics. When
        the experiment measures latency, the exported network's latency is measured again, uncached
        (`latency_ms`; `search_latency_ms` is the search's). `formats` (default
        `nasforge.export.DEFAULT_FORMATS`): besides the weights, any of `torchscript`, `onnx` and `python`,
        each checked against the network on a real batch (`export.json`).

        `ensemble` > 1 retrains that many archs, the chosen one and the next best distinct ones that meet the
        constraints, and exports their `nasforge.export.Ensemble` (class probabilities averaged;
        `ensemble.json` lists the members). Its metrics add `ensemble_size`, and `best_member_test_acc` and
        `member_mean_test_acc`, which the ensemble's `test_acc` compares with. `ensemble_seeds` > 1 retrains
        each of those archs that many times from scratch, with seeds `seed`, `seed + 1`, ..., and averages
        them all (bagging over training randomness: on small data one arch's retrains differ by as much as
        its neighbours do); the best member is then the chosen arch at `seed`, the network a single export
        gives. Members are retrained one after another, each within an equal share of what is left of
        `time_budget` (so time a fast member leaves goes to the ones after it).
        Without a training evaluator nothing is retrained, so the seeds count once.

        After `run(total_time=...)` the retrain gets what is left of that budget less the export's reserve
        (or `time_budget`, if shorter), and the metrics say where the job's time went (`JobBudget.spent`).
        """
        from nasforge.export import (
            DEFAULT_FORMATS,
            Ensemble,
            check_ensemble_seeds,
            check_ensemble_size,
            check_formats,
            check_time_budget,
            export_model,
            write_metrics,
        )

        wanted = check_formats(formats if formats is not None else DEFAULT_FORMATS)  # before hours of retraining
        check_ensemble_size(ensemble)
        check_ensemble_seeds(ensemble_seeds)
        check_time_budget(time_budget, "`time_budget` of Experiment.export")
        seed = self.seed if seed is None else check_seed(seed, "Experiment.export")
        job = self.job_budget if self.job_budget is not None and self.job_budget.started else None

        chosen = self._trial(trial) if trial is not None else self._best_measured_again()
        if chosen is None:
            raise StorageError(
                f"Experiment {self.name!r} has no completed trial that meets its constraints to export yet; "
                "run it (longer), or loosen the constraints."
            )
        metrics: dict[str, float] = {f"search_{k}": float(v) for k, v in chosen.metrics.items()}
        metrics["trial"] = float(chosen.number)
        train_final = getattr(self.evaluator, "train_final", None)
        final_space = getattr(self.evaluator, "final_space", None)
        # the space as retrained, built once for every member (train_final leaves a final space as it is): e.g. a
        # text space's vocab_size once the tokenizer is refitted on train + valid
        space = final_space(self.space) if callable(final_space) else self.space
        if not callable(train_final):
            ensemble_seeds = 1  # untrained copies of one arch would be the same network
        runs = [(r, seed + i) for r in self._ensemble_members(chosen, ensemble) for i in range(ensemble_seeds)]
        networks, results = [], []
        if job is not None:
            job.mark("retrain_start")
            left = job.retrain_time()
            time_budget = left if time_budget is None else min(time_budget, left)
        started = time.monotonic()
        for i, (record, member_seed) in enumerate(runs):
            if callable(train_final):
                n_epochs = epochs if epochs is not None else int(record.metrics.get("epochs", 1))
                # an equal share of what is left: time a fast member did not use goes to the ones after it
                budget = None
                if time_budget is not None:
                    budget = max(time_budget - (time.monotonic() - started), 0.0) / (len(runs) - i)
                network, final = train_final(space, record.arch, n_epochs, member_seed, log, budget)
            else:
                network, final = space.freeze(record.arch), {}
            networks.append(network)
            results.append(final)
        if job is not None:
            job.mark("retrain_end")
        members: list[dict[str, Any]] | None = None
        if len(networks) == 1:
            model = networks[0]
            metrics.update(results[0])
        else:
            model = Ensemble(networks)
            members = [
                {
                    "trial": r.number,
                    "seed": member_seed,
                    "arch": json.loads(r.arch.to_json()),
                    **{k: float(v) for k, v in res.items()},
                }
                for (r, member_seed), res in zip(runs, results, strict=True)
            ]
            metrics["ensemble_size"] = float(len(networks))
            metrics["ensemble_seeds"] = float(ensemble_seeds)
            metrics["train_time"] = sum(float(res.get("train_time", 0.0)) for res in results)
            accs = [float(res["test_acc"]) for res in results if "test_acc" in res]
            test_metrics = getattr(self.evaluator, "test_metrics", None)
            if accs and callable(test_metrics):
                metrics.update(test_metrics(model))
                metrics["best_member_test_acc"] = accs[0]
                metrics["member_mean_test_acc"] = sum(accs) / len(accs)
        input_shape = getattr(self.evaluator, "input_shape", None)
        preprocessing = getattr(self.evaluator, "preprocessing", None)
        example_input = getattr(self.evaluator, "example_input", None)
        example = example_input() if callable(example_input) else None
        if self.latency is not None:
            shape = None  # the meter's, unless the refitted data changed the input (a table's width)
            if example is not None and input_shape is not None and tuple(example.shape[1:]) != tuple(input_shape):
                shape = tuple(example.shape[1:])
            metrics["latency_ms"] = self.latency.measure_model(model, shape).median_ms
        folder = export_model(
            model, space, chosen.arch, path, metrics, input_shape, preprocessing, wanted, example, members
        )
        if job is not None:  # the account, once the formats are written and checked
            job.mark("export_end")
            metrics.update(job.spent())
            write_metrics(folder, metrics)
        return folder, metrics

    def _ensemble_members(self, chosen: TrialRecord, size: int) -> list[TrialRecord]:
        """`chosen`, then the best other completed trials that meet the constraints, one per distinct arch
        (isomorphic archs count once), up to `size` in all."""
        members, seen = [chosen], {arch_key(self.space, chosen.arch)}
        ranked = sorted(
            (t for t in self.trials if feasible(t, self.constraints) and self.objective.score(t) is not None),
            key=lambda t: (-(self.objective.score(t) or 0.0), t.number),
        )
        for record in ranked:
            if len(members) >= size:
                break
            key = arch_key(self.space, record.arch)
            if key not in seen:
                seen.add(key)
                members.append(record)
        if len(members) < size:
            warnings.warn(
                f"Experiment {self.name!r} has {len(members)} distinct completed archs that meet its constraints, "
                f"fewer than the {size} asked for the ensemble; it is exported with {len(members)}.",
                stacklevel=3,
            )
        return members

    def _best_measured_again(self) -> TrialRecord | None:
        """The best trial, unless its latency, measured again now, breaks a latency constraint: then the next
        best that keeps them all, so that an export never hands out a network that is too slow here."""
        limits = [c for c in self.constraints if c.metric == "latency_ms"]
        if self.latency is None or not limits:
            return self.best_trial
        feasible_trials = [t for t in self.trials if feasible(t, self.constraints)]
        ranked = sorted(
            (t for t in feasible_trials if self.objective.score(t) is not None),
            key=lambda t: (-(self.objective.score(t) or 0.0), t.number),
        )
        for candidate in ranked[:20]:
            again = self.latency.measure_model(self.space.freeze(candidate.arch)).median_ms
            if all(c.holds(again) for c in limits):
                return candidate
            warnings.warn(
                f"Trial {candidate.number} measured {again:.4g} ms now against {candidate.metrics['latency_ms']:.4g} "
                f"ms in the search, which breaks {', '.join(map(str, limits))}; the next best is exported instead.",
                stacklevel=3,
            )
        return None

    def _trial(self, trial: TrialRecord | int) -> TrialRecord:
        number = trial.number if isinstance(trial, TrialRecord) else trial
        if not isinstance(number, int) or isinstance(number, bool):
            raise ConfigError(f"`trial` must be a TrialRecord or a trial number, but got {trial!r}.")
        found = next((t for t in self.trials if t.number == number), None)
        if found is None or found.state is not TrialState.COMPLETE:
            state = "does not exist" if found is None else f"is {found.state.value}"
            raise StorageError(
                f"Trial {number} of experiment {self.name!r} {state}; export a completed trial (see `nasforge "
                "trials` or `nasforge pareto`)."
            )
        return found

    # --- metrics known before training: constraints and measured latency --------------------------------------
    def _static_metrics(self, arch: Arch) -> dict[str, float]:
        """What can be known of `arch` without training it and is needed: the constrained metrics the evaluator
        can give (`static_metrics`), and the measured latency when the experiment measures it."""
        names = {c.metric for c in self.constraints}
        out = self.evaluator.static_metrics(self.space, arch, names) if names else {}
        if self.latency is not None:
            out["latency_ms"] = self.latency(self.space, arch)
        return out

    def _reject(
        self, proposal: Proposal, arch: Arch, static: Mapping[str, float], broken: Sequence[Constraint]
    ) -> None:
        self.rejected += 1
        self._rejected_in_a_row += 1
        for c in broken:
            seen = self._closest.get(str(c))
            value = float(static[c.metric])
            if seen is None or (value < seen if c.op == "<=" else value > seen):
                self._closest[str(c)] = value
        shown = ", ".join(f"{c.metric} = {static[c.metric]:g}, not {c.op} {c.bound:g}" for c in broken)
        self.strategy.tell(
            TrialRecord(
                SYNTHETIC,
                arch,
                proposal.budget,
                TrialState.FAILED,
                metrics=dict(static),
                error=f"ConstraintViolated: {shown}",
                info={**proposal.info, "rejected": True},
            )
        )
        if self._rejected_in_a_row >= MAX_REJECTIONS_IN_A_ROW:
            closest = "; ".join(f"{c}: closest {v:g}" for c, v in self._closest.items())
            raise ConstraintsUnmet(
                f"Experiment {self.name!r}: {self._rejected_in_a_row} proposals in a row broke the constraints before "
                f"training ({closest}); the space seems to hold few archs that meet them on this machine. Loosen the "
                "constraints, or shrink the space towards smaller networks."
            )
        if self.rejected % 1000 == 0:
            warnings.warn(
                f"Experiment {self.name!r}: {self.rejected} proposals broke the constraints "
                f"({', '.join(map(str, self.constraints))}) before training; loosen them if few archs can meet "
                "them.",
                stacklevel=3,
            )

    # --- early stopping and weight inheritance -----------------------------------------------------------------
    def _job(self, record: TrialRecord) -> Job:
        """The job for a trial: its seed, and where it stands with early stopping and weight inheritance."""
        job = Job(
            record.number, record.arch, record.budget, trial_seed(self.seed, record.number), timeout=self.trial_timeout
        )
        inheriting = False
        if self.inheritance is not None:
            weights_dir = self.checkpoint_dir / "weights"
            parent = self._weights_of.get(str(record.info.get("parent", "")))
            weights_in = None
            if parent is not None and (weights_dir / f"{parent}.pt").exists():
                weights_in, inheriting = str(weights_dir / f"{parent}.pt"), True
            job = replace(
                job,
                weights_in=weights_in,
                weights_out=str(weights_dir / f"{record.number}.pt"),
                inherit_epochs=self.inheritance,
            )
        if self.early_stopping is not None:
            kind = curve_kind(record.budget, inheriting)
            peers = tuple(
                tuple(self.objective.sign * float(m.get(self.objective.metric, float("nan"))) for m in curve)
                for number, (k, curve) in self._peer_curves.items()
                if k == kind and number != record.number
            )
            check = StopCheck(self.early_stopping, self.objective.metric, self.objective.sign, peers)
            job = replace(job, stop_check=check)
        return job

    def _completed(self, record: TrialRecord) -> None:
        """Remember a finished trial: its curve as a peer for early stopping, its weights for children."""
        if record.state is not TrialState.COMPLETE:
            return
        if self.inheritance is not None:
            self._weights_of[record.arch.id] = record.number
        if self.early_stopping is not None:
            curve = self._curves.pop(record.number, None)
            if curve is None:  # finished in an earlier run: read its reports back
                curve = [m for _, m in self.storage.get_reports(self.id, record.number)]
            kind = curve_kind(record.budget, float(record.metrics.get("inherited", 0.0)) > 0)
            self._peer_curves[record.number] = (kind, curve)

    def _finish(self, exp_id: int, record: TrialRecord, result: JobResult, callbacks: Sequence[Callback]) -> None:
        metrics, error = result.metrics, result.error
        static = self._static.pop(record.number, None)
        if metrics is not None:
            if static is None:  # a trial requeued after a crash: measured again (from the cache, for latency)
                static = self._static_metrics(record.arch)
            metrics = {**static, **metrics}
            missing = [o.metric for o in self.objectives if o.metric not in metrics]
            if missing and not result.info.get("pruned"):  # a trial cut before its first report has none
                error = (
                    f"MissingMetric: the evaluator returned {sorted(metrics)} but the objectives need "
                    f"{', '.join(map(repr, missing))}; set the experiment's objectives to metrics it reports."
                )
        state = TrialState.COMPLETE if error is None else TrialState.FAILED
        if error is None and result.info.get("pruned"):
            state = TrialState.PRUNED
        info = {**record.info, **result.info}
        done = record.with_(
            state=state,
            metrics=dict(metrics or {}),
            error=error,
            info=info,
            started_at=result.started_at,
            finished_at=result.finished_at,
        )
        self.storage.update_trial(exp_id, done)  # written before anyone acts on it
        self._completed(done)
        self._curves.pop(done.number, None)
        self.strategy.tell(done)
        self.storage.mark_told(exp_id, [done.number], self.strategy.state_dict())
        for cb in callbacks:
            cb.on_trial_end(self, done)


def make_latency_meter(
    latency: Mapping[str, Any] | LatencySetting | LatencyMeter | bool | None,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
    evaluator: BaseEvaluator,
    space: ModelSpace,
) -> LatencyMeter | None:
    """The experiment's latency meter: given, or made when an objective or constraint names `latency_ms` and
    the evaluator cannot look it up.

    A mapping holds `LatencySetting` options (backend, device, batch_size, threads, warmup, repeats) and
    optionally `input_shape` (default: the evaluator's) and `cache` (a file, or false for none)."""
    named = "latency_ms" in {o.metric for o in objectives} | {c.metric for c in constraints}
    needed = named and "latency_ms" not in evaluator.static_metric_names  # e.g. a table of measured latencies
    if isinstance(latency, LatencyMeter):
        return latency
    if latency is False or (latency is None and not needed):
        if needed:
            raise ConfigError(
                "An objective or constraint names `latency_ms`, but latency measurement was turned off "
                "(latency=False); turn it on, or drop latency_ms from the objectives and constraints."
            )
        return None
    options: dict[str, Any] = {}
    if isinstance(latency, LatencySetting):
        options = {"setting": latency}
    elif isinstance(latency, Mapping):
        options = dict(latency)
    elif latency is not None and latency is not True:
        raise ConfigError(
            f"`latency` must be true, a mapping of measurement options (backend, threads, repeats, ...) or a "
            f"LatencyMeter, but got {latency!r}."
        )
    shape = options.pop("input_shape", None) or getattr(evaluator, "input_shape", None)
    if shape is None:
        raise ConfigError(
            f"Measuring latency needs the network's input shape, which {type(evaluator).__name__} does not know; "
            "give it as latency={'input_shape': [3, 32, 32]} (channels, height, width)."
        )
    cache = options.pop("cache", True)
    setting = options.pop("setting", None) or LatencySetting.parse(options)
    return LatencyMeter(tuple(int(d) for d in shape), setting, cache=cache)


def describe_latency(meter: LatencyMeter | None) -> dict[str, Any] | None:
    if meter is None:
        return None
    return {**dataclasses.asdict(meter.setting), "input_shape": list(meter.input_shape)}


def pick_trial(
    records: Iterable[TrialRecord], objectives: Sequence[Objective], rule: str, constraints: Sequence[Constraint] = ()
) -> TrialRecord | None:
    """`Experiment.pick` on any records: the knee of the feasible front, or the best in the primary objective."""
    if rule not in ("knee", "best"):
        raise ConfigError(f"A pick rule is 'knee' or 'best', but got {rule!r}.")
    kept, scores = score_matrix(records, objectives, constraints)
    if not kept:
        return None
    if rule == "best" or scores.shape[1] == 1:
        i = best_under(scores, [])
        return None if i is None else kept[i]
    return kept[knee_point(scores)]


def hypervolume_of(
    records: Iterable[TrialRecord],
    objectives: Sequence[Objective],
    reference: Mapping[str, float] | Sequence[float],
    constraints: Sequence[Constraint] = (),
) -> float:
    """The hypervolume of the feasible records' objectives over `reference` (raw metric values)."""
    if isinstance(reference, Mapping):
        unknown = set(reference) - {o.metric for o in objectives}
        missing = [o.metric for o in objectives if o.metric not in reference]
        if unknown or missing:
            raise ConfigError(
                f"A hypervolume reference names each objective once ({', '.join(o.metric for o in objectives)}), "
                f"but got {dict(reference)!r}."
            )
        ref = [float(reference[o.metric]) for o in objectives]
    else:
        ref = [float(v) for v in reference]
        if len(ref) != len(objectives):
            raise ConfigError(
                f"A hypervolume reference has one value per objective ({len(objectives)}), but got {list(reference)!r}."
            )
    _, scores = score_matrix(records, objectives, constraints)
    signed = [o.sign * v for o, v in zip(objectives, ref, strict=True)]
    return hypervolume(scores, signed) if len(scores) else 0.0


def curve_kind(budget: float | None, inherited: bool) -> tuple[float | None, bool]:
    """Curves compare step by step only within a kind: the same budget, inherited weights or not."""
    return (budget, inherited)


def best_of(records: Sequence[TrialRecord], objective: Objective) -> TrialRecord | None:
    scored = [(objective.score(r), r) for r in records if r.state is TrialState.COMPLETE]
    valid = [(s, r) for s, r in scored if s is not None]
    if not valid:
        return None
    return max(valid, key=lambda sr: (sr[0], -sr[1].number))[1]


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
