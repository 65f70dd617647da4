"""The remote side of `RayExecutor`: plain classes that `RayExecutor.start` makes Ray actors.

`TrialActor` holds the evaluator and space for all the jobs of one worker slot; `report_hub()` is the class of
the small actor where trial actors drop their live reports, which the driver waits on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from nasforge.evaluators.base import BaseEvaluator
from nasforge.executors.base import Job, JobResult, run_job
from nasforge.space import ModelSpace

__all__ = ["REPORT_LINGER", "TrialActor", "report_hub"]

REPORT_LINGER = 0.02  # seconds a report waits in its actor before it is sent on its own (see `TrialActor`)


def report_hub() -> type:
    """The class of the actor where trial actors drop their live reports; the driver keeps one `take` outstanding,
    so a report wakes its `ray.wait` without the driver ever polling. Made in a function so that Ray sends the
    class by value: the hub's process imports neither torch nor nasforge, and starts in a fraction of a second."""
    import asyncio

    class ReportHub:
        def __init__(self) -> None:
            self._items: list[tuple[Any, ...]] = []
            self._arrived = asyncio.Event()

        async def ready(self) -> bool:
            return True

        async def put(self, items: list[tuple[Any, ...]]) -> None:
            self._items.extend(items)
            self._arrived.set()

        async def take(self) -> list[tuple[Any, ...]]:
            await self._arrived.wait()
            items, self._items = self._items, []
            self._arrived.clear()
            return items

    return ReportHub


class TrialActor:
    """Holds the evaluator and space for all its jobs and runs each through `run_job` in its main thread (so the
    job's timeout alarm works, as in a pool worker).

    A report travels back with the job's result. One still unsent `REPORT_LINGER` seconds after it was made (the
    trial is still running) is sent to the hub by a background thread: a long trial's reports arrive live,
    while a fast trial costs no message besides its result.
    """

    def __init__(self, payload: tuple[BaseEvaluator, ModelSpace], hub: Any, threads: int, linger: float) -> None:
        import torch

        torch.set_num_threads(threads)  # actors must not oversubscribe the cores
        with contextlib.suppress(RuntimeError):  # already set in this process
            torch.set_num_interop_threads(1)
        self._evaluator, self._space = payload
        self._hub = hub
        self._linger = linger
        self._prepared = False
        self._lock = threading.Lock()
        self._outbox: list[tuple[float, tuple[Any, ...]]] = []  # (made at, (run id, index, number, step, metrics))
        self._wake = threading.Event()
        threading.Thread(target=self._send_lingering, daemon=True, name="nasforge-reports").start()

    def ready(self) -> int:
        """Prepare the evaluator before the first job, so that its time does not count against a job's timeout
        (the driver gives jobs only to ready actors); a failure is the first job's to report."""
        with contextlib.suppress(Exception):
            self._prepare()
        return os.getpid()

    def _prepare(self) -> None:
        if not self._prepared:
            self._evaluator.prepare()
            self._prepared = True

    def run(self, run_id: int, job: Job) -> tuple[JobResult, list[tuple[int, dict[str, float]]]]:
        """The job's result and every report it made, in order."""
        try:
            self._prepare()
        except Exception as exc:  # e.g. missing data: fail the job, keep the actor (it tries again on the next)
            now = time.time()
            return JobResult(job.number, None, f"{type(exc).__name__}: {exc}", now, now), []
        made: list[tuple[int, dict[str, float]]] = []

        def report(step: int, metrics: Mapping[str, float]) -> None:
            item = (step, dict(metrics))
            made.append(item)
            with self._lock:
                self._outbox.append((time.monotonic(), (run_id, len(made) - 1, job.number, *item)))
                self._wake.set()

        result = run_job(self._evaluator, self._space, job, report)
        with self._lock:  # what is still here goes back with the result
            self._outbox = [entry for entry in self._outbox if entry[1][0] != run_id]
        return result, made

    def _send_lingering(self) -> None:
        while True:
            self._wake.wait()
            items: list[tuple[Any, ...]] = []
            with self._lock:
                delay = self._outbox[0][0] + self._linger - time.monotonic() if self._outbox else 0.0
                if delay <= 0:
                    items = [item for _, item in self._outbox]
                    self._outbox.clear()
                    self._wake.clear()
            if delay > 0:
                time.sleep(delay)
            elif items:
                with contextlib.suppress(Exception):  # the hub gone: the reports still arrive with the result
                    self._hub.put.remote(items)
