"""Deduplicate, Retry and ConstraintFilter around real strategies (the shared contract: test_conformance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasforge import Experiment
from nasforge.errors import ConfigError
from nasforge.strategies import BaseStrategy, ConstraintFilter, Deduplicate, RandomSearch, Retry
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
