"""One of several drivers that share an experiment, in its own process: the cooperative-driver tests start
two or three of these at once on one storage.

python -m tests.experiment.coop_driver STORAGE STRATEGY MAX_TRIALS SLEEP

It prints `ran` and the numbers of the trials it finished itself when its run ends.
"""

from __future__ import annotations

import sys

import torch

from nasforge.experiment import Callback, Experiment
from nasforge.strategies import STRATEGIES
from nasforge.trial import TrialRecord
from tests.toys import ToyEvaluator, ToySpace


class Finished(Callback):
    """The numbers of the trials this driver finished."""

    def __init__(self) -> None:
        self.numbers: list[int] = []

    def on_trial_end(self, experiment: Experiment, record: TrialRecord) -> None:
        self.numbers.append(record.number)


def build(storage: str, strategy: str, sleep: float) -> Experiment:
    return Experiment(
        "shared",
        ToySpace(),
        STRATEGIES.create(strategy),
        ToyEvaluator(sleep=sleep),
        storage=storage,
        objective="max:score",
        seed=3,
        heartbeat_interval=0.3,
        stale_after=30.0,
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    storage, strategy, max_trials, sleep = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    finished = Finished()
    print("ready", flush=True)
    build(storage, strategy, sleep).run(max_trials=max_trials, callbacks=[finished])
    print("ran", *finished.numbers, flush=True)
