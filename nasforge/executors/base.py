"""`BaseExecutor`: where evaluations run. The experiment loop never knows which one it has."""

from __future__ import annotations

import abc
import contextlib
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from nasforge.evaluators.base import BaseEvaluator, EvalContext, TrialError, TrialPruned
from nasforge.space import Arch, ModelSpace

OnReport = Callable[[int, int, Mapping[str, float]], None]  # (trial number, step, metrics)


@dataclass(frozen=True)
class Job:
    number: int
    arch: Arch
    budget: float | None
    seed: int
    #: called with the reports so far after each report; True stops the trial (`estimation.stopping.StopCheck`)
    stop_check: Callable[[list[Mapping[str, float]]], bool] | None = None
    weights_in: str | None = None  # a parent's weights to start from (weight inheritance)
    weights_out: str | None = None  # where to save the trained weights for children
    inherit_epochs: Any = None  # `WeightInheritance` deciding an inheriting child's epochs
    #: the budget the arch already trained for in the trial whose weights `weights_in` holds: this trial
    #: continues it (a resumed promotion) and trains the rest of its own budget
    resumed: float | None = None
    #: wall-clock seconds the trial may run; the executor stops it and fails it with a `Timeout:` error
    timeout: float | None = None
    #: the wall-clock time (`time.time()`) by which the trial must end, the search's deadline under a whole-job
    #: budget: the trial is stopped there and kept as PRUNED, its last report standing as its result
    deadline: float | None = None


class TrialTimeout(Exception):
    """Raised inside a trial run in this process when its `Job.timeout` or `Job.deadline` passes (SIGALRM)."""


@contextlib.contextmanager
def alarm(seconds: float | None) -> Iterator[None]:
    """Raise `TrialTimeout` in the main thread after `seconds` (no-op without a limit, off the main thread, or
    where SIGALRM does not exist)."""
    usable = (
        seconds is not None and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def ring(_signum: int, _frame: Any) -> None:
        raise TrialTimeout()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def timed_out(job: Job, started_at: float, now: float | None = None) -> JobResult:
    """The failed result of a job stopped at its `timeout`."""
    end = time.time() if now is None else now
    return JobResult(
        job.number, None, f"Timeout: the trial ran longer than its limit of {job.timeout:g} s", started_at, end
    )


def worker_lost(job: Job, why: str, attempts: int, now: float | None = None) -> JobResult:
    """The failed result of a job whose worker (process, actor, node) died on every attempt."""
    end = time.time() if now is None else now
    times = "once" if attempts == 1 else f"on all {attempts} attempts"
    return JobResult(job.number, None, f"WorkerDied: {why} ({times})", end, end, {"attempts": attempts})


@dataclass(frozen=True)
class JobResult:
    number: int
    metrics: Mapping[str, float] | None
    error: str | None
    started_at: float
    finished_at: float
    info: Mapping[str, object] = field(default_factory=dict)


def run_job(
    evaluator: BaseEvaluator, space: ModelSpace, job: Job, report: Callable[[int, Mapping[str, float]], None]
) -> JobResult:
    """Evaluate one job, turning any exception into a failed result (the search goes on).

    With a `stop_check`, each report is checked after it is sent; when the check says stop, the trial ends
    there as pruned (`info["pruned"]`), its last reported metrics standing as its result.
    """
    start = time.time()
    history: list[Mapping[str, float]] = []

    def checked_report(step: int, metrics: Mapping[str, float]) -> None:
        report(step, metrics)
        history.append(dict(metrics))
        if job.stop_check is not None and job.stop_check(history):
            raise TrialPruned(step)

    limit, cut = job.timeout, False  # cut: the deadline comes first, so the alarm means "prune", not "fail"
    if job.deadline is not None:
        left = max(job.deadline - start, 0.001)
        if limit is None or left < limit:
            limit, cut = left, True
    ctx = EvalContext(
        space=space,
        arch=job.arch,
        budget=job.budget,
        number=job.number,
        seed=job.seed,
        report=checked_report,
        weights_in=job.weights_in,
        weights_out=job.weights_out,
        inheritance=job.inherit_epochs,
        resumed=job.resumed,
    )
    try:
        with alarm(limit):
            metrics = evaluator.evaluate(ctx)
    except TrialTimeout:
        if cut:
            last = {k: float(v) for k, v in history[-1].items()} if history else {}
            step = len(history)
            return JobResult(job.number, last, None, start, time.time(), {"pruned": True, "cut_at_deadline": step})
        return timed_out(job, start)
    except TrialPruned as stop:
        last = {k: float(v) for k, v in history[-1].items()} if history else {}
        return JobResult(job.number, last, None, start, time.time(), {"pruned": True, "pruned_at": stop.step})
    except TrialError as exc:
        return JobResult(job.number, None, f"TrialError: {exc}", start, time.time())
    except MemoryError:
        return JobResult(job.number, None, "MemoryError: out of memory", start, time.time())
    except Exception as exc:  # a failing trial is recorded, never fatal
        tb = traceback.format_exc(limit=-4)
        message = f"{type(exc).__name__}: {exc}"
        if "out of memory" in str(exc).lower():
            message = f"OutOfMemory: {exc}"
        return JobResult(job.number, None, message, start, time.time(), {"traceback": tb[-4000:]})
    return JobResult(job.number, metrics, None, start, time.time(), dict(ctx.info))


class BaseExecutor(abc.ABC):
    """Runs jobs. `start` ships the evaluator and space to wherever jobs run; `submit` queues a job;
    `wait` blocks until at least one job finishes (or `timeout` passes), calling `on_report` for
    intermediate metrics as they arrive, and returns the finished results.

    Executors that run jobs elsewhere (processes, Ray actors) own two kinds of failure the trial did not
    cause: a worker that dies reruns its job, up to `max_retries` more times, before the job fails with
    `WorkerDied`; and a job past its `Job.timeout` is stopped and fails with `Timeout`.
    """

    n_workers: int = 1

    def now(self) -> float:
        """The clock trials are timed on and run timeouts count against: wall time, unless simulated."""
        return time.time()

    @abc.abstractmethod
    def start(self, evaluator: BaseEvaluator, space: ModelSpace, on_report: OnReport) -> None: ...

    @abc.abstractmethod
    def submit(self, job: Job) -> None: ...

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> list[JobResult]: ...

    @property
    @abc.abstractmethod
    def n_running(self) -> int: ...

    def shutdown(self) -> None:
        return None

    def __enter__(self) -> BaseExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
