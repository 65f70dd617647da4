"""The local pool's own failures, proven by doing them: a worker SIGKILLed or frozen mid-trial (the trial
reruns), a trial past its timeout (stopped, even when it ignores the alarm), and GPUs shared among workers."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping

import pytest

from nasforge.errors import ConfigError
from nasforge.executors import Job, JobResult, LocalPoolExecutor, SequentialExecutor
from nasforge.executors.pool import assign_gpus
from nasforge.space import Arch
from tests.toys import SlowEvaluator, ToySpace

SPACE = ToySpace()


def arch(x: int) -> Arch:
    return SPACE.validate({"x": x, "y": 1, "op": "b", "extra": "none"})


def run(executor, evaluator, jobs: list[Job], on_first_report=None) -> tuple[dict[int, JobResult], list]:
    """Run the jobs; `on_first_report(number, pid)` is called once per trial number at its first report."""
    reports: list[tuple[int, int, dict[str, float]]] = []
    seen: set[int] = set()

    def on_report(number: int, step: int, metrics: Mapping[str, float]) -> None:
        reports.append((number, step, dict(metrics)))
        if on_first_report is not None and number not in seen:
            seen.add(number)
            on_first_report(number, int(metrics["pid"]))

    executor.start(evaluator, SPACE, on_report)
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


def test_a_worker_killed_mid_trial_reruns_it() -> None:
    def kill_first(number: int, pid: int) -> None:
        if number == 0:
            os.kill(pid, signal.SIGKILL)

    pool = LocalPoolExecutor(n_workers=2, threads_per_worker=1)
    results, reports = run(pool, SlowEvaluator(1.0), [Job(i, arch(i), None, i) for i in range(3)], kill_first)
    assert all(r.error is None and r.metrics is not None for r in results.values()), results
    assert results[0].info["attempts"] == 2
    pids = [m["pid"] for n, step, m in reports if n == 0 and step == 0]
    assert len(pids) == 2 and pids[0] != pids[1]  # started twice, on two processes
    assert results[0].metrics["pid"] == pids[1]  # type: ignore[index]


@pytest.mark.slow
def test_a_frozen_worker_is_found_by_its_silence() -> None:
    def freeze_first(number: int, pid: int) -> None:
        if number == 0:
            os.kill(pid, signal.SIGSTOP)  # alive to the OS, but it says nothing any more

    pool = LocalPoolExecutor(n_workers=2, threads_per_worker=1, heartbeat_timeout=1.5)
    results, _ = run(pool, SlowEvaluator(3.0), [Job(i, arch(i), None, i) for i in range(2)], freeze_first)
    assert results[0].error is None and results[0].info["attempts"] == 2
    assert results[1].error is None and "attempts" not in results[1].info


def test_retries_run_out_as_worker_died() -> None:
    pool = LocalPoolExecutor(n_workers=1, threads_per_worker=1, max_retries=1)
    evaluator = SlowEvaluator(5.0)
    reps: list[tuple[int, int]] = []

    def on_report(number: int, step: int, metrics: Mapping[str, float]) -> None:
        reps.append((number, step))
        os.kill(int(metrics["pid"]), signal.SIGKILL)

    pool.start(evaluator, SPACE, on_report)
    try:
        pool.submit(Job(0, arch(0), None, 0))
        results = []
        while pool.n_running:
            results.extend(pool.wait(timeout=60))
    finally:
        pool.shutdown()
    [failed] = results
    assert failed.error is not None and failed.error.startswith("WorkerDied") and "on all 2 attempts" in failed.error
    assert failed.info["attempts"] == 2 and len(reps) == 2


@pytest.mark.parametrize("block_alarm", [False, True])
def test_a_trial_past_its_timeout_is_stopped(block_alarm: bool) -> None:
    pool = LocalPoolExecutor(n_workers=2, threads_per_worker=1)
    jobs = [Job(0, arch(0), None, 0, timeout=0.5), Job(1, arch(1), None, 1, timeout=30), Job(2, arch(2), None, 2)]
    results, _ = run(pool, SlowEvaluator(6.0 if block_alarm else 30.0, block_alarm=block_alarm), jobs[:1])
    assert (results[0].error or "").startswith("Timeout: the trial ran longer than its limit of 0.5 s")
    assert results[0].finished_at - results[0].started_at < 5.0


def test_the_timeout_holds_in_process_too() -> None:
    results, _ = run(SequentialExecutor(), SlowEvaluator(30.0), [Job(0, arch(0), None, 0, timeout=0.3)])
    assert (results[0].error or "").startswith("Timeout")
    results, _ = run(SequentialExecutor(), SlowEvaluator(0.1), [Job(0, arch(0), None, 0, timeout=5)])
    assert results[0].error is None
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no alarm left behind


def test_workers_see_only_their_share_of_the_gpus() -> None:
    pool = LocalPoolExecutor(n_workers=2, threads_per_worker=1, gpus_per_trial=1, gpu_ids=[3, 5])
    results, _ = run(pool, SlowEvaluator(0.5), [Job(i, arch(i), None, i) for i in range(4)])
    by_pid: dict[float, set[float]] = {}
    for r in results.values():
        by_pid.setdefault(r.metrics["pid"], set()).add(r.metrics["gpu"])  # type: ignore[index]
    assert sorted(g for gs in by_pid.values() for g in gs) == [3.0, 5.0]  # each worker pinned to one GPU


def test_gpu_shares() -> None:
    assert assign_gpus(4, 0.5, [0, 1]) == ["0", "0", "1", "1"]
    assert assign_gpus(3, 0.25, [7]) == ["7", "7", "7"]
    assert assign_gpus(2, 2, [0, 1, 2, 3]) == ["0,1", "2,3"]
    assert assign_gpus(2, 0, []) == [None, None]
    with pytest.raises(ConfigError, match=r"need 3 GPU\(s\), but only 2 are available"):
        assign_gpus(3, 1, [0, 1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gpus_per_trial": 0.3, "gpu_ids": [0]}, "divide one GPU evenly"),
        ({"gpus_per_trial": 1.5, "gpu_ids": [0, 1]}, "whole number"),
        ({"gpus_per_trial": -1}, "number >= 0"),
        ({"gpus_per_trial": 1, "gpu_ids": "0,1"}, "list of GPU indices"),
        ({"max_retries": -1}, "max_retries"),
        ({"heartbeat_timeout": 0}, "heartbeat_timeout"),
    ],
)
def test_bad_pool_settings_are_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LocalPoolExecutor(n_workers=2, **kwargs)


def test_asking_for_gpus_without_any_is_a_clear_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.xfail("this machine has a GPU; the error is for machines without one")  # pragma: no cover
    with pytest.raises(ConfigError, match="torch sees none"):
        LocalPoolExecutor(n_workers=1, gpus_per_trial=1)


UNGUARDED = """
from nasforge import Experiment, LocalPoolExecutor, RandomSearch
from tests.toys import ToyEvaluator, ToySpace

exp = Experiment("unguarded", ToySpace(), RandomSearch(), ToyEvaluator(), storage={db!r},
                 executor=LocalPoolExecutor(n_workers=2, threads_per_worker=1), objective="max:score")
exp.run(max_trials=4)
print("finished")
"""


@pytest.mark.slow
def test_a_script_without_a_main_guard_fails_fast_and_says_what_to_add(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "search.py"
    script.write_text(UNGUARDED.format(db=str(tmp_path / "nas.db")))
    root = Path(__file__).resolve().parents[2]
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert time.monotonic() - started < 60  # not the hang of old
    assert out.returncode != 0 and "finished" not in out.stdout
    last = out.stderr.strip().splitlines()[-1]
    assert "ExecutorError" in last and "exited while starting" in last
    assert 'if __name__ == "__main__":' in last and "search.py" in last


def test_workers_that_start_well_reset_the_count_of_startup_deaths() -> None:
    ex = LocalPoolExecutor(n_workers=1, threads_per_worker=1)
    results, _ = run(ex, SlowEvaluator(seconds=0.1), [Job(0, arch(1), None, seed=0)])
    assert results[0].error is None and ex._startup_deaths == 0
