"""`LocalPoolExecutor`: a pool of worker processes on this machine, one job each at a time."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import queue
import signal
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from nasforge.errors import ConfigError
from nasforge.evaluators.base import BaseEvaluator
from nasforge.executors.base import BaseExecutor, Job, JobResult, OnReport, run_job
from nasforge.space import ModelSpace


def _worker_main(worker_id: int, payload: bytes, tasks: Any, results: Any, threads: int) -> None:
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle; it stops the workers
    torch.set_num_threads(threads)  # workers must not oversubscribe the cores
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)
    evaluator, space = pickle.loads(payload)
    prepared = False
    results.put(("ready", worker_id, os.getpid()))
    while True:
        job = tasks.get()
        if job is None:
            return
        if not prepared:
            try:
                evaluator.prepare()
                prepared = True
            except Exception as exc:  # e.g. missing data: fail the job, keep the worker
                now = time.time()
                results.put(("done", worker_id, JobResult(job.number, None, f"{type(exc).__name__}: {exc}", now, now)))
                continue

        def report(step: int, metrics: Mapping[str, float], number: int = job.number) -> None:
            results.put(("report", worker_id, number, step, dict(metrics)))

        results.put(("done", worker_id, run_job(evaluator, space, job, report)))


class LocalPoolExecutor(BaseExecutor):
    """Run trials in `n_workers` processes; each gets `threads_per_worker` torch threads (default: the
    cores divided among the workers, at least one), so parallel trials do not fight over cores.

    A worker that dies (killed, segfault) fails only its trial and is replaced.
    """

    def __init__(self, n_workers: int = 2, threads_per_worker: int | None = None, start_method: str = "spawn"):
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise ConfigError(f"`n_workers` of LocalPoolExecutor must be an int >= 1, but got {n_workers!r}.")
        if threads_per_worker is not None and (not isinstance(threads_per_worker, int) or threads_per_worker < 1):
            raise ConfigError(
                f"`threads_per_worker` of LocalPoolExecutor must be an int >= 1 or None, but got {threads_per_worker!r}."
            )
        if start_method not in mp.get_all_start_methods():
            raise ConfigError(f"`start_method` must be one of {mp.get_all_start_methods()}, but got {start_method!r}.")
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker or max(1, (os.cpu_count() or 1) // n_workers)
        self.start_method = start_method
        self._procs: dict[int, Any] = {}
        self._tasks: dict[int, Any] = {}
        self._assigned: dict[int, Job | None] = {}
        self._pending: deque[Job] = deque()
        self._results: Any = None
        self._payload = b""
        self._on_report: OnReport | None = None
        self._ctx: Any = None

    def start(self, evaluator: BaseEvaluator, space: ModelSpace, on_report: OnReport) -> None:
        try:
            self._payload = pickle.dumps((evaluator, space))
        except Exception as exc:
            raise ConfigError(
                f"The evaluator and space must be picklable to run in worker processes, but pickling failed: {exc}. "
                "Define classes at module level and pass plain values to constructors, or use the sequential executor."
            ) from exc
        self._ctx = mp.get_context(self.start_method)
        self._results = self._ctx.Queue()
        self._on_report = on_report
        for wid in range(self.n_workers):
            self._spawn(wid)

    def _spawn(self, wid: int) -> None:
        tasks = self._ctx.Queue()
        proc = self._ctx.Process(
            target=_worker_main,
            args=(wid, self._payload, tasks, self._results, self.threads_per_worker),
            daemon=True,
            name=f"nasforge-worker-{wid}",
        )
        proc.start()
        self._procs[wid], self._tasks[wid], self._assigned[wid] = proc, tasks, None

    @property
    def n_running(self) -> int:
        return len(self._pending) + sum(job is not None for job in self._assigned.values())

    def submit(self, job: Job) -> None:
        self._pending.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        for wid, job in self._assigned.items():
            if job is None and self._pending:
                nxt = self._pending.popleft()
                self._assigned[wid] = nxt
                self._tasks[wid].put(nxt)

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        deadline = None if timeout is None else time.monotonic() + timeout
        done: list[JobResult] = []
        while self.n_running:
            try:
                msg = self._results.get(timeout=0.05 if done else 0.5)
            except queue.Empty:
                if done:
                    break
                done.extend(self._reap_dead())
                if done or (deadline is not None and time.monotonic() >= deadline):
                    break
                continue
            kind, wid = msg[0], msg[1]
            if kind == "report" and self._on_report is not None:
                self._on_report(msg[2], msg[3], msg[4])
            elif kind == "done":
                result: JobResult = msg[2]
                job = self._assigned.get(wid)
                if job is not None and job.number == result.number:
                    self._assigned[wid] = None
                    done.append(result)
                    self._dispatch()
        return done

    def _reap_dead(self) -> list[JobResult]:
        """Fail the job of any worker that died, and start a fresh worker in its place."""
        failed = []
        for wid, proc in list(self._procs.items()):
            if proc.is_alive():
                continue
            job = self._assigned.get(wid)
            if job is not None:
                now = time.time()
                failed.append(
                    JobResult(
                        job.number,
                        None,
                        f"WorkerDied: worker process exited with code {proc.exitcode}",
                        now,
                        now,
                    )
                )
            self._spawn(wid)
        self._dispatch()
        return failed

    def shutdown(self) -> None:
        for wid, tasks in self._tasks.items():
            if self._procs[wid].is_alive():
                with contextlib.suppress(OSError, ValueError):
                    tasks.put(None)
        deadline = time.monotonic() + 5
        for proc in self._procs.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(1)
        self._procs.clear()
        self._tasks.clear()
        self._assigned.clear()
        self._pending.clear()

    def kill(self) -> None:
        """Stop every worker at once (Ctrl-C): running trials are abandoned, to be rerun on resume."""
        for proc in self._procs.values():
            if proc.is_alive():
                proc.kill()
        self.shutdown()
