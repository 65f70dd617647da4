"""The executor conformance suite: sequential and a local process pool run the same jobs alike."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from nasforge.errors import ConfigError
from nasforge.executors import BaseExecutor, Job, JobResult, LocalPoolExecutor, SequentialExecutor, SimulatedExecutor
from nasforge.space import Arch
from tests.toys import CrashEvaluator, ToyEvaluator, ToySpace, toy_score

SPACE = ToySpace()


def arch(x: int) -> Arch:
    return SPACE.validate({"x": x, "y": 1, "op": "b", "extra": "none"})


def run_all(executor: BaseExecutor, evaluator, xs: list[int]) -> tuple[dict[int, JobResult], list]:
    reports: list[tuple[int, int, Mapping[str, float]]] = []
    executor.start(evaluator, SPACE, lambda n, s, m: reports.append((n, s, dict(m))))
    try:
        for i, x in enumerate(xs):
            executor.submit(Job(i, arch(x), None, seed=i))
        results: dict[int, JobResult] = {}
        while executor.n_running:
            for r in executor.wait(timeout=30):
                results[r.number] = r
    finally:
        executor.shutdown()
    return results, reports


@pytest.fixture(params=["sequential", "pool", "simulated"])
def executor(request: pytest.FixtureRequest) -> BaseExecutor:
    if request.param == "sequential":
        return SequentialExecutor()
    if request.param == "simulated":
        return SimulatedExecutor(n_workers=2)
    return LocalPoolExecutor(n_workers=2, threads_per_worker=1)


def test_runs_every_job_and_streams_reports(executor: BaseExecutor) -> None:
    results, reports = run_all(executor, ToyEvaluator(), [0, 1, 2, 3, 4])
    assert sorted(results) == [0, 1, 2, 3, 4]
    for i, r in results.items():
        assert r.error is None and r.metrics is not None
        assert r.metrics["score"] == toy_score(arch(i))
        assert r.finished_at >= r.started_at
    assert sorted(n for n, _, _ in reports) == [0, 1, 2, 3, 4]


def test_a_failing_trial_fails_alone(executor: BaseExecutor) -> None:
    results, _ = run_all(executor, ToyEvaluator(fail_x=(2,), nan_x=(3,)), [1, 2, 3, 4])
    assert "RuntimeError: boom for x=2" in (results[1].error or "") and results[1].metrics is None
    assert "NaN" in (results[2].error or "") and results[2].metrics is None
    assert results[0].error is None and results[3].error is None


def test_pool_uses_several_processes() -> None:
    results, _ = run_all(LocalPoolExecutor(n_workers=2, threads_per_worker=1), ToyEvaluator(sleep=0.3), [1, 2, 3, 4])
    pids = {r.metrics["pid"] for r in results.values() if r.metrics}
    assert len(pids) == 2


def test_a_dying_worker_fails_only_its_trial() -> None:
    results, _ = run_all(LocalPoolExecutor(n_workers=2, threads_per_worker=1), CrashEvaluator(), [1, 0, 2, 3, 4])
    assert "WorkerDied" in (results[1].error or "")
    assert all(results[i].error is None for i in (0, 2, 3, 4))


def test_unpicklable_evaluator_is_a_clear_error() -> None:
    evaluator = ToyEvaluator()
    evaluator.hook = lambda: None  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="picklable"):
        LocalPoolExecutor(n_workers=1).start(evaluator, SPACE, lambda *a: None)


@pytest.mark.parametrize("kwargs", [{"n_workers": 0}, {"threads_per_worker": 0}, {"start_method": "teleport"}])
def test_pool_validates_arguments(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        LocalPoolExecutor(**kwargs)


class CostEvaluator(ToyEvaluator):
    """Costs 10 * x simulated seconds."""

    def _evaluate(self, ctx):  # type: ignore[no-untyped-def]
        return {"score": toy_score(ctx.arch), "cost": 10.0 * ctx.arch["x"]}


def test_simulated_clock_orders_results_by_finish_time() -> None:
    ex = SimulatedExecutor(n_workers=2)
    results, _ = run_all(ex, CostEvaluator(), [4, 1, 2, 3])
    # worker A: x=4 on [0, 40]; worker B: x=1 [0, 10], x=2 [10, 30], x=3 [30, 60]
    assert {n: (r.started_at, r.finished_at) for n, r in results.items()} == {
        0: (0.0, 40.0),
        1: (0.0, 10.0),
        2: (10.0, 30.0),
        3: (30.0, 60.0),
    }
    assert ex.now() == 60.0


def test_simulated_executor_rejects_negative_costs() -> None:
    class Negative(ToyEvaluator):
        def _evaluate(self, ctx):  # type: ignore[no-untyped-def]
            return {"score": 0.0, "cost": -1.0}

    with pytest.raises(ConfigError, match="must be >= 0"):
        run_all(SimulatedExecutor(), Negative(), [1])
