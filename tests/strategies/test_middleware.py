"""Deduplicate, Retry, ConstraintFilter and BudgetLimit around real strategies (the shared contract: test_conformance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasforge import Experiment
from nasforge.errors import ConfigError
from nasforge.evaluators import EvalContext
from nasforge.strategies import BaseStrategy, BudgetLimit, ConstraintFilter, Deduplicate, RandomSearch, Retry
from nasforge.trial import Objective, Proposal, TrialRecord, TrialState
from tests.toys import ToyEvaluator, ToySpace, toy_score

SPACE = ToySpace()
A = SPACE.validate({"x": 1, "y": 1, "op": "a", "extra": "none"})
B = SPACE.validate({"x": 2, "y": 1, "op": "a", "extra": "none"})


class Scripted(BaseStrategy):
    """Proposes a fixed list of archs and records what it is told."""

    def __init__(self, archs: list) -> None:
        self.archs = list(archs)
        self.told: list[TrialRecord] = []

    def _ask(self) -> Proposal | None:
        return Proposal(self.archs.pop(0)) if self.archs else None

    def _tell(self, record: TrialRecord) -> None:
        self.told.append(record)


def setup(strategy: BaseStrategy) -> BaseStrategy:
    strategy.setup(SPACE, Objective("score"), 0)
    return strategy


def done(number: int, arch, state: TrialState = TrialState.COMPLETE) -> TrialRecord:
    return TrialRecord(
        number, arch, state=state, metrics={"score": toy_score(arch)} if state.value == "COMPLETE" else {}
    )


def test_dedup_answers_a_repeat_from_the_earlier_result() -> None:
    inner = Scripted([A, A, B])
    dedup = setup(Deduplicate(inner))
    assert dedup.ask().arch == A  # type: ignore[union-attr]
    dedup.tell(done(0, A))
    assert dedup.ask().arch == B  # type: ignore[union-attr]  # the second A was answered, not proposed
    assert [r.number for r in inner.told] == [0, -1] and inner.told[1].metrics == inner.told[0].metrics
    assert inner.told[1].info["deduplicated"] is True and dedup.skipped == 1


def test_dedup_holds_a_repeat_of_a_running_arch_until_its_result() -> None:
    inner = Scripted([A, A, B])
    dedup = setup(Deduplicate(inner))
    assert dedup.ask().arch == A  # type: ignore[union-attr]
    assert dedup.ask().arch == B  # type: ignore[union-attr]  # A still running: its twin waits
    assert inner.told == []
    dedup.tell(done(0, A))
    assert [r.number for r in inner.told] == [0, -1]


def test_dedup_with_a_custom_key() -> None:
    inner = Scripted([A, B])
    dedup = setup(Deduplicate(inner, key=lambda arch: str(arch["y"])))  # A and B share y
    dedup.ask()
    dedup.tell(done(0, A))
    assert dedup.ask() is None and len(inner.told) == 2


def test_retry_reproposes_then_reports_the_last_failure() -> None:
    inner = Scripted([A, B])
    retry = setup(Retry(inner, max_retries=2))
    for attempt in range(3):
        p = retry.ask()
        assert p is not None and p.arch == A
        assert p.info.get("retry", 0) == attempt
        retry.tell(done(attempt, A, TrialState.FAILED).with_(info=dict(p.info)))
    assert [r.state for r in inner.told] == [TrialState.FAILED]
    assert retry.ask().arch == B  # type: ignore[union-attr]


def test_constraint_filter_rejects_before_evaluation() -> None:
    inner = Scripted([A, B])
    filt = setup(ConstraintFilter(inner, lambda arch: arch["x"] != 1, "x != 1"))
    assert filt.ask().arch == B  # type: ignore[union-attr]
    assert inner.told[0].state is TrialState.FAILED and "x != 1" in (inner.told[0].error or "")
    assert filt.rejected == 1


def test_middlewares_validate() -> None:
    with pytest.raises(ConfigError, match="wraps a strategy"):
        Deduplicate("random")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="callable"):
        ConstraintFilter(RandomSearch(), 3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_retries"):
        Retry(RandomSearch(), max_retries=0)


def test_retry_in_a_real_experiment_keeps_every_attempt(tmp_path: Path) -> None:
    exp = Experiment(
        "r",
        SPACE,
        Retry(RandomSearch(), max_retries=1),
        ToyEvaluator(fail_x=(0,)),
        storage=str(tmp_path / "r.db"),
        objective="max:score",
    ).run(max_trials=30)
    failed = [t for t in exp.trials if t.state is TrialState.FAILED]
    retries = [t for t in failed if t.info.get("retry") == 1]
    firsts = [t for t in failed if "retry" not in t.info]
    assert retries and len(retries) <= len(firsts) <= len(retries) + 1  # the last may not have had its turn
    for r in retries:  # each retry re-runs an arch whose first attempt failed before it
        assert any(f.arch == r.arch and f.number < r.number for f in firsts)


def costing(number: int, arch, cost: float) -> TrialRecord:
    return done(number, arch).with_(metrics={"score": toy_score(arch), "cost": cost})


def test_budget_stops_once_spent() -> None:
    budget = setup(BudgetLimit(RandomSearch(), max_cost=10))
    for i in range(3):
        p = budget.ask()
        assert p is not None and not budget.is_done()
        budget.tell(costing(i, p.arch, 3.0))
    assert budget.spent == 9.0 and budget.ask() is not None  # 9 < 10: one more
    budget.tell(costing(3, A, 3.0))
    assert budget.spent == 12.0 and budget.is_done() and budget.ask() is None


def test_budget_falls_back_to_wall_time_then_to_nothing() -> None:
    budget = setup(BudgetLimit(Scripted([]), max_cost=100, metric="gpu_seconds"))
    budget.tell(done(0, A, TrialState.FAILED).with_(started_at=10.0, finished_at=14.5))
    assert budget.spent == 4.5 and budget.uncosted == 0
    budget.tell(done(1, B))  # neither the metric nor a wall time
    assert budget.spent == 4.5 and budget.uncosted == 1
    budget.tell(done(2, B).with_(metrics={"gpu_seconds": 2.0}, started_at=0.0, finished_at=50.0))
    assert budget.spent == 6.5  # the metric wins over the wall time


def test_budget_does_not_charge_deduplicated_answers() -> None:
    inner = Scripted([A, A, B])
    budget = BudgetLimit(inner, max_cost=100)
    dedup = setup(Deduplicate(budget))
    assert dedup.ask().arch == A  # type: ignore[union-attr]
    dedup.tell(costing(0, A, 4.0))
    assert dedup.ask().arch == B  # type: ignore[union-attr]  # the repeat of A was answered with A's cost
    assert inner.told[1].info["deduplicated"] is True and inner.told[1].metrics["cost"] == 4.0
    assert budget.spent == 4.0


def test_budget_resumes_with_what_was_spent() -> None:
    budget = setup(BudgetLimit(RandomSearch(), max_cost=10))
    budget.tell(costing(0, A, 4.0))
    budget.tell(done(1, B))
    state = json.loads(json.dumps(budget.state_dict()))
    resumed = setup(BudgetLimit(RandomSearch(), max_cost=10))
    resumed.load_state_dict(state)
    assert (resumed.spent, resumed.uncosted) == (4.0, 1)
    assert resumed.ask() == budget.ask()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_cost": 0}, r"`max_cost` of BudgetLimit must be a finite number > 0, but got 0\."),
        ({"max_cost": -5.0}, "but got -5.0"),
        ({"max_cost": float("inf")}, "but got inf"),
        ({"max_cost": "3600"}, "but got '3600'"),
        ({"max_cost": True}, "but got True"),
        ({"max_cost": 10, "metric": ""}, r"`metric` of BudgetLimit must be the name of a trial metric"),
    ],
)
def test_budget_validates_its_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        BudgetLimit(RandomSearch(), **kwargs)


class CostEvaluator(ToyEvaluator):
    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        return {**super()._evaluate(ctx), "cost": 1.0 + ctx.arch["x"]}


def test_budget_in_a_real_experiment_stops_and_stays_stopped(tmp_path: Path) -> None:
    def experiment() -> Experiment:
        strategy = BudgetLimit(Retry(Deduplicate(RandomSearch())), max_cost=20)
        return Experiment("b", SPACE, strategy, CostEvaluator(), storage=str(tmp_path / "b.db"), objective="max:score")

    costs = [t.metrics["cost"] for t in experiment().run(max_trials=100).trials]
    assert sum(costs) >= 20 > sum(costs[:-1])  # stopped by the first trial that reached the budget
    assert len(experiment().run(max_trials=200).trials) == len(costs)  # resumed: still spent
