"""`TrialLoop`: one run of an experiment, from resuming its stored trials to the last one finished.

The loop owns what lives only as long as the run: the trials running now and those to requeue, the
durations of the finished ones (how long the next likely takes, for the job budget), the static metrics
measured before training, the constraint refusals (`ConstraintGate`), the curves and weights of early
stopping and weight inheritance (`TrialTracking`), the heartbeat and the turns at the strategy
(`StrategyTurns`), which let any number of loops, in this process or on other machines, run one experiment
together. The `Experiment` validates a run's arguments, opens its storage row and hands over to
`TrialLoop.run`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from nasforge.errors import ConfigError, StorageError
from nasforge.estimation.tracking import TrialTracking
from nasforge.estimation.warm_start import Source, load_source, queue_sampler
from nasforge.executors import Job, JobResult
from nasforge.experiment.budget import typical_duration
from nasforge.experiment.callbacks import Callback
from nasforge.experiment.driver import end_driver, is_dead, new_driver_id
from nasforge.experiment.gate import ConstraintGate, ConstraintsUnmet
from nasforge.experiment.turns import StrategyTurns
from nasforge.storage import ExperimentRow
from nasforge.strategies.base import arch_key
from nasforge.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from nasforge.experiment.experiment import Experiment

__all__ = ["TrialLoop", "trial_seed", "warm_source"]

UNFINISHED = [s for s in TrialState if not s.finished]
WAIT_POLL = 0.2  # seconds between looks of a driver whose strategy waits on other drivers' running trials


def trial_seed(seed: int, number: int) -> int:
    return (seed * 1_000_003 + number) % (2**31 - 1)


class TrialLoop:
    """Runs an experiment's trials: ask, check, store, submit; wait, store, tell; until out of trials or time.

    The run's limits are the experiment's (`run_max_trials`, `run_timeout`, `job_budget`, `stop()`), set by
    `Experiment.run` before it hands over.
    """

    def __init__(
        self, experiment: Experiment, row: ExperimentRow, callbacks: Sequence[Callback], source: Source | None
    ) -> None:
        self.experiment = exp = experiment
        self.row, self.exp_id = row, row.id
        self.callbacks = callbacks
        self.source = source
        self.storage, self.strategy, self.executor, self.space = exp.storage, exp.strategy, exp.executor, exp.space
        self.clock = exp.executor.now  # wall time, or simulated time for a simulated executor
        self.me = new_driver_id()
        self.turns = StrategyTurns(self.storage, exp.name, self.exp_id, self.me, self.strategy, exp.stale_after)
        self.gate = ConstraintGate(exp.name, exp.space, exp.evaluator, exp.strategy, exp.constraints, exp.latency)
        self.tracking = TrialTracking(
            exp.objective,
            exp.early_stopping,
            exp.inheritance,
            exp.checkpoint_dir / "weights",
            lambda number: [m for _, m in self.storage.get_reports(self.exp_id, number)],
            exp.keep_weights,
            exp.resumable,
        )
        self.records: dict[int, TrialRecord] = {}  # stored before this run, by number
        self.requeue: list[TrialRecord] = []  # trials left running by a dead driver: they run again
        self.running: dict[int, TrialRecord] = {}
        self.static: dict[int, dict[str, float]] = {}  # metrics measured before training, by trial number
        self.durations: list[float] = []  # of this run's finished trials: how long the next one likely takes
        self.n_total = 0  # trials the experiment holds: the next one's number
        self.beat_at = time.time()
        self.waiting = False  # the strategy had nothing to propose at the last ask: it waits on running trials

    def run(self) -> None:
        """Resume, then keep the executor's workers busy until nothing more may or can be proposed."""
        exp, storage, budget = self.experiment, self.storage, self.experiment.job_budget
        self._resume()
        self.executor.start(exp.evaluator, self.space, self._on_report)
        storage.set_status(self.exp_id, "running")
        self.beat_at = time.time()
        for cb in self.callbacks:
            cb.on_run_start(exp)
        try:
            if not self.strategy.prepare(exp):  # stopped before it could propose: a later run continues
                storage.set_status(self.exp_id, "paused")
                return
            while True:
                out_of_time = self._out_of_time()
                self._fill(out_of_time)
                if self.executor.n_running == 0:
                    if self.waiting and not out_of_time and self._others_running():
                        time.sleep(WAIT_POLL)  # the strategy waits on other drivers' trials: so does this driver
                        self._heartbeat()
                        continue
                    break
                results = self.executor.wait(timeout=1.0)
                if results:
                    with self.turns.turn():  # the strategy hears them all in one turn
                        for result in results:
                            if not result.info.get("pruned"):
                                self.durations.append(result.finished_at - result.started_at)
                            self._finish(self.running.pop(result.number), result)
                self._heartbeat()
            if not self._others_running():  # else it stays "running": the last driver to end finishes it
                storage.set_status(self.exp_id, "finished")
        except ConstraintsUnmet:
            storage.set_status(self.exp_id, "paused")
            raise
        except KeyboardInterrupt:
            kill = getattr(self.executor, "kill", None)
            if callable(kill):
                kill()
            storage.set_status(self.exp_id, "interrupted")
            raise
        finally:
            end_driver(self.me)  # whatever it left running is anyone's now
            self.executor.shutdown()
            if budget is not None:
                budget.mark("search_end")
            for cb in self.callbacks:
                cb.on_run_end(exp)

    # --- one turn of the loop -----------------------------------------------------------------------------------
    def _out_of_time(self) -> bool:
        exp, budget, now = self.experiment, self.experiment.job_budget, self.clock()
        timeout, started = exp.run_timeout, exp.run_started or 0.0
        return (timeout is not None and now - started >= timeout) or (
            budget is not None and budget.search_over(now, typical_duration(self.durations))
        )

    def _free(self) -> bool:
        return not self.experiment.stop_requested and self.executor.n_running < self.executor.n_workers

    def _full(self) -> bool:
        """True once the experiment holds the run's `max_trials` trials (counting every driver's)."""
        max_trials = self.experiment.run_max_trials
        return max_trials is not None and self.n_total >= max_trials

    def _fill(self, out_of_time: bool) -> None:
        """Start trials while workers are free: the requeued ones first, then the strategy's proposals, asked
        in this driver's turn at the strategy."""
        self.waiting = False
        if out_of_time:
            return
        while self.requeue and self._free():
            record = self.requeue.pop(0).with_(state=TrialState.RUNNING, started_at=self.clock())
            self.storage.update_trial(self.exp_id, record)
            self._submit(record)
        if not self._free() or self._full():
            return
        with self.turns.turn() as turn:
            self.n_total = max(self.n_total, turn.n_trials)  # other drivers' trials count too
            while self._free() and not self._full() and not self.strategy.is_done():
                proposal = self.strategy.ask()
                if proposal is None:  # nothing to propose until a running trial's result is told
                    self.waiting = True
                    break
                arch = self.space.validate(proposal.arch)
                static = self.gate.static_metrics(arch)
                if not self.gate.admits(proposal, arch, static):  # the strategy heard; nothing is stored
                    continue
                record = TrialRecord(
                    number=self.n_total,
                    arch=arch,
                    budget=proposal.budget,
                    state=TrialState.RUNNING,
                    info=dict(proposal.info),
                    started_at=self.clock(),
                )
                record = self.storage.append_trial(self.exp_id, record, self.strategy.state_dict(), self.me)
                self.turns.wrote()
                self.static[record.number] = static
                self.n_total = max(self.n_total, record.number) + 1
                self._submit(record)

    def _submit(self, record: TrialRecord) -> None:
        exp, budget = self.experiment, self.experiment.job_budget
        self.running[record.number] = record
        for cb in self.callbacks:
            cb.on_trial_start(exp, record)
        job = Job(
            record.number, record.arch, record.budget, trial_seed(exp.seed, record.number), timeout=exp.trial_timeout
        )
        job = replace(job, **self.tracking.job_fields(record))
        if budget is not None:
            job = replace(job, deadline=budget.search_deadline())
        self.executor.submit(job)

    def _on_report(self, number: int, step: int, metrics: Mapping[str, float]) -> None:
        self.storage.add_report(self.exp_id, number, step, metrics)
        if number in self.running:
            self.tracking.reported(number, metrics)
        for cb in self.callbacks:
            cb.on_report(self.experiment, number, step, metrics)

    def _finish(self, record: TrialRecord, result: JobResult) -> None:
        metrics, error = result.metrics, result.error
        static = self.static.pop(record.number, None)
        if metrics is not None:
            if static is None:  # a trial requeued after a crash: measured again (from the cache, for latency)
                static = self.gate.static_metrics(record.arch)
            metrics = {**static, **metrics}
            missing = [o.metric for o in self.experiment.objectives if o.metric not in metrics]
            if missing and not result.info.get("pruned"):  # a trial cut before its first report has none
                error = (
                    f"MissingMetric: the evaluator returned {sorted(metrics)} but the objectives need "
                    f"{', '.join(map(repr, missing))}; set the experiment's objectives to metrics it reports."
                )
        state = TrialState.COMPLETE if error is None else TrialState.FAILED
        if error is None and result.info.get("pruned"):
            state = TrialState.PRUNED
        done = record.with_(
            state=state,
            metrics=dict(metrics or {}),
            error=error,
            info={**record.info, **result.info},
            started_at=result.started_at,
            finished_at=result.finished_at,
        )
        self.storage.update_trial(self.exp_id, done)  # written before anyone acts on it
        self.tracking.finished(done)
        self.strategy.tell(done)
        self.storage.mark_told(self.exp_id, [done.number], self.strategy.state_dict())
        self.turns.wrote()
        for cb in self.callbacks:
            cb.on_trial_end(self.experiment, done)

    def _heartbeat(self) -> None:
        """Now and then: stamp this driver's trials alive, and take over those of drivers that died."""
        if time.time() - self.beat_at >= self.experiment.heartbeat_interval and self.running:
            self.beat_at = time.time()
            self.storage.heartbeat(self.exp_id, sorted(self.running), self.me, self.beat_at)
            self._take_over(refuse=False)

    def _take_over(self, refuse: bool) -> None:
        """Queue the trials claimed from dead drivers (and, at the start, the ones nobody owns) to run again."""
        queued = {r.number for r in self.requeue}
        numbers = [n for n in self._claim(refuse) if n not in self.running and n not in queued]
        if numbers:
            left = {r.number: r for r in self.storage.get_trials(self.exp_id, UNFINISHED)}
            self.requeue += [left[n] for n in numbers if n in left]

    def _others_running(self) -> bool:
        """True while another live driver has trials running (this run's end is not the experiment's)."""
        now, stale_after = time.time(), self.experiment.stale_after
        return any(
            owner not in (None, self.me) and beat is not None and beat >= now - stale_after and not is_dead(owner)
            for owner, beat in self.storage.running_owners(self.exp_id).items()
        )

    # --- before the first trial ---------------------------------------------------------------------------------
    def _resume(self) -> None:
        """Pick up where the experiment stands: the strategy's state, the trials to take over, the finished
        trials the strategy never heard of, the warm start, and the curves and weights of completed trials."""
        storage, strategy = self.storage, self.strategy
        with self.turns.turn() as turn:  # loads the stored state: one this strategy cannot load fails before a write
            # a strategy that cannot be shared refuses to run beside a live driver, before anything is written
            self._take_over(refuse=not strategy.cooperative)
            self.records = records = {r.number: r for r in storage.get_trials(self.exp_id)}
            untold = storage.untold_numbers(self.exp_id)
            for number in untold:  # finished before a crash, but the strategy never heard
                strategy.tell(records[number])
            if untold:
                storage.mark_told(self.exp_id, untold, strategy.state_dict())
                self.turns.wrote()
            if self.source is not None:
                self._apply_warm_start(
                    self.source, fresh=not records and not turn.version and not self.row.strategy_state
                )
        self.n_total = max(records, default=-1) + 1
        self.tracking.resume(records.values())

    def _claim(self, refuse: bool) -> list[int]:
        """Take over the trials left running by a dead driver (one of this process that has ended, too) or by
        one whose heartbeat went stale; with `refuse`, refuse to run beside a live driver instead."""
        exp, me, now = self.experiment, self.me, time.time()
        owners = self.storage.running_owners(self.exp_id)
        dead = [o for o in owners if o is not None and o != me and is_dead(o)]
        live = {
            o: beat
            for o, beat in owners.items()
            if o is not None and o != me and o not in dead and beat is not None and beat >= now - exp.stale_after
        }
        if live and refuse:
            who, beat = max(live.items(), key=lambda kv: kv[1] or 0.0)
            raise StorageError(
                f"Experiment {exp.name!r} has trials running under another driver ({who}, heartbeat "
                f"{now - (beat or now):.0f} s ago), and its strategy {self.strategy!r} cannot be shared by two "
                f"drivers. Wait for that run to end or stop it; if it died on another machine, its trials are "
                f"taken over once their heartbeat is {exp.stale_after:g} s old."
            )
        return self.storage.claim_trials(self.exp_id, me, now - exp.stale_after, dead)

    def _apply_warm_start(self, source: Source, fresh: bool) -> None:
        """`tell`: the strategy learns from the source's trials once, before its first ask (its state keeps them
        across resumes). `enqueue`: the source's best archs not yet evaluated here are the strategy's next random
        proposals."""
        exp, strategy, space = self.experiment, self.strategy, self.space
        warm = exp.warm_start
        assert warm is not None  # a source is loaded only for an experiment with a warm start
        mode = source.mode if strategy.accepts_history else "enqueue"
        enqueued = 0
        if mode == "tell":
            if fresh:
                strategy.warm_start(source.records)
                exp.save_strategy_state()
                self.turns.wrote()
        else:
            done = {arch_key(space, r.arch) for r in self.records.values()}
            queue = []
            for r in source.records[: warm.top_k]:
                key = arch_key(space, r.arch)
                if key not in done:  # evaluated here already (before a resume), or isomorphic to one queued
                    done.add(key)
                    queue.append(r.arch)
            if queue:
                fallback = strategy.sampler or space.random
                storage, exp_id = self.storage, self.exp_id

                def taken() -> set[Hashable]:  # read in this driver's turn, so other drivers' proposals show
                    return {arch_key(space, t.arch) for t in storage.get_trials(exp_id)}

                strategy.set_sampler(queue_sampler(queue, fallback, taken, lambda arch: arch_key(space, arch)))
            enqueued = len(queue)
        exp.warm_started = {**source.summary(), "mode": mode, "enqueued": enqueued}


def warm_source(experiment: Experiment) -> Source | None:
    """The experiment's warm-start source; on a resume, a source that has gone since only loses the archs still
    queued. Loaded before the experiment is created, so that a bad source is refused before any write."""
    exp = experiment
    if exp.warm_start is None:
        return None
    new = not exp.storage.exists() or exp.storage.get_experiment(exp.name) is None
    try:
        return load_source(
            exp.warm_start, exp.storage, exp.name, exp.space, exp.objective, exp.stored_config(), exp.seed
        )
    except ConfigError as exc:
        if new:
            raise
        warnings.warn(f"Experiment {exp.name!r} resumes without its warm start: {exc}", stacklevel=3)
        return None
