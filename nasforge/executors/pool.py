"""`LocalPoolExecutor`: a pool of worker processes on this machine, one job each at a time."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from nasforge.errors import ConfigError, ExecutorError
from nasforge.evaluators.base import BaseEvaluator
from nasforge.executors.base import BaseExecutor, Job, JobResult, OnReport, run_job, timed_out, worker_lost
from nasforge.space import ModelSpace

KILL_GRACE = 3.0  # seconds past a job's timeout before its worker is killed
#: workers in a row that die before they are ready (before any trial) after which the pool gives up
STARTUP_DEATHS = 3


class _Channel:
    """A worker's own pipe to the driver, shared by its threads. Each worker has its own: a worker killed in the
    middle of a write breaks only its pipe, which dies with it, never a lock the other workers need."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def put(self, msg: tuple[Any, ...]) -> None:
        with self.lock:
            self.conn.send(msg)


def _beat(worker_id: int, results: _Channel, every: float) -> None:
    """Say this worker is alive every `every` seconds, from a thread that runs while the trial does (a worker
    frozen, stopped, or stuck holding the interpreter falls silent)."""
    while True:
        results.put(("beat", worker_id, time.time()))
        time.sleep(every)


def _worker_main(
    worker_id: int, payload: bytes, tasks: Any, conn: Any, threads: int, gpus: str | None, beat_every: float
) -> None:
    results = _Channel(conn)
    if gpus is not None:  # before torch initialises CUDA: the worker sees only its own GPUs, as cuda:0, cuda:1, ...
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle; it stops the workers
    torch.set_num_threads(threads)  # workers must not oversubscribe the cores
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)
    evaluator, space = pickle.loads(payload)
    prepared = False
    results.put(("ready", worker_id, os.getpid()))
    threading.Thread(target=_beat, args=(worker_id, results, beat_every), daemon=True).start()
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

        results.put(("started", worker_id, job.number, time.time()))
        results.put(("done", worker_id, run_job(evaluator, space, job, report)))


def assign_gpus(n_workers: int, gpus_per_trial: float, gpu_ids: Sequence[int]) -> list[str | None]:
    """The `CUDA_VISIBLE_DEVICES` of each worker: `gpus_per_trial` >= 1 gives each worker that many whole
    GPUs; a fraction (0.5, 0.25, ...) puts 1 / fraction workers on each GPU. None: the worker sees no
    restriction (no GPUs asked for).

    >>> assign_gpus(4, 0.5, [0, 1])
    ['0', '0', '1', '1']
    >>> assign_gpus(2, 2, [0, 1, 2, 3])
    ['0,1', '2,3']
    """
    if not gpus_per_trial:
        return [None] * n_workers
    k, share = (int(gpus_per_trial), 1) if gpus_per_trial >= 1 else (1, round(1 / gpus_per_trial))
    need = k * -(-n_workers // share)  # whole GPUs, rounded up
    if need > len(gpu_ids):
        raise ConfigError(
            f"{n_workers} workers with `gpus_per_trial`={gpus_per_trial:g} need {need} GPU(s), but only "
            f"{len(gpu_ids)} are available ({list(gpu_ids)}); use fewer workers, a smaller share per trial, or more GPUs."
        )
    return [",".join(str(g) for g in gpu_ids[(i // share) * k : (i // share + 1) * k]) for i in range(n_workers)]


class LocalPoolExecutor(BaseExecutor):
    """Run trials in `n_workers` processes; each gets `threads_per_worker` torch threads (default: the
    cores divided among the workers, at least one), so parallel trials do not fight over cores.

    GPUs: with `gpus_per_trial` each worker sees only its share of `gpu_ids` (default: every visible GPU)
    through `CUDA_VISIBLE_DEVICES`: 1 (or 2, ...) whole GPUs per trial, or a fraction such as 0.5 to run two
    trials on each GPU.

    A worker that dies (killed, segfault, out of memory) is replaced and its trial rerun, up to `max_retries`
    more times; then the trial fails with `WorkerDied`, never the experiment. Workers send a heartbeat from a
    thread; one silent for `heartbeat_timeout` seconds (frozen, stopped, hung holding the interpreter) is
    killed and handled as dead. A trial past its `Job.timeout` is stopped and fails with `Timeout`.
    """

    def __init__(
        self,
        n_workers: int = 2,
        threads_per_worker: int | None = None,
        start_method: str = "spawn",
        gpus_per_trial: float = 0.0,
        gpu_ids: Sequence[int] | None = None,
        max_retries: int = 2,
        heartbeat_timeout: float = 60.0,
    ):
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise ConfigError(f"`n_workers` of LocalPoolExecutor must be an int >= 1, but got {n_workers!r}.")
        if threads_per_worker is not None and (not isinstance(threads_per_worker, int) or threads_per_worker < 1):
            raise ConfigError(
                f"`threads_per_worker` of LocalPoolExecutor must be an int >= 1 or None, but got {threads_per_worker!r}."
            )
        if start_method not in mp.get_all_start_methods():
            raise ConfigError(f"`start_method` must be one of {mp.get_all_start_methods()}, but got {start_method!r}.")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigError(f"`max_retries` of LocalPoolExecutor must be an int >= 0, but got {max_retries!r}.")
        if (
            isinstance(heartbeat_timeout, bool)
            or not isinstance(heartbeat_timeout, (int, float))
            or heartbeat_timeout <= 0
        ):
            raise ConfigError(f"`heartbeat_timeout` must be a number of seconds > 0, but got {heartbeat_timeout!r}.")
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.gpus = _check_gpus(n_workers, gpus_per_trial, gpu_ids)
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker or max(1, (os.cpu_count() or 1) // n_workers)
        self.start_method = start_method
        self.gpus_per_trial = float(gpus_per_trial)
        self.max_retries = max_retries
        self._procs: dict[int, Any] = {}
        self._tasks: dict[int, Any] = {}
        self._assigned: dict[int, Job | None] = {}
        self._started: dict[int, float] = {}  # worker id -> when its current job started running there
        self._attempts: dict[int, int] = {}  # job number -> attempts begun
        self._heard: dict[int, float] = {}  # worker id -> when it last sent anything
        self._ready: set[int] = set()  # workers that started up (unpickled the evaluator) since their spawn
        self._startup_deaths = 0  # workers in a row that died before they were ready
        self._inbox: deque[tuple[Any, ...]] = deque()  # received, not yet handled
        self._pending: deque[Job] = deque()
        self._readers: dict[int, Any] = {}  # worker id -> the driver's end of its pipe
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
        self._on_report = on_report
        for wid in range(self.n_workers):
            self._spawn(wid)

    def _spawn(self, wid: int) -> None:
        tasks = self._ctx.Queue()
        reader, writer = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(
                wid,
                self._payload,
                tasks,
                writer,
                self.threads_per_worker,
                self.gpus[wid],
                max(0.05, self.heartbeat_timeout / 6),
            ),
            daemon=True,
            name=f"nasforge-worker-{wid}",
        )
        proc.start()
        writer.close()  # the worker holds the only writing end: its death is an EOF here
        old = self._readers.get(wid)
        if old is not None:
            old.close()
        self._readers[wid] = reader
        self._procs[wid], self._tasks[wid], self._assigned[wid] = proc, tasks, None
        self._started.pop(wid, None)
        self._heard.pop(wid, None)  # silence counts once it has said it is ready (starting up may take long)
        self._ready.discard(wid)

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
                self._attempts[nxt.number] = self._attempts.get(nxt.number, 0) + 1
                self._tasks[wid].put(nxt)

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        deadline = None if timeout is None else time.monotonic() + timeout
        done: list[JobResult] = []
        checked = time.monotonic()
        while self.n_running:
            msg = self._receive(0.05 if done else 0.5)
            if msg is not None:
                self._take(msg, done)
            if time.monotonic() - checked >= 0.5 or msg is None:  # however busy the queue: look after the workers
                checked = time.monotonic()
                self._kill_silent()
                done.extend(self._reap_dead())
                done.extend(self._stop_overdue())
            if (done and msg is None) or (deadline is not None and time.monotonic() >= deadline):
                break
        return done

    def _receive(self, timeout: float) -> tuple[Any, ...] | None:
        """The next message from any worker, or None after `timeout` seconds of quiet (or a worker's end)."""
        if self._inbox:
            return self._inbox.popleft()
        by_reader = {id(r): wid for wid, r in self._readers.items()}
        for ready in mpc.wait(list(self._readers.values()), timeout):
            wid = by_reader[id(ready)]
            reader = self._readers[wid]
            try:
                while reader.poll():
                    self._inbox.append(reader.recv())
            except (EOFError, OSError):  # the worker is gone: stop listening; `_reap_dead` replaces it
                reader.close()
                del self._readers[wid]
        return self._inbox.popleft() if self._inbox else None

    def _take(self, msg: tuple[Any, ...], done: list[JobResult]) -> None:
        """Handle one message from a worker."""
        kind, wid = msg[0], msg[1]
        self._heard[wid] = time.time()
        job = self._assigned.get(wid)
        if kind == "ready":
            self._ready.add(wid)
            self._startup_deaths = 0
        elif kind == "report" and self._on_report is not None:
            self._on_report(msg[2], msg[3], msg[4])
        elif kind == "started" and job is not None and job.number == msg[2]:
            self._started[wid] = msg[3]
        elif kind == "done":
            result: JobResult = msg[2]
            if job is not None and job.number == result.number:
                self._assigned[wid] = None
                self._started.pop(wid, None)
                attempts = self._attempts.pop(result.number, 1)
                if attempts > 1:
                    result = replace(result, info={**result.info, "attempts": attempts})
                done.append(result)
                self._dispatch()

    def _reap_dead(self) -> list[JobResult]:
        """Rerun the job of any worker that died (or fail it when out of retries), and start a fresh worker in
        its place."""
        failed = []
        for wid, proc in list(self._procs.items()):
            if proc.is_alive():
                continue
            if wid not in self._ready:
                self._startup_deaths += 1
                if self._startup_deaths >= STARTUP_DEATHS:
                    raise ExecutorError(startup_failure(proc.exitcode, self._startup_deaths, self.start_method))
            job = self._assigned.get(wid)
            if job is not None:
                attempts = self._attempts.get(job.number, 1)
                if attempts <= self.max_retries:
                    self._pending.appendleft(job)  # first in line again
                else:
                    self._attempts.pop(job.number, None)
                    failed.append(worker_lost(job, f"worker process exited with code {proc.exitcode}", attempts))
            self._spawn(wid)
        self._dispatch()
        return failed

    def _kill_silent(self) -> None:
        """Kill a busy worker whose heartbeat stopped; `_reap_dead` then reruns its job."""
        now = time.time()
        for wid, job in self._assigned.items():
            if job is not None and wid in self._heard and now - self._heard[wid] > self.heartbeat_timeout:
                proc = self._procs[wid]
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)

    def _stop_overdue(self) -> list[JobResult]:
        """Kill the worker of any job past its timeout, fail that job, and start a fresh worker."""
        stopped = []
        now = time.time()
        for wid, job in list(self._assigned.items()):
            began = self._started.get(wid)
            if job is None or job.timeout is None or began is None or now - began <= job.timeout + KILL_GRACE:
                continue  # the worker's own alarm stops a trial at its timeout; the kill is for one stuck in C code
            proc = self._procs[wid]
            proc.kill()
            proc.join(5)
            self._attempts.pop(job.number, None)
            stopped.append(timed_out(job, began, now))
            self._spawn(wid)
        if stopped:
            self._dispatch()
        return stopped

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
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        self._inbox.clear()
        self._procs.clear()
        self._tasks.clear()
        self._assigned.clear()
        self._pending.clear()
        self._started.clear()
        self._attempts.clear()
        self._heard.clear()

    def kill(self) -> None:
        """Stop every worker at once (Ctrl-C): running trials are abandoned, to be rerun on resume."""
        for proc in self._procs.values():
            if proc.is_alive():
                proc.kill()
        self.shutdown()


def _check_gpus(n_workers: int, gpus_per_trial: float, gpu_ids: Sequence[int] | None) -> list[str | None]:
    if isinstance(gpus_per_trial, bool) or not isinstance(gpus_per_trial, (int, float)) or gpus_per_trial < 0:
        raise ConfigError(f"`gpus_per_trial` must be a number >= 0, but got {gpus_per_trial!r}.")
    if 0 < gpus_per_trial < 1 and abs(1 / gpus_per_trial - round(1 / gpus_per_trial)) > 1e-9:
        raise ConfigError(
            f"A fractional `gpus_per_trial` must divide one GPU evenly (0.5, 0.25, ...), but got {gpus_per_trial!r}."
        )
    if gpus_per_trial > 1 and gpus_per_trial != int(gpus_per_trial):
        raise ConfigError(f"`gpus_per_trial` above 1 must be a whole number, but got {gpus_per_trial!r}.")
    if gpu_ids is not None and (
        isinstance(gpu_ids, (str, bytes))
        or not all(isinstance(g, int) and not isinstance(g, bool) and g >= 0 for g in gpu_ids)
    ):
        raise ConfigError(f"`gpu_ids` must be a list of GPU indices (ints >= 0), but got {gpu_ids!r}.")
    if not gpus_per_trial:
        return [None] * n_workers
    if gpu_ids is None:
        gpu_ids = visible_gpus()
        if not gpu_ids:
            raise ConfigError(
                f"`gpus_per_trial`={gpus_per_trial:g} asks for GPUs, but torch sees none; set gpus_per_trial=0 to "
                "train on the CPU, or give `gpu_ids` on a machine with GPUs."
            )
    return assign_gpus(n_workers, gpus_per_trial, list(gpu_ids))


def visible_gpus() -> list[int]:
    """The indices of the GPUs this process may use (empty without CUDA)."""
    import torch

    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def startup_failure(exitcode: int | None, deaths: int, start_method: str) -> str:
    """Why a pool gives up: its workers die as they start. Under 'spawn' (or 'forkserver') each worker imports
    the main script again, so a script that builds and runs the experiment at module level starts a pool
    inside every worker, which Python refuses: the usual cause, and two lines fix it."""
    import __main__

    why = f"{deaths} worker processes in a row exited while starting (exit code {exitcode}), before any trial ran"
    script = getattr(__main__, "__file__", None)
    if start_method != "fork" and script is not None:
        return (
            f"{why}. Each worker re-runs {os.path.basename(script)} from the top as it starts ({start_method!r}), so "
            "code that runs an experiment must sit under a main guard: put it in a function `main()` and end the "
            'script with `if __name__ == "__main__":` and `    main()`. Otherwise, see the workers\' error above.'
        )
    return f"{why}; see the workers' error above (a missing package or an evaluator that cannot be unpickled)."
