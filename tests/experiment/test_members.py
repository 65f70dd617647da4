"""An export's members keep its time budget, each trained for the epochs it is owed, or the ensemble is smaller."""

from __future__ import annotations

import types
from typing import Any

import pytest
from torch import nn

from nasforge.evaluators.base import RetrainableEvaluator
from nasforge.experiment import members as members_module
from nasforge.experiment.members import retrain_members
from nasforge.space import Arch
from nasforge.trial import TrialRecord, TrialState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class FakeTrainer(RetrainableEvaluator):
    """Trains an epoch in `epoch_time` seconds of a fake clock, and spends `overhead` seconds besides."""

    def __init__(self, clock: Clock, epoch_time: float = 5.0, overhead: float = 1.0) -> None:
        self.clock, self.epoch_time, self.overhead = clock, epoch_time, overhead
        self.budgets: list[float | None] = []

    def _evaluate(self, ctx: Any) -> dict[str, float]:
        return {}

    def train_final(
        self,
        space: Any,
        arch: Any,
        epochs: int,
        seed: int = 0,
        log: Any = None,
        time_budget: float | None = None,
        weights_in: str | None = None,
    ) -> tuple[nn.Module, dict[str, float]]:
        self.budgets.append(time_budget)
        train = epochs * self.epoch_time if time_budget is None else min(epochs * self.epoch_time, time_budget)
        self.clock.now += train + self.overhead
        return nn.Linear(1, 2), {"train_time": train, "epochs": train / self.epoch_time, "test_acc": 0.5}

    def test_metrics(self, model: nn.Module) -> dict[str, float]:
        return {}


def record(number: int, epochs: float = 4.0) -> TrialRecord:
    arch = Arch({"x": number})
    return TrialRecord(number=number, arch=arch, state=TrialState.COMPLETE, metrics={"epochs": epochs})


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(members_module, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


RUNS = [(record(0), 0), (record(0), 1), (record(1), 0), (record(1), 1)]


def test_members_that_fit_share_the_budget_each_trained_for_its_epochs(clock: Clock) -> None:
    trainer = FakeTrainer(clock)
    kept, nets, results, account = retrain_members(trainer, None, RUNS, None, time_budget=100)  # type: ignore[arg-type]
    assert kept == RUNS and len(nets) == 4 and [r["epochs"] for r in results] == [4.0] * 4
    # the first may take all the time (it stops at its 4 epochs: 21 s); the others share the 79 s left, less
    # the second of each member's testing
    assert trainer.budgets[0] == 100 and trainer.budgets[1] == pytest.approx(79 / 3 - 1)
    assert clock.now <= 100 and account["wall_time"] == clock.now
    assert [m["epochs"] for m in account["members"]] == [4.0] * 4 and account["members_asked"] == 4
    assert all(m["wall_time"] == 21 and m["train_time"] == 20 for m in account["members"])


def test_members_that_do_not_fit_are_left_out_with_a_warning(clock: Clock) -> None:
    trainer = FakeTrainer(clock)
    with pytest.warns(UserWarning, match=r"ensemble is smaller than asked: 2 of 4 members fit .* 50 s"):
        kept, nets, results, account = retrain_members(trainer, None, RUNS, None, time_budget=50)  # type: ignore[arg-type]
    assert kept == RUNS[:2] and len(nets) == len(results) == len(account["members"]) == 2
    assert [r["epochs"] for r in results] == [4.0, 4.0] and clock.now <= 50


def test_a_budget_too_short_for_one_member_keeps_that_one_trained_as_long_as_it_can(clock: Clock) -> None:
    trainer = FakeTrainer(clock)
    with pytest.warns(UserWarning, match=r"1 of 4 members"):
        kept, _, results, account = retrain_members(trainer, None, RUNS, None, time_budget=10)  # type: ignore[arg-type]
    assert kept == RUNS[:1] and results[0]["epochs"] == 2.0 and account["members"][0]["epochs_owed"] == 4


def test_without_a_budget_every_member_trains_its_epochs(clock: Clock) -> None:
    trainer = FakeTrainer(clock)
    kept, _, results, account = retrain_members(trainer, None, RUNS, 2)  # type: ignore[arg-type]
    assert kept == RUNS and trainer.budgets == [None] * 4 and [r["epochs"] for r in results] == [2.0] * 4
    assert account["time_budget"] is None
