"""`benchmarks/scaling.py`'s model runs on tiny settings: the charged simulated executor, D drivers at once, and
the summary that names the bottleneck (no figure of the benchmark is asserted)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from nasforge import Experiment, RandomSearch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("scaling_model"), importlib.import_module("scaling")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def run(  # type: ignore[no-untyped-def]
    model: ModuleType, tmp_path: Path, workers: int, dispatch_s: float, trials: int = 24, realtime: bool = False
):
    SmallSpace = importlib.import_module("ray_overhead").SmallSpace  # benchmarks/, on the path by `bench`

    kind = model.RealTimeSimulatedExecutor if realtime else model.ChargedSimulatedExecutor
    executor = kind(workers, dispatch_s)
    exp = Experiment(
        "charged",
        SmallSpace(),
        RandomSearch(dedup=False),
        model.DurationEvaluator(mean_s=0.05 if realtime else 1.0, cv=0.5),
        storage=str(tmp_path / "s.db"),
        executor=executor,
        objective="max:score",
    )
    exp.run(max_trials=trials)
    return executor, exp


def test_the_driver_s_time_is_charged_to_the_simulated_clock(bench, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, _ = bench
    executor, exp = run(model, tmp_path, workers=4, dispatch_s=0.01)
    costs = [t.metrics["cost"] for t in exp.trials]
    assert len(costs) == len(executor.taken) == len(executor.spans) == 24
    assert executor.charged >= 24 * 0.01  # the dispatch of every trial at least
    assert executor.now() >= sum(costs) / 4  # four workers cannot do it faster
    assert executor.taken == sorted(executor.taken)  # the clock never runs back


def test_a_slow_driver_is_the_bottleneck(bench, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, _ = bench
    executor, _ = run(model, tmp_path, workers=8, dispatch_s=0.5)  # 0.5 s per trial of 1 s: at most 2 busy
    working, rate = model.busy(executor.taken, executor.spans)
    assert working < 2.5 and rate < 2.5


def test_real_time_workers_run_on_the_wall_clock(bench, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, _ = bench
    executor, exp = run(model, tmp_path, workers=4, dispatch_s=0.0, trials=16, realtime=True)
    costs = [t.metrics["cost"] for t in exp.trials]
    assert len(executor.taken) == 16 and executor.slept > 0
    assert executor.now() >= sum(costs) / 4  # it slept through the trials
    assert all(end - start >= 0 for start, end in executor.spans)


def test_drivers_at_once_and_the_summary(bench, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, scaling = bench
    schema = importlib.import_module("scaling_measure").schema  # the tables, before two processes open the file
    urls = {w: schema(str(tmp_path / f"w{w}.db")) for w in (2, 4)}
    rows = model.drive(
        urls, drivers=2, mean_s=1.0, cv=0.5, dispatch_s=0.0, trials_per_worker=4, shared=False, min_trials=8
    )
    assert [r["workers"] for r in rows] == [2, 4] and all(r["drivers"] == 2 for r in rows)
    assert all(0 < r["efficiency"] <= 1.0 + 1e-9 and r["trials"] >= 16 for r in rows)
    model_rows = [{"part": "model", "clock": "charged", "storage": "sqlite", "durations": "short", **r} for r in rows]
    slow = {**model_rows[-1], "workers": 16, "efficiency": 0.5, "driver_ms_per_trial": 10.0}
    (found,) = scaling.bottlenecks([*model_rows, slow], {("sqlite", 2): 8.0})
    assert found["first_w_below_target"] == 16 and found["bottleneck"] == "storage"
    assert found["efficiency_at_16"] == 0.5
