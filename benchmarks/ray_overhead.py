"""The loop's own cost per trial on Ray, beside Ray Tune, with an evaluator that does nothing.

Runs the same 2,000 no-op trials (random search over a small space: 5 x 5 x 3 choices) four ways in one
process, on one local Ray instance (loopback, 2 CPUs by default) shared by the two Ray runs:

  (a) nasforge: `Experiment` + `RandomSearch` + `RayExecutor(n_workers=2)`, SQLite storage in a temp folder;
  (b) Ray Tune: `Tuner` with reused actors (`reuse_actors=True`, `max_concurrent_trials=2`), a function
      trainable that returns at once, the same choices as `tune.choice`, results in a temp folder;
  (c) nasforge on `LocalPoolExecutor(n_workers=2, threads_per_worker=1)`;
  (d) nasforge on `SequentialExecutor`.

Each evaluation reports one intermediate value and returns. Milliseconds per trial are the steady state (first
to last trial end, over the trials between), start-up is from the call to the first trial's end, total the
whole call. Then the live reports of `RayExecutor`: trials that report every 50 ms, and how long each report
takes to reach the driver. Prints a table; writes a new record under records/scale/ (benchmarks/records.py).

    OMP_NUM_THREADS=1 python benchmarks/ray_overhead.py [--trials 2000] [--cpus 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasforge import Callback, Experiment, LocalPoolExecutor, RandomSearch, SequentialExecutor
from nasforge.evaluators import BaseEvaluator, EvalContext
from nasforge.executors import BaseExecutor, Job
from nasforge.executors.ray_executor import RayExecutor, start_local_ray
from nasforge.space import ModelSpace, choice
from nasforge.trial import TrialRecord

XS, YS, OPS = [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], ["a", "b", "c"]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record  # noqa: E402


class SmallSpace(ModelSpace):
    """Three choices, as in the tests' ToySpace: 75 archs."""

    def __init__(self) -> None:
        super().__init__()
        self.x = choice("x", XS)
        self.y = choice("y", YS)
        self.op = choice("op", OPS)
        self.fc = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class NoopEvaluator(BaseEvaluator):
    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        ctx.report(1, {"score": 0.0})
        return {"score": 0.0}


class Clock(Callback):
    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_trial_end(self, experiment: Experiment, record: TrialRecord) -> None:
        self.ends.append(time.perf_counter())


def figures(ends: list[float], start: float, total: float) -> dict[str, float]:
    steady = (ends[-1] - ends[0]) / (len(ends) - 1)
    return {"per_trial_ms": 1000 * steady, "startup_s": ends[0] - start, "total_s": total}


def measure_nasforge(executor: BaseExecutor, trials: int, folder: Path, name: str) -> dict[str, float]:
    exp = Experiment(
        name,
        SmallSpace(),
        RandomSearch(dedup=False),  # 75 archs: repeats are expected
        NoopEvaluator(),
        storage=str(folder / f"{name}.db"),
        executor=executor,
        objective="max:score",
    )
    clock = Clock()
    start = time.perf_counter()
    exp.run(max_trials=trials, callbacks=[clock])
    total = time.perf_counter() - start
    assert len(exp.trials) == trials and all(t.error is None for t in exp.trials)
    return figures(clock.ends, start, total)


def tune_trainable(config: dict[str, Any]) -> dict[str, float]:
    return {"score": 0.0}


def measure_tune(trials: int, folder: Path) -> dict[str, float]:
    from ray import tune

    class TuneClock(tune.Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.ends.append(time.perf_counter())

    clock = TuneClock()
    tuner = tune.Tuner(
        tune_trainable,
        param_space={"x": tune.choice(XS), "y": tune.choice(YS), "op": tune.choice(OPS)},
        tune_config=tune.TuneConfig(
            num_samples=trials, reuse_actors=True, max_concurrent_trials=2, metric="score", mode="max"
        ),
        run_config=tune.RunConfig(name="tune", storage_path=str(folder / "tune"), verbose=0, callbacks=[clock]),
    )
    start = time.perf_counter()
    grid = tuner.fit()
    total = time.perf_counter() - start
    assert len(grid) == trials and not grid.errors, grid.errors
    return figures(clock.ends, start, total)


class Reporter(BaseEvaluator):
    """Reports `steps` times, `every` seconds apart, each report carrying the wall time it was made at."""

    def __init__(self, steps: int = 10, every: float = 0.05) -> None:
        self.steps, self.every = steps, every

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        for step in range(self.steps):
            time.sleep(self.every)
            ctx.report(step, {"made_at": time.time()})
        return {"score": 0.0}


def measure_report_latency(trials: int) -> dict[str, float]:
    """How long after a running trial's report `on_report` hears of it."""
    delays: list[float] = []
    ex = RayExecutor(n_workers=2)

    def on_report(number: int, step: int, metrics: Any) -> None:
        delays.append(time.time() - metrics["made_at"])

    space = SmallSpace()
    arch = space.validate({"x": 1, "y": 1, "op": "a"})
    ex.start(Reporter(), space, on_report)
    try:
        for i in range(trials):
            ex.submit(Job(i, arch, None, i))
        while ex.n_running:
            for r in ex.wait(timeout=60):
                assert r.error is None, r.error
    finally:
        ex.shutdown()
    delays.sort()
    return {
        "reports": len(delays),
        "median_ms": 1000 * statistics.median(delays),
        "p95_ms": 1000 * delays[int(0.95 * (len(delays) - 1))],
        "max_ms": 1000 * delays[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--report-trials", type=int, default=20, help="trials of the report latency check")
    args = parser.parse_args()
    import ray

    began = time.perf_counter()
    start_local_ray(num_cpus=args.cpus, log_to_driver=False)
    ray_start = time.perf_counter() - began
    rows: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            rows["nasforge + RayExecutor (2 actors)"] = measure_nasforge(
                RayExecutor(n_workers=2), args.trials, folder, "ray"
            )
            rows["Ray Tune (reuse_actors, 2 at once)"] = measure_tune(args.trials, folder)
            rows["nasforge + LocalPoolExecutor (2)"] = measure_nasforge(
                LocalPoolExecutor(n_workers=2, threads_per_worker=1), args.trials, folder, "pool"
            )
            rows["nasforge + SequentialExecutor"] = measure_nasforge(SequentialExecutor(), args.trials, folder, "seq")
        latency = measure_report_latency(args.report_trials)
    finally:
        ray.shutdown()

    print(
        f"loop overhead over {args.trials} no-op trials ({args.cpus} CPUs for Ray; Ray itself started in {ray_start:.1f} s)"
    )
    print(f"{'run':<36} {'ms / trial':>10} {'start-up s':>11} {'total s':>8}")
    for name, r in rows.items():
        print(f"{name:<36} {r['per_trial_ms']:>10.2f} {r['startup_s']:>11.2f} {r['total_s']:>8.1f}")
    print(
        f"live reports (RayExecutor, {args.report_trials} trials x 10 reports, 50 ms apart): "
        f"{latency['reports']} reports, delay median {latency['median_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, "
        f"max {latency['max_ms']:.1f} ms"
    )
    record = Record("ray_overhead", area="scale", config=vars(args))
    record.runs = [{"loop": name, **r} for name, r in rows.items()]
    summary = {
        "benchmark": "benchmarks/ray_overhead.py",
        "trials": args.trials,
        "ray_cpus": args.cpus,
        "ray_start_s": ray_start,
        "report_latency": {"trials": args.report_trials, "steps": 10, "every_s": 0.05, **latency},
        "environment": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "ray": ray.__version__,
            "cpus": os.cpu_count(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "load_average": os.getloadavg(),
        },
    }
    print(f"record: {record.save(summary=summary)}")


if __name__ == "__main__":
    main()
