"""`RayExecutor`: trials on Ray actors, one long-lived actor per worker slot, on this machine or a cluster.

This is the driver side; the actors are in `ray_actors`, starting and reading Ray in `ray_runtime`. Ray is
imported only when an executor starts, so `import nasforge` never imports it (`pip install "nasforge[ray]"`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import re
import time
import warnings
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from nasforge.errors import ConfigError
from nasforge.evaluators.base import BaseEvaluator
from nasforge.executors.base import BaseExecutor, Job, JobResult, OnReport, timed_out, worker_lost
from nasforge.executors.ray_actors import REPORT_LINGER, TrialActor, report_hub
from nasforge.executors.ray_runtime import INSTALL, import_ray, join_ray, lost_errors, reason, start_local_ray
from nasforge.space import ModelSpace

__all__ = ["KILL_GRACE", "REPORT_LINGER", "START_ATTEMPTS", "RayExecutor", "TrialActor", "start_local_ray"]

KILL_GRACE = 3.0  # seconds past a job's timeout before its actor is killed (the actor's own alarm comes first)
START_ATTEMPTS = 3  # a worker slot whose actor fails to start this many times in a row is given up
_ADDRESS = re.compile(r"(ray://)?[^\s:/]+:\d{1,5}")


# --- the driver side -------------------------------------------------------------------------------------------------
@dataclass
class _Slot:
    """One worker slot: its current actor and the job it runs (None while starting or idle)."""

    index: int
    actor: Any
    ready: bool = False
    pid: int | None = None
    job: Job | None = None
    run_id: int = -1
    started_at: float = 0.0
    delivered: int = 0  # reports of the current run passed to `on_report`


class RayExecutor(BaseExecutor):
    """Run trials on `n_workers` Ray actors, each reserving `cpus_per_trial` CPUs and `gpus_per_trial` GPUs (Ray
    sets `CUDA_VISIBLE_DEVICES`; a fraction such as 0.5 shares a GPU) and using `threads_per_worker` torch
    threads. An actor lives for the whole run: the evaluator and space are sent to it once and prepared once.

    `address=None` starts a Ray instance on this machine that listens on 127.0.0.1 only (no dashboard);
    `"auto"`, `host:port` or `ray://host:port` joins a cluster (nasforge and the evaluator's module must be
    importable on its nodes, e.g. through `init_kwargs={"runtime_env": ...}`). A Ray already initialised in this
    process is used as it is. `init_kwargs` go to `ray.init`. Ray is shut down at the end only if this executor
    started it.

    Reports reach `on_report` while the trial runs. An actor that dies (process killed, node lost) is replaced
    and its trial rerun, up to `max_retries` more times; then the trial fails with `WorkerDied`. A trial past its
    `Job.timeout` is stopped by its actor's alarm, or, if stuck, by killing the actor, and fails with `Timeout`.

    >>> exp = Experiment("fmnist", space, RandomSearch(), evaluator,            # doctest: +SKIP
    ...                  executor=RayExecutor(n_workers=8, address="auto", gpus_per_trial=0.5))
    """

    def __init__(
        self,
        n_workers: int = 2,
        address: str | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
        threads_per_worker: int = 1,
        max_retries: int = 2,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if importlib.util.find_spec("ray") is None:
            raise ConfigError(f"RayExecutor needs Ray, which is not installed. {INSTALL}")
        if not _is_int(n_workers) or n_workers < 1:
            raise ConfigError(f"`n_workers` of RayExecutor must be an int >= 1, but got {n_workers!r}.")
        if address is not None and (
            not isinstance(address, str) or (address != "auto" and not _ADDRESS.fullmatch(address))
        ):
            raise ConfigError(
                "`address` of RayExecutor must be None (start Ray on this machine), 'auto' (the cluster this machine "
                f"belongs to), 'host:port' or 'ray://host:port', but got {address!r}."
            )
        if not _is_number(cpus_per_trial) or cpus_per_trial <= 0:
            raise ConfigError(
                f"`cpus_per_trial` of RayExecutor must be a number > 0 (e.g. 1, 4 or 0.5), but got {cpus_per_trial!r}."
            )
        if not _is_number(gpus_per_trial) or gpus_per_trial < 0:
            raise ConfigError(f"`gpus_per_trial` of RayExecutor must be a number >= 0, but got {gpus_per_trial!r}.")
        if gpus_per_trial > 1 and gpus_per_trial != int(gpus_per_trial):
            raise ConfigError(
                f"`gpus_per_trial` above 1 must be a whole number (Ray shares only single GPUs), but got {gpus_per_trial!r}."
            )
        if not _is_int(threads_per_worker) or threads_per_worker < 1:
            raise ConfigError(
                f"`threads_per_worker` of RayExecutor must be an int >= 1, but got {threads_per_worker!r}."
            )
        if not _is_int(max_retries) or max_retries < 0:
            raise ConfigError(f"`max_retries` of RayExecutor must be an int >= 0, but got {max_retries!r}.")
        if init_kwargs is not None and (
            not isinstance(init_kwargs, Mapping) or not all(isinstance(k, str) for k in init_kwargs)
        ):
            raise ConfigError(
                f"`init_kwargs` of RayExecutor must be a mapping of `ray.init` argument names to values, but got {init_kwargs!r}."
            )
        if init_kwargs is not None and "address" in init_kwargs:
            raise ConfigError("Give the cluster as RayExecutor's `address`, not in `init_kwargs`; drop it there.")
        self.n_workers = n_workers
        self.address = address
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.threads_per_worker = threads_per_worker
        self.max_retries = max_retries
        self.init_kwargs = dict(init_kwargs or {})
        self._ray: Any = None
        self._owns_ray = False
        self._actor_cls: Any = None
        self._hub: Any = None
        self._take: Any = None  # the outstanding `hub.take` call
        self._payload: Any = None
        self._slots: list[_Slot | None] = []
        self._refs: dict[Any, tuple[str, _Slot]] = {}  # object ref -> ("ready" | "run", its slot)
        self._runs: dict[int, _Slot] = {}  # run id -> the slot running it
        self._run_ids = itertools.count()
        self._pending: deque[Job] = deque()
        self._attempts: dict[int, int] = {}  # job number -> attempts begun
        self._start_failures: dict[int, tuple[int, str]] = {}  # slot -> (failed starts in a row, last reason)
        self._on_report: OnReport | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def start(self, evaluator: BaseEvaluator, space: ModelSpace, on_report: OnReport) -> None:
        ray = import_ray()
        self._ray = ray
        if not ray.is_initialized():
            join_ray(self.address, self.init_kwargs)
            self._owns_ray = True
        elif self.address is not None or self.init_kwargs:
            warnings.warn(
                "Ray is already initialised in this process, so RayExecutor uses it as it is and ignores its "
                f"`address` ({self.address!r}) and `init_kwargs`; call `ray.shutdown()` first to apply them.",
                stacklevel=2,
            )
        try:
            self._check_resources()
            self._launch(evaluator, space, on_report)
        except BaseException:
            self._end()  # and Ray, if started here for nothing
            raise

    def _launch(self, evaluator: BaseEvaluator, space: ModelSpace, on_report: OnReport) -> None:
        ray = self._ray
        try:
            self._payload = ray.put((evaluator, space))
        except Exception as exc:
            raise ConfigError(
                f"The evaluator and space must be serialisable to run on Ray actors, but it failed: {exc}. Pass plain "
                "values to their constructors (no open files, locks or connections), or use the sequential executor."
            ) from exc
        self._on_report = on_report
        # the hub lives on the driver's node (the head, under Ray Client), so the loss of another node does not end
        # the live reports; it needs no resources, so that node can always take it (a soft affinity let Ray 2.60
        # put it on any node: tests/executors/test_ray_cluster.py)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self._hub = ray.remote(report_hub()).options(num_cpus=0, max_restarts=0, scheduling_strategy=here).remote()
        self._take = self._hub.take.remote()
        self._actor_cls = ray.remote(TrialActor).options(
            num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial, max_restarts=0, max_task_retries=0
        )
        self._slots = [None] * self.n_workers
        for index in range(self.n_workers):
            self._spawn(index)
        # the hub is up in a fraction of a second, long before the trial actors: then no early report waits for it
        ray.wait([self._hub.ready.remote()], timeout=10.0)

    def _check_resources(self) -> None:
        """Refuse trials no node of a Ray we started could hold; warn when a cluster can hold fewer actors
        than asked (an autoscaler may add nodes)."""
        total = self._ray.cluster_resources()
        for name, need in (("CPU", self.cpus_per_trial), ("GPU", self.gpus_per_trial)):
            have = float(total.get(name, 0.0))
            if not need or have >= need * self.n_workers:
                continue
            if have < need and self._owns_ray and self.address is None:
                raise ConfigError(
                    f"Each trial asks for {need:g} {name}(s) (`{name.lower()}s_per_trial`), but the Ray instance on "
                    f"this machine has {have:g}; lower {name.lower()}s_per_trial or join a cluster with `address`."
                )
            warnings.warn(
                f"{self.n_workers} Ray actors with {need:g} {name}(s) each need {need * self.n_workers:g} {name}(s), "
                f"but the cluster has {have:g}: only {int(have // need)} trial(s) run at once until it grows.",
                stacklevel=3,
            )

    def _spawn(self, index: int) -> None:
        """Start a fresh actor in slot `index`, ending the one there (if any)."""
        old = self._slots[index]
        if old is not None:
            self._forget(old)
            with contextlib.suppress(Exception):  # already dead
                self._ray.kill(old.actor, no_restart=True)
        actor = self._actor_cls.remote(self._payload, self._hub, self.threads_per_worker, REPORT_LINGER)
        slot = _Slot(index, actor)
        self._slots[index] = slot
        self._refs[actor.ready.remote()] = ("ready", slot)

    def _forget(self, slot: _Slot) -> None:
        """Drop the calls still outstanding on a slot's actor."""
        for ref in [ref for ref, (_, s) in self._refs.items() if s is slot]:
            del self._refs[ref]
        self._runs.pop(slot.run_id, None)

    def shutdown(self) -> None:
        """End the actors (a busy one finishes its job first, for up to 5 s) and Ray, if this executor started it."""
        if self._ray is None:
            return
        ray = self._ray
        ends = []
        for slot in self._slots:
            if slot is not None and slot.ready:  # one still starting is simply killed
                with contextlib.suppress(Exception):
                    ends.append(slot.actor.__ray_terminate__.remote())
        if ends:
            with contextlib.suppress(Exception):
                ray.wait(ends, num_returns=len(ends), timeout=5.0)
        self._end()

    def kill(self) -> None:
        """Stop every actor at once (Ctrl-C): running trials are abandoned, to be rerun on resume."""
        if self._ray is None:
            return
        self._end()

    def _end(self) -> None:
        """Kill whatever actors are left, forget all state, and shut Ray down if this executor started it."""
        ray = self._ray
        for actor in [*(slot.actor for slot in self._slots if slot is not None), self._hub]:
            if actor is not None:
                with contextlib.suppress(Exception):  # gone already
                    ray.kill(actor, no_restart=True)
        self._slots, self._hub, self._take, self._payload, self._actor_cls = [], None, None, None, None
        self._refs.clear()
        self._runs.clear()
        self._pending.clear()
        self._attempts.clear()
        self._start_failures.clear()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
        self._ray = None

    # --- jobs ---------------------------------------------------------------------------------------------------
    @property
    def n_running(self) -> int:
        return len(self._pending) + len(self._runs)

    def submit(self, job: Job) -> None:
        if self._ray is None:
            raise RuntimeError("RayExecutor.start() was not called")
        self._pending.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        for slot in self._slots:
            if not self._pending:
                return
            if slot is not None and slot.ready and slot.job is None:
                job = self._pending.popleft()
                self._attempts[job.number] = self._attempts.get(job.number, 0) + 1
                slot.job, slot.run_id, slot.started_at, slot.delivered = job, next(self._run_ids), time.time(), 0
                self._runs[slot.run_id] = slot
                self._refs[slot.actor.run.remote(slot.run_id, job)] = ("run", slot)

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        if self._ray is None:
            raise RuntimeError("RayExecutor.start() was not called")
        ray = self._ray
        deadline = None if timeout is None else time.monotonic() + timeout
        done: list[JobResult] = []
        while self.n_running and not done:
            self._dispatch()
            refs = [*self._refs] if self._take is None else [self._take, *self._refs]
            ready = []
            if refs:
                ready, _ = ray.wait(refs, num_returns=1, timeout=self._sleep(deadline))
            else:  # not expected (a waiting job means an actor is starting or busy); do not spin
                time.sleep(0.01)
            for ref in ready:
                if ref == self._take:
                    self._take_reports(ref)
                else:
                    done.extend(self._handle(ref))
            done.extend(self._stop_overdue())
            if deadline is not None and time.monotonic() >= deadline:
                break
        return done

    def _sleep(self, deadline: float | None) -> float | None:
        """How long `ray.wait` may block: until `deadline` or the next overdue job, whichever comes first."""
        now = time.monotonic()
        limits = [] if deadline is None else [deadline - now]
        wall = time.time()
        for slot in self._runs.values():
            if slot.job is not None and slot.job.timeout is not None:
                limits.append(slot.started_at + slot.job.timeout + KILL_GRACE - wall)
        return max(0.0, min(limits)) if limits else None

    def _deliver(self, slot: _Slot, run_id: int, index: int, step: int, metrics: Mapping[str, float]) -> None:
        """Pass on a report once: it may come both live and with the result."""
        if slot.run_id != run_id or index < slot.delivered or slot.job is None:
            return
        slot.delivered = index + 1
        if self._on_report is not None:
            self._on_report(slot.job.number, step, metrics)

    def _take_reports(self, ref: Any) -> None:
        try:
            items = self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:  # the hub died: reports still arrive with the results
            warnings.warn(
                f"Live reports from Ray actors stopped ({reason(exc)}); they now come with the results.", stacklevel=3
            )
            self._take = None
            return
        for run_id, index, _number, step, metrics in items:
            slot = self._runs.get(run_id)
            if slot is not None:
                self._deliver(slot, run_id, index, step, metrics)
        self._take = self._hub.take.remote()

    def _handle(self, ref: Any) -> list[JobResult]:
        """Take one finished call: an actor that is ready, or a job that is done (or whose actor died)."""
        kind, slot = self._refs.pop(ref)
        ray = self._ray
        if kind == "ready":
            try:
                slot.pid = ray.get(ref)
            except ray.exceptions.RayError as exc:
                self._failed_start(slot, exc)
                return []
            slot.ready = True
            self._start_failures.pop(slot.index, None)
            self._dispatch()
            return []
        job, run_id = slot.job, slot.run_id
        assert job is not None
        try:
            result, made = ray.get(ref)
        except lost_errors(ray) as exc:
            return self._lost(slot, job, exc)
        except ray.exceptions.RayTaskError as exc:  # e.g. a result that cannot be sent back: the job fails, not the run
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            made = []
            result = JobResult(job.number, None, f"{type(cause).__name__}: {cause}", slot.started_at, time.time())
        for index, (step, metrics) in enumerate(made):
            self._deliver(slot, run_id, index, step, metrics)
        del self._runs[run_id]
        slot.job = None
        attempts = self._attempts.pop(job.number, 1)
        if attempts > 1:
            result = replace(result, info={**result.info, "attempts": attempts})
        self._dispatch()
        return [result]

    def _lost(self, slot: _Slot, job: Job, exc: Exception) -> list[JobResult]:
        """The actor running `job` died: rerun the job on a fresh actor, or fail it when out of retries."""
        why = f"Ray actor (pid {slot.pid}) died: {reason(exc)}"
        attempts = self._attempts.get(job.number, 1)
        self._spawn(slot.index)
        if attempts <= self.max_retries:
            self._pending.appendleft(job)  # first in line again
            self._dispatch()
            return []
        self._attempts.pop(job.number, None)
        return [worker_lost(job, why, attempts)]

    def _failed_start(self, slot: _Slot, exc: Exception) -> None:
        """An actor died before it was ready: try again, up to `START_ATTEMPTS` times in a row per slot."""
        count = self._start_failures.get(slot.index, (0, ""))[0] + 1
        self._start_failures[slot.index] = (count, reason(exc))
        if count < START_ATTEMPTS:
            self._spawn(slot.index)
            return
        self._forget(slot)
        self._slots[slot.index] = None
        if all(s is None for s in self._slots):
            reasons = sorted({why for _, why in self._start_failures.values()})
            raise ConfigError(
                f"No Ray actor could start ({START_ATTEMPTS} tries per worker): {'; '.join(reasons)}. Make nasforge and "
                "the module of your evaluator and space importable on every Ray node (install them there, or pass "
                "`init_kwargs={'runtime_env': {...}}`), then run again."
            )
        warnings.warn(
            f"Ray worker slot {slot.index} is given up after {START_ATTEMPTS} failed starts ({reason(exc)}); "
            f"trials go on with {sum(s is not None for s in self._slots)} actor(s).",
            stacklevel=4,
        )

    def _stop_overdue(self) -> list[JobResult]:
        """Kill the actor of any job still running `KILL_GRACE` seconds past its timeout (its alarm did not stop
        it: stuck in C code), fail that job and start a fresh actor."""
        stopped = []
        now = time.time()
        for slot in list(self._runs.values()):
            job = slot.job
            if job is None or job.timeout is None or now - slot.started_at <= job.timeout + KILL_GRACE:
                continue
            self._attempts.pop(job.number, None)
            stopped.append(timed_out(job, slot.started_at, now))
            self._spawn(slot.index)
        if stopped:
            self._dispatch()
        return stopped


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
