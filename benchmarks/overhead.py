"""The experiment loop's own cost per trial, with an evaluator that does nothing.

Runs 2,000 trials of random search over the Fashion-MNIST CNN space (55 decisions) into a fresh SQLite
file, once with the sequential executor and once with a 2-worker local pool, and prints milliseconds per
trial: all of the ask, validation, storage writes (trial, strategy state, report, result), the tell and,
for the pool, the round trip to a worker process. Pool start-up (spawning workers that import torch)
is reported apart.

    python benchmarks/overhead.py [--trials 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from nasforge import Callback, Experiment, LocalPoolExecutor, RandomSearch, SequentialExecutor
from nasforge.evaluators import BaseEvaluator, EvalContext
from nasforge.executors import BaseExecutor
from nasforge.trial import TrialRecord
from nasforge.zoo import SmallImageCNN


class NoopEvaluator(BaseEvaluator):
    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        ctx.report(1, {"score": 0.0})
        return {"score": 0.0}


class Clock(Callback):
    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_trial_end(self, experiment: Experiment, record: TrialRecord) -> None:
        self.ends.append(time.perf_counter())


def measure(executor: BaseExecutor, trials: int, folder: Path, name: str) -> dict[str, float]:
    exp = Experiment(
        name,
        SmallImageCNN(),
        RandomSearch(dedup=False),
        NoopEvaluator(),
        storage=str(folder / f"{name}.db"),
        executor=executor,
        objective="max:score",
    )
    clock = Clock()
    start = time.perf_counter()
    exp.run(max_trials=trials, callbacks=[clock])
    total = time.perf_counter() - start
    steady = (clock.ends[-1] - clock.ends[0]) / (len(clock.ends) - 1)
    assert len(exp.trials) == trials
    return {"per_trial_ms": 1000 * steady, "startup_s": clock.ends[0] - start, "total_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = {
            "sequential": measure(SequentialExecutor(), args.trials, folder, "sequential"),
            "pool (2 workers)": measure(
                LocalPoolExecutor(n_workers=2, threads_per_worker=1), args.trials, folder, "pool"
            ),
        }
    print(f"loop overhead over {args.trials} trials (no-op evaluator, SQLite file storage)")
    print(f"{'executor':<18} {'ms / trial':>10} {'start-up s':>11} {'total s':>8}")
    for name, r in rows.items():
        print(f"{name:<18} {r['per_trial_ms']:>10.2f} {r['startup_s']:>11.2f} {r['total_s']:>8.1f}")


if __name__ == "__main__":
    main()
