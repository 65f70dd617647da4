"""Parallel speed-up on CPU training trials: 2 worker processes on 2 cores against one process.

The same trials in every arm: random search with one seed proposes the same archs whatever the results, so
each arm trains the same list (the main job's CNN space on Fashion-MNIST, 1 epoch on a fraction of the
training split, validated on `--valid` held-out training images). Arms, run one after another in one invocation:

- `sequential, 1 thread`: the driver trains each trial itself with one torch thread;
- `sequential, 2 threads`: the same with two torch threads (what one process gets from both cores);
- `pool, 2 workers x 1 thread`: `LocalPoolExecutor(n_workers=2, threads_per_worker=1)`.

Throughput is trials per second of wall time over the whole run, the pool's start-up (spawning two workers
that import torch and load the data) included; the steady rate (first trial's end to the last's) is shown
beside it.

    python benchmarks/pool_throughput.py [--trials 16] [--fraction 0.1] [--valid 2000]

writes a new record under records/scale/ (benchmarks/records.py) and prints the table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from nasforge import Callback, Experiment, LocalPoolExecutor, RandomSearch, SequentialExecutor
from nasforge.data import FashionMNIST
from nasforge.evaluators import ClassificationEvaluator
from nasforge.executors import BaseExecutor
from nasforge.trial import TrialRecord, TrialState
from nasforge.zoo import SmallImageCNN

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record


class Ends(Callback):
    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_trial_end(self, experiment: Experiment, record: TrialRecord) -> None:
        self.ends.append(time.perf_counter())


def arm(name: str, executor: BaseExecutor, threads: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    torch.set_num_threads(threads)  # the driver's own threads (the sequential arms train here)
    evaluator = ClassificationEvaluator(
        FashionMNIST(valid_size=args.valid), epochs=1, train_fraction=args.fraction, device="cpu"
    )
    exp = Experiment(
        name,
        SmallImageCNN(input_shape=(1, 28, 28), num_classes=10, ops=["conv", "sep"]),
        RandomSearch(dedup=False),
        evaluator,
        storage=str(folder / f"{name}.db"),
        executor=executor,
        seed=args.seed,
    )
    ends = Ends()
    start = time.perf_counter()
    exp.run(max_trials=args.trials, callbacks=[ends])
    wall = time.perf_counter() - start
    trials = exp.trials
    assert len(trials) == args.trials and all(t.state is TrialState.COMPLETE for t in trials), [t.error for t in trials]
    steady = (len(ends.ends) - 1) / (ends.ends[-1] - ends.ends[0])
    return {
        "arm": name,
        "trials": len(trials),
        "wall_s": wall,
        "per_s": len(trials) / wall,
        "steady_per_s": steady,
        "mean_trial_s": sum(t.duration or 0.0 for t in trials) / len(trials),
        "archs": [t.arch.id for t in trials],
        "val_acc": [t.metrics["val_acc"] for t in trials],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--fraction", type=float, default=0.1, help="part of the training split per trial")
    parser.add_argument("--valid", type=int, default=2000, help="held-out training images each trial is scored on")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        for name, executor, threads in (
            ("sequential-1", SequentialExecutor(), 1),
            ("pool-2x1", LocalPoolExecutor(n_workers=2, threads_per_worker=1), 1),
            ("sequential-2", SequentialExecutor(), 2),
        ):
            rows.append(arm(name, executor, threads, args, folder))
            print(f"{name}: {rows[-1]['wall_s']:.1f} s for {args.trials} trials", flush=True)
    assert len({tuple(r["archs"]) for r in rows}) == 1, "the arms trained different archs"
    base = {r["arm"]: r for r in rows}
    for r in rows:
        r["speedup_vs_sequential_1"] = r["per_s"] / base["sequential-1"]["per_s"]
        r["speedup_vs_sequential_2"] = r["per_s"] / base["sequential-2"]["per_s"]
        r.pop("archs")
    record = Record("pool_throughput", area="scale", config=vars(args))
    record.runs = rows
    print(f"record: {record.save(summary={'trials': args.trials, 'fraction': args.fraction})}")
    print(f"{args.trials} training trials (Fashion-MNIST, 1 epoch on {args.fraction:.0%} of the training split)")
    print(
        f"{'arm':<14} {'wall s':>7} {'trials/s':>9} {'steady/s':>9} {'mean trial s':>13} {'x seq-1':>8} {'x seq-2':>8}"
    )
    for r in rows:
        print(
            f"{r['arm']:<14} {r['wall_s']:>7.1f} {r['per_s']:>9.4f} {r['steady_per_s']:>9.4f} "
            f"{r['mean_trial_s']:>13.2f} {r['speedup_vs_sequential_1']:>8.2f} {r['speedup_vs_sequential_2']:>8.2f}"
        )


if __name__ == "__main__":
    main()
