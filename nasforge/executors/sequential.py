"""`SequentialExecutor`: evaluates jobs one after another in the driver process."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from nasforge.evaluators.base import BaseEvaluator
from nasforge.executors.base import BaseExecutor, Job, JobResult, OnReport, run_job
from nasforge.space import ModelSpace


class SequentialExecutor(BaseExecutor):
    """The default: no processes, no pickling; exceptions in a trial still only fail that trial."""

    n_workers = 1

    def __init__(self) -> None:
        self._queue: deque[Job] = deque()
        self._evaluator: BaseEvaluator | None = None
        self._space: ModelSpace | None = None
        self._on_report: OnReport | None = None
        self._prepared = False

    def start(self, evaluator: BaseEvaluator, space: ModelSpace, on_report: OnReport) -> None:
        self._evaluator, self._space, self._on_report = evaluator, space, on_report
        self._prepared = False

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        if not self._queue:
            return []
        if self._evaluator is None or self._space is None or self._on_report is None:
            raise RuntimeError("SequentialExecutor.start() was not called")
        if not self._prepared:
            self._evaluator.prepare()
            self._prepared = True
        job = self._queue.popleft()
        on_report = self._on_report

        def report(step: int, metrics: Mapping[str, float]) -> None:
            on_report(job.number, step, metrics)

        return [run_job(self._evaluator, self._space, job, report)]
