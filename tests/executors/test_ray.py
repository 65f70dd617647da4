"""`RayExecutor` on a local Ray instance: the executor conformance behaviours, and its own failures proven by
doing them (an actor SIGKILLed mid-trial, a crashing trial, trials past their timeout).

Ray starts once for the file (loopback only, 2 CPUs); each test that runs jobs starts its own actors, which
import torch and nasforge (seconds on a busy machine), so behaviours share runs where they can.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import ray

from nasforge.errors import ConfigError
from nasforge.evaluators import EvalContext
from nasforge.executors import Job, JobResult
from nasforge.executors.base import TrialTimeout
from nasforge.executors.ray_actors import REPORT_LINGER, TrialActor
from nasforge.executors.ray_executor import KILL_GRACE, RayExecutor, start_local_ray
from nasforge.executors.ray_runtime import CLIENT_ATTEMPTS, join_ray
from nasforge.trial import TrialState
from tests.executors.test_executors import SPACE, arch, run_all
from tests.toys import CrashEvaluator, SlowEvaluator, ToyEvaluator, ToySpace, toy_score


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One Ray instance for the whole file, listening on loopback only."""
    if ray.is_initialized():  # pragma: no cover - left over by another module
        ray.shutdown()
    start_local_ray(num_cpus=2, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


class StuckEvaluator(SlowEvaluator):
    """`SlowEvaluator`, except that for x == 4 it swallows the timeout alarm and carries on for 60 s, as a trial
    stuck in C code would."""

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        if ctx.arch["x"] != 4:
            return super()._evaluate(ctx)
        ctx.report(0, {"pid": float(os.getpid())})
        end = time.monotonic() + 60
        while time.monotonic() < end:
            with contextlib.suppress(TrialTimeout):
                time.sleep(0.02)
        return {"score": toy_score(ctx.arch)}


def run_all_jobs(executor: RayExecutor, evaluator: object, jobs: list[Job]) -> tuple[dict[int, JobResult], list]:
    """`run_all` for jobs made here (with timeouts)."""
    reports: list[tuple[int, int, dict[str, float]]] = []
    executor.start(evaluator, SPACE, lambda n, s, m: reports.append((n, s, dict(m))))  # type: ignore[arg-type]
    results: dict[int, JobResult] = {}
    try:
        for job in jobs:
            executor.submit(job)
        while executor.n_running:
            for r in executor.wait(timeout=60):
                results[r.number] = r
    finally:
        executor.shutdown()
    return results, reports


def gone(pid: int, within: float = 10.0) -> bool:
    """True once process `pid` no longer exists (a zombie awaiting its parent counts as gone)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split()[2] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


# --- arguments ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_workers": 0}, "`n_workers` of RayExecutor must be an int >= 1, but got 0"),
        ({"n_workers": True}, "n_workers"),
        ({"address": "localhost"}, "'host:port' or 'ray://host:port', but got 'localhost'"),
        ({"address": 6379}, "address"),
        ({"cpus_per_trial": 0}, "`cpus_per_trial` of RayExecutor must be a number > 0"),
        ({"gpus_per_trial": -1}, "`gpus_per_trial` of RayExecutor must be a number >= 0"),
        ({"gpus_per_trial": 1.5}, "whole number"),
        ({"threads_per_worker": 0}, "threads_per_worker"),
        ({"max_retries": -1}, "`max_retries` of RayExecutor must be an int >= 0, but got -1"),
        ({"init_kwargs": ["num_cpus"]}, "mapping of `ray.init` argument names"),
        ({"init_kwargs": {"address": "auto"}}, "not in `init_kwargs`"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        RayExecutor(**kwargs)


def test_good_addresses_are_accepted() -> None:
    for address in (None, "auto", "10.0.0.5:6379", "ray://head.cluster:10001"):
        assert RayExecutor(address=address).address == address


def test_a_ray_client_connection_whose_server_side_failed_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ray Client server that could not start the client's side aborts the connection: seen once in CI on a busy
    head. The connection is tried again, up to CLIENT_ATTEMPTS; another error, or any error of a plain address,
    counts at once."""
    calls: list[str] = []
    failures = iter([2, 5])  # the aborts that each ray:// case below sees before ray.init succeeds

    def init(address: str, **kwargs: object) -> None:
        calls.append(address)
        if pending[0] > 0:
            pending[0] -= 1
            raise ConnectionAbortedError("Initialization failure from server: Starting Ray client server failed.")

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    pending = [next(failures)]
    join_ray("ray://head:10001", {}, pause=0)
    assert calls == ["ray://head:10001"] * 3  # two aborts, then joined
    calls.clear()
    pending = [next(failures)]
    with pytest.raises(ConfigError, match=r"could not start or connect \(3 tries\).*ray_client_server"):
        join_ray("ray://head:10001", {}, pause=0)
    assert len(calls) == CLIENT_ATTEMPTS == 3
    calls.clear()
    pending = [1]
    with pytest.raises(ConfigError, match=r"could not start or connect \(address '10.0.0.5:6379'"):
        join_ray("10.0.0.5:6379", {}, pause=0)
    assert calls == ["10.0.0.5:6379"]


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails, as when it is not installed
    with pytest.raises(ConfigError, match=r'pip install "nasforge\[ray\]"'):
        RayExecutor()


@pytest.mark.slow
def test_importing_nasforge_does_not_import_ray() -> None:
    code = "import sys, nasforge, nasforge.executors; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --- the actor's side, in this process ----------------------------------------------------------------------------
class PrepareFails(ToyEvaluator):
    """`prepare` fails its first `times` calls (data not there yet), then succeeds."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times, self.calls = times, 0

    def prepare(self) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise RuntimeError("no data yet")


class FakeHub:
    """Stands in for the report hub actor: `hub.put.remote(items)` records the items."""

    def __init__(self) -> None:
        self.batches: list[list[tuple]] = []
        self.put = self

    def remote(self, items: list[tuple]) -> None:
        self.batches.append(items)


@pytest.fixture
def no_thread_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """An actor sets torch's thread counts for its process; here that would be the test process."""
    import torch

    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    monkeypatch.setattr(torch, "set_num_interop_threads", lambda n: None)


def test_an_actor_prepares_before_its_first_job_and_a_failing_prepare_fails_only_a_job(
    no_thread_settings: None,
) -> None:
    evaluator = PrepareFails(times=2)
    actor = TrialActor((evaluator, SPACE), FakeHub(), 1, REPORT_LINGER)
    assert actor.ready() == os.getpid() and evaluator.calls == 1  # failed quietly: the first job reports it
    result, made = actor.run(0, Job(0, arch(3), None, 0))
    assert result.error == "RuntimeError: no data yet" and made == []
    result, made = actor.run(1, Job(1, arch(3), None, 1))
    assert result.error is None and made == [(1, {"score": toy_score(arch(3))})]
    actor.run(2, Job(2, arch(3), None, 2))
    assert evaluator.calls == 3  # prepared once it worked


def test_an_actor_sends_reports_of_a_running_trial_and_returns_all_with_the_result(no_thread_settings: None) -> None:
    hub = FakeHub()
    actor = TrialActor((SlowEvaluator(0.3), SPACE), hub, 1, REPORT_LINGER)
    result, made = actor.run(7, Job(4, arch(1), None, 4))
    assert result.error is None and [step for step, _ in made] == [0]
    assert len(hub.batches) == 1  # sent while the trial slept, `REPORT_LINGER` after it was made
    [(run_id, index, number, step, metrics)] = hub.batches[0]
    assert (run_id, index, number, step) == (7, 0, 4, 0) and metrics == made[0][1]
    quiet = FakeHub()
    fast = TrialActor((ToyEvaluator(), SPACE), quiet, 1, REPORT_LINGER)
    _, made = fast.run(0, Job(0, arch(1), None, 0))
    time.sleep(3 * REPORT_LINGER)
    assert len(made) == 1 and quiet.batches == []  # a trial faster than REPORT_LINGER sends no message of its own


# --- running jobs -------------------------------------------------------------------------------------------------
def test_the_local_instance_listens_on_loopback_only(local_ray: None) -> None:
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}


def test_an_unserialisable_evaluator_is_a_clear_error(local_ray: None) -> None:
    evaluator = ToyEvaluator()
    evaluator.lock = threading.Lock()  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="must be serialisable to run on Ray actors"):
        RayExecutor(n_workers=1).start(evaluator, SPACE, lambda *a: None)


def test_more_actors_than_the_cluster_holds_is_a_warning(local_ray: None) -> None:
    ex = RayExecutor(n_workers=3)
    with pytest.warns(UserWarning, match=r"need 3 CPU\(s\), but the cluster has 2: only 2 trial\(s\) run at once"):
        ex.start(ToyEvaluator(), SPACE, lambda *a: None)
    ex.kill()
    assert ray.is_initialized()


def test_conformance(local_ray: None) -> None:
    """Every job runs with its reports streamed; a failing trial (exception, NaN) fails alone; both actors work;
    the Ray this executor did not start is left running."""
    xs = [1, 2, 3, 4, 0, 1]
    results, reports = run_all(RayExecutor(n_workers=2), ToyEvaluator(sleep=0.5, fail_x=(2,), nan_x=(3,)), xs)
    assert sorted(results) == list(range(len(xs)))
    assert "RuntimeError: boom for x=2" in (results[1].error or "") and results[1].metrics is None
    assert "NaN" in (results[2].error or "") and results[2].metrics is None
    for i in (0, 3, 4, 5):
        r = results[i]
        assert r.error is None and r.metrics is not None and r.metrics["score"] == toy_score(arch(xs[i]))
        assert r.finished_at >= r.started_at
    assert sorted(n for n, _, _ in reports) == [0, 2, 3, 4, 5]  # x=2 fails before its report
    assert len({r.metrics["pid"] for r in results.values() if r.metrics and "pid" in r.metrics}) == 2
    assert ray.is_initialized()


@pytest.mark.slow
def test_a_ray_worker_stopped_mid_trial_is_rerun_on_a_new_actor(local_ray: None) -> None:
    """Stop a Ray worker mid-trial (retried): the trial's actor is SIGKILLed at the trial's first report, which
    reached the driver while the trial ran; the trial reruns on the fresh actor started in its place and
    completes. A trial past its timeout is stopped by the alarm in its actor, and the next trial still runs there.
    Ctrl-C (`kill`) ends the actors at once."""
    reports: list[tuple[int, int, dict[str, float]]] = []
    killed: list[int] = []

    def on_report(number: int, step: int, metrics: Mapping[str, float]) -> None:
        reports.append((number, step, dict(metrics)))
        if number == 0 and not killed:
            killed.append(int(metrics["pid"]))
            os.kill(killed[0], signal.SIGKILL)

    ex = RayExecutor(n_workers=1, max_retries=2)
    ex.start(SlowEvaluator(1.0), SPACE, on_report)
    results: dict[int, JobResult] = {}
    try:
        ex.submit(Job(0, arch(0), None, 0))
        ex.submit(Job(1, arch(1), None, 1, timeout=0.3))
        ex.submit(Job(2, arch(2), None, 2))
        while ex.n_running:
            for r in ex.wait(timeout=60):
                results[r.number] = r
        ex.submit(Job(3, arch(3), None, 3))  # running at Ctrl-C
        deadline = time.monotonic() + 60
        while not any(n == 3 for n, _, _ in reports) and time.monotonic() < deadline:
            assert not ex.wait(timeout=0.2)
        began = time.monotonic()
        ex.kill()
        assert time.monotonic() - began < 3.0 and ex.n_running == 0
    finally:
        ex.shutdown()
    retried = results[0]
    assert retried.error is None and retried.metrics is not None and retried.info["attempts"] == 2
    pids = [m["pid"] for n, step, m in reports if n == 0 and step == 0]
    assert len(pids) == 2 and pids[0] == killed[0] != pids[1]  # started twice, on two actors
    assert retried.metrics["pid"] == pids[1] and gone(killed[0])
    assert (results[1].error or "").startswith("Timeout: the trial ran longer than its limit of 0.3 s")
    assert results[1].finished_at - results[1].started_at < 0.9  # the alarm stopped it, not the driver's kill
    assert results[2].error is None and results[2].metrics is not None
    assert results[2].metrics["pid"] == pids[1]  # the actor outlived the timeout of the trial before
    assert gone(int(next(m["pid"] for n, _, m in reports if n == 3)))  # killed with the run
    assert ray.is_initialized()


@pytest.mark.slow
def test_a_trial_stuck_past_its_timeout_is_stopped_by_killing_its_actor(local_ray: None) -> None:
    """A trial that ignores its timeout alarm is stopped by killing its actor `KILL_GRACE` seconds after its
    timeout; it fails with `Timeout` and the next trial runs on a fresh actor."""
    results, reports = run_all_jobs(
        RayExecutor(n_workers=1), StuckEvaluator(0.2), [Job(0, arch(4), None, 0, timeout=0.3), Job(1, arch(1), None, 1)]
    )
    assert (results[0].error or "").startswith("Timeout: the trial ran longer than its limit of 0.3 s")
    assert 0.3 + KILL_GRACE <= results[0].finished_at - results[0].started_at < 0.3 + KILL_GRACE + 5
    assert results[1].error is None and results[1].metrics is not None
    stuck_pid = next(m["pid"] for n, _, m in reports if n == 0)
    assert results[1].metrics["pid"] != stuck_pid and gone(int(stuck_pid))


@pytest.mark.slow
def test_a_trial_that_kills_its_worker_fails_after_its_retries(local_ray: None) -> None:
    """CrashEvaluator ends its process for x == 0: that trial reruns once (`max_retries=1`), then fails with
    `WorkerDied`, while the others complete."""
    results, _ = run_all(RayExecutor(n_workers=2, max_retries=1), CrashEvaluator(), [1, 0, 2, 3, 4])
    failed = results[1]
    assert (failed.error or "").startswith("WorkerDied: Ray actor") and "on all 2 attempts" in (failed.error or "")
    assert failed.info["attempts"] == 2 and failed.metrics is None
    assert all(results[i].error is None and results[i].metrics is not None for i in (0, 2, 3, 4))


def test_an_experiment_runs_on_ray(local_ray: None) -> None:
    from nasforge import Experiment, RandomSearch

    exp = Experiment(
        "ray",
        ToySpace(),
        RandomSearch(),
        ToyEvaluator(),
        storage=":memory:",
        executor=RayExecutor(n_workers=2),
        objective="max:score",
    )
    exp.run(max_trials=20)
    trials = exp.trials
    assert len(trials) == 20 and all(t.state is TrialState.COMPLETE for t in trials), trials
    assert all(exp.reports(t.number) for t in trials)
    assert exp.best_trial is not None and exp.best_trial.metrics["score"] == max(t.metrics["score"] for t in trials)


@pytest.mark.slow
def test_an_executor_that_starts_ray_shuts_it_down(tmp_path: Path) -> None:
    """Without a Ray in the process, the executor starts one on loopback and ends it at `shutdown`."""
    script = textwrap.dedent(
        """
        import ray
        from nasforge.executors import Job
        from nasforge.executors.ray_executor import RayExecutor
        from tests.executors.test_executors import SPACE, arch
        from tests.toys import ToyEvaluator

        ex = RayExecutor(n_workers=1, init_kwargs={"num_cpus": 1, "log_to_driver": False})
        ex.start(ToyEvaluator(), SPACE, lambda *a: None)
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        ex.submit(Job(0, arch(3), None, 0))
        results = []
        while ex.n_running:
            results.extend(ex.wait(timeout=60))
        ex.shutdown()
        assert [r.error for r in results] == [None], results
        assert not ray.is_initialized()
        print("ok")
        """
    )
    root = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


class Unloadable(ToyEvaluator):
    """Sent fine, but cannot be loaded on the actors (as when its module is missing on the cluster's nodes)."""

    def __setstate__(self, state: dict) -> None:
        raise ModuleNotFoundError("No module named 'only_on_my_laptop'")


@pytest.mark.slow
def test_actors_that_cannot_start_are_a_clear_error(local_ray: None) -> None:
    with pytest.raises(ConfigError, match=r"No Ray actor could start \(3 tries per worker\).*only_on_my_laptop"):
        run_all(RayExecutor(n_workers=1), Unloadable(), [1])
    assert ray.is_initialized()
