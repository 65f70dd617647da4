"""Faults inside trials: each kind is stored as FAILED with its reason, and the search goes on."""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from nasforge.data import Digits
from nasforge.evaluators import BaseEvaluator, ClassificationEvaluator, EvalContext
from nasforge.executors import LocalPoolExecutor, SequentialExecutor
from nasforge.experiment import Experiment
from nasforge.strategies import RandomSearch, Retry
from nasforge.trial import TrialState
from nasforge.zoo import NB201Space
from tests.toys import ToySpace, toy_score

#: x of the toy arch -> the fault its trial meets
FAULTS = {0: "exception", 1: "nan", 2: "oom", 3: "hang"}
REASONS = {"exception": "RuntimeError: boom", "nan": "is NaN", "oom": "OutOfMemory", "hang": "Timeout"}


class FaultyEvaluator(BaseEvaluator):
    """x = 0 raises, 1 returns NaN, 2 runs out of (simulated) memory, 3 hangs; x = 4 works."""

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        fault = FAULTS.get(ctx.arch["x"])
        if fault == "exception":
            raise RuntimeError("boom")
        if fault == "nan":
            return {"score": math.nan}
        if fault == "oom":  # what torch raises when CUDA (or the CPU allocator) runs out
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if fault == "hang":
            time.sleep(60)
        return {"score": toy_score(ctx.arch)}


@pytest.mark.parametrize("workers", [1, 2])
def test_every_fault_is_recorded_with_its_reason_and_the_search_goes_on(tmp_path: Path, workers: int) -> None:
    executor = SequentialExecutor() if workers == 1 else LocalPoolExecutor(n_workers=2, threads_per_worker=1)
    exp = Experiment(
        "faults",
        ToySpace(),
        RandomSearch(),
        FaultyEvaluator(),
        storage=str(tmp_path / "f.db"),
        executor=executor,
        objective="max:score",
        trial_timeout=0.5,
        seed=3,
    )
    exp.run(max_trials=30)
    trials = exp.trials
    assert len(trials) == 30
    seen = Counter()
    for t in trials:
        fault = FAULTS.get(t.arch["x"])
        if fault is None:
            assert t.state is TrialState.COMPLETE, t.error
        else:
            assert t.state is TrialState.FAILED and REASONS[fault] in (t.error or ""), (fault, t.error)
            seen[fault] += 1
    assert set(seen) == set(FAULTS.values())  # every kind met at least once in 30 random trials
    assert exp.best_trial is not None and exp.best_trial.arch["x"] == 4


def test_a_diverging_training_run_fails_as_non_finite_loss(tmp_path: Path) -> None:
    space = NB201Space(C=4, N=1, input_shape=(1, 8, 8))  # no learning-rate decision to override ours
    evaluator = ClassificationEvaluator(Digits(), epochs=1, learning_rate=1e6, momentum=0.0, schedule="constant")
    exp = Experiment("diverge", space, RandomSearch(), evaluator, storage=str(tmp_path / "d.db"))
    exp.run(max_trials=2)
    for t in exp.trials:
        assert t.state is TrialState.FAILED
        assert "training loss became" in (t.error or "")


class FlakyEvaluator(BaseEvaluator):
    """Fails the first two attempts at each arch (a flaky node), then works."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        marker = self.folder / f"{ctx.arch.id}.attempts"
        attempts = int(marker.read_text()) + 1 if marker.exists() else 1
        marker.write_text(str(attempts))
        if attempts <= 2:
            raise ConnectionError(f"lost the data server (attempt {attempts})")
        return {"score": toy_score(ctx.arch)}


@pytest.mark.parametrize(("retries", "state"), [(1, TrialState.FAILED), (2, TrialState.COMPLETE)])
def test_retries_are_configurable(tmp_path: Path, retries: int, state: TrialState) -> None:
    exp = Experiment(
        "flaky",
        ToySpace(),
        Retry(RandomSearch(), max_retries=retries),
        FlakyEvaluator(tmp_path),
        storage=str(tmp_path / "r.db"),
        objective="max:score",
    )
    exp.run(max_trials=3 * (retries + 1))
    by_arch: dict[str, list] = {}
    for t in exp.trials:
        by_arch.setdefault(t.arch.id, []).append(t)
    first = next(iter(by_arch.values()))
    assert len(first) == retries + 1  # the original and its reruns, each stored
    assert all("ConnectionError: lost the data server" in (t.error or "") for t in first[:-1])
    assert first[-1].state is state
