"""The driver the crash soak test kills: a small evolution search on the toy space, in its own process.

python -m tests.reliability.soak_driver DB MAX_TRIALS WORKERS SLEEP
"""

from __future__ import annotations

import sys

import torch

from nasforge.executors import LocalPoolExecutor, SequentialExecutor
from nasforge.experiment import Experiment
from nasforge.strategies import RegularizedEvolution
from tests.toys import ToyEvaluator, ToySpace


def build(db: str, workers: int, sleep: float) -> Experiment:
    executor = SequentialExecutor() if workers == 1 else LocalPoolExecutor(n_workers=workers)
    return Experiment(
        "soak",
        ToySpace(),
        RegularizedEvolution(population_size=8, sample_size=3),
        ToyEvaluator(sleep=sleep),
        storage=db,
        executor=executor,
        objective="max:score",
        seed=7,
        heartbeat_interval=0.5,
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    db, max_trials, workers, sleep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    print("ready", flush=True)
    build(db, workers, sleep).run(max_trials=max_trials)
    print("done", flush=True)
