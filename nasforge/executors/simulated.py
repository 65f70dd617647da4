"""`SimulatedExecutor`: N asynchronous workers on a simulated clock (Syne Tune's simulator backend idea).

Each evaluation runs at once in this process, but is *charged* its reported cost in simulated seconds:
it finishes at its start time plus the value of its `cost` metric. Tabular benchmarks thus replay hours of
parallel search in a fraction of a second, and asynchronous strategies meet results in the order they
would have arrived on real workers.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping
from dataclasses import replace

from nasforge.errors import ConfigError
from nasforge.evaluators.base import BaseEvaluator
from nasforge.executors.base import BaseExecutor, Job, JobResult, OnReport, run_job, timed_out
from nasforge.space import ModelSpace


class SimulatedExecutor(BaseExecutor):
    """`n_workers` simulated workers; a job costs `metrics[cost_metric]` simulated seconds (failed jobs
    cost `failure_cost`). Its clock (`now()`) is what run timeouts count against."""

    def __init__(self, n_workers: int = 1, cost_metric: str = "cost", failure_cost: float = 0.0) -> None:
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise ConfigError(f"`n_workers` of SimulatedExecutor must be an int >= 1, but got {n_workers!r}.")
        if not isinstance(failure_cost, (int, float)) or failure_cost < 0:
            raise ConfigError(f"`failure_cost` of SimulatedExecutor must be >= 0, but got {failure_cost!r}.")
        self.n_workers = n_workers
        self.cost_metric = cost_metric
        self.failure_cost = float(failure_cost)
        self._clock = 0.0
        self._seq = 0
        self._running: list[tuple[float, int, JobResult, list[tuple[int, Mapping[str, float]]]]] = []
        self._pending: deque[Job] = deque()
        self._evaluator: BaseEvaluator | None = None
        self._space: ModelSpace | None = None
        self._on_report: OnReport | None = None
        self._prepared = False

    def now(self) -> float:
        return self._clock

    def start(self, evaluator: BaseEvaluator, space: ModelSpace, on_report: OnReport) -> None:
        self._evaluator, self._space, self._on_report = evaluator, space, on_report

    @property
    def n_running(self) -> int:
        return len(self._running) + len(self._pending)

    def submit(self, job: Job) -> None:
        self._pending.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        if self._evaluator is None or self._space is None:
            raise RuntimeError("SimulatedExecutor.start() was not called")
        if not self._prepared:
            self._evaluator.prepare()
            self._prepared = True
        while self._pending and len(self._running) < self.n_workers:
            job = self._pending.popleft()
            reports: list[tuple[int, Mapping[str, float]]] = []

            def report(step: int, metrics: Mapping[str, float], into: list = reports) -> None:
                into.append((step, dict(metrics)))

            # the deadline is on the simulated clock, so the job runs without the wall-clock one
            result = run_job(self._evaluator, self._space, replace(job, deadline=None), report)
            cost = self.failure_cost
            if result.metrics is not None:
                cost = float(result.metrics.get(self.cost_metric, 0.0))
                if cost < 0:
                    raise ConfigError(f"Metric {self.cost_metric!r} is a cost in seconds and must be >= 0, got {cost}.")
            if job.timeout is not None and cost > job.timeout:  # stopped at its limit, on the simulated clock
                cost = job.timeout
                result = timed_out(job, self._clock)
            if job.deadline is not None and self._clock + cost > job.deadline:  # cut at the search's deadline
                cost = max(job.deadline - self._clock, 0.0)
                result = JobResult(job.number, {}, None, self._clock, self._clock + cost, {"pruned": True})
                reports.clear()  # when each report came is not simulated: none arrived before the cut
            finish = self._clock + cost
            timed = replace(result, started_at=self._clock, finished_at=finish)
            heapq.heappush(self._running, (finish, self._seq, timed, reports))
            self._seq += 1

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        """Advance the clock to the next finishing job and return it (timeouts are simulated, not waited)."""
        if not self._running:
            return []
        finish, _, result, reports = heapq.heappop(self._running)
        self._clock = finish
        if self._on_report is not None:
            for step, metrics in reports:
                self._on_report(result.number, step, metrics)
        self._dispatch()
        return [result]
