"""Objectives and constraints: parsing, clear errors, and which trials count."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge.errors import ConfigError
from nasforge.multiobjective.objectives import (
    Constraint,
    feasible,
    parse_constraints,
    parse_objectives,
    score_matrix,
    score_vector,
)
from nasforge.space import Arch
from nasforge.trial import Objective, TrialRecord, TrialState


def record(number: int, state: TrialState = TrialState.COMPLETE, **metrics: float) -> TrialRecord:
    return TrialRecord(number, Arch({"x": number}), state=state, metrics=metrics)


def test_objectives_parse_one_or_many() -> None:
    assert parse_objectives("val_acc") == (Objective("val_acc", "maximize"),)
    assert parse_objectives(["max:val_acc", "min:latency_ms", {"metric": "params", "direction": "minimize"}]) == (
        Objective("val_acc"),
        Objective("latency_ms", "minimize"),
        Objective("params", "minimize"),
    )


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ([], "At least one objective"),
        (["max:val_acc", "min:val_acc"], "'val_acc' appears more than once"),
        (["up:val_acc"], "written 'max:metric'"),
        ([3], "written 'max:metric'"),
    ],
)
def test_bad_objectives_say_what_to_write(spec: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_objectives(spec)  # type: ignore[arg-type]


def test_score_vector_is_larger_is_better_and_none_when_incomplete() -> None:
    objectives = parse_objectives(["max:val_acc", "min:latency_ms"])
    assert score_vector(record(0, val_acc=0.9, latency_ms=3.0), objectives).tolist() == [0.9, -3.0]  # type: ignore[union-attr]
    assert score_vector(record(1, val_acc=0.9), objectives) is None
    assert score_vector(record(2, TrialState.FAILED, val_acc=0.9, latency_ms=3.0), objectives) is None
    assert score_vector(record(3, val_acc=float("inf"), latency_ms=3.0), objectives) is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("latency_ms <= 5", Constraint("latency_ms", "<=", 5.0)),
        ("params<1e6", Constraint("params", "<=", 1e6)),
        ("val_acc >= 0.8", Constraint("val_acc", ">=", 0.8)),
        ({"metric": "flops", "max": 3e8}, Constraint("flops", "<=", 3e8)),
        ({"metric": "val_acc", "min": 0.5}, Constraint("val_acc", ">=", 0.5)),
    ],
)
def test_constraints_parse(spec: object, expected: Constraint) -> None:
    assert Constraint.parse(spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("latency_ms == 5", "written 'metric <= bound'"),
        ("latency_ms <= fast", "must be a finite number"),
        ("latency_ms <= nan", "must be a finite number"),
        ({"metric": "params", "max": 1, "min": 0}, "one of `max` or `min`"),
        ({"max": 1}, "has `metric`"),
        (5, "must be a list"),
    ],
)
def test_bad_constraints_say_what_to_write(spec: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_constraints(spec)


def test_constraint_collections() -> None:
    assert parse_constraints(None) == ()
    assert parse_constraints("params <= 10") == (Constraint("params", "<=", 10.0),)
    assert parse_constraints({"latency_ms": "<= 5", "params": {"max": 10}}) == (
        Constraint("latency_ms", "<=", 5.0),
        Constraint("params", "<=", 10.0),
    )
    assert str(Constraint("latency_ms", "<=", 5.0)) == "latency_ms <= 5"
    assert Constraint.parse(str(Constraint("params", ">=", 1e6))) == Constraint("params", ">=", 1e6)


def test_feasible_needs_the_metric() -> None:
    limits = parse_constraints(["latency_ms <= 5", "val_acc >= 0.5"])
    assert feasible(record(0, latency_ms=5.0, val_acc=0.5), limits)
    assert not feasible(record(1, latency_ms=5.1, val_acc=0.9), limits)
    assert not feasible(record(2, val_acc=0.9), limits)  # cannot be shown to meet the latency limit
    assert feasible(record(3), ())


def test_score_matrix_keeps_complete_feasible_records_with_every_objective() -> None:
    objectives = parse_objectives(["max:val_acc", "min:params"])
    records = [
        record(0, val_acc=0.9, params=10.0),
        record(1, TrialState.PRUNED, val_acc=0.95, params=1.0),  # pruned: its metrics are partial
        record(2, val_acc=0.8),  # no params
        record(3, val_acc=0.7, params=50.0),  # breaks the constraint
        record(4, val_acc=0.6, params=2.0),
    ]
    kept, scores = score_matrix(records, objectives, parse_constraints("params <= 20"))
    assert [r.number for r in kept] == [0, 4]
    np.testing.assert_array_equal(scores, [[0.9, -10.0], [0.6, -2.0]])
    kept, scores = score_matrix([], objectives)
    assert kept == [] and scores.shape == (0, 2)
