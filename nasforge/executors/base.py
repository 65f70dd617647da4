"""`BaseExecutor`: where evaluations run. The experiment loop never knows which one it has."""

from __future__ import annotations

import abc
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nasforge.evaluators.base import BaseEvaluator, EvalContext, TrialError
from nasforge.space import Arch, ModelSpace

OnReport = Callable[[int, int, Mapping[str, float]], None]  # (trial number, step, metrics)


@dataclass(frozen=True)
class Job:
    number: int
    arch: Arch
    budget: float | None
    seed: int


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
    """Evaluate one job, turning any exception into a failed result (the search goes on)."""
    start = time.time()
    ctx = EvalContext(space=space, arch=job.arch, budget=job.budget, number=job.number, seed=job.seed, report=report)
    try:
        metrics = evaluator.evaluate(ctx)
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
    return JobResult(job.number, metrics, None, start, time.time())


class BaseExecutor(abc.ABC):
    """Runs jobs. `start` ships the evaluator and space to wherever jobs run; `submit` queues a job;
    `wait` blocks until at least one job finishes (or `timeout` passes), calling `on_report` for
    intermediate metrics as they arrive, and returns the finished results."""

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
