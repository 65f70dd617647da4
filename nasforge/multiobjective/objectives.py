"""Several objectives and hard constraints over trial metrics.

An experiment optimises one `Objective` or several (`parse_objectives`); strategies compare trials by
`score_vector`, the metrics signed so that larger is better in every column, which is the convention of
`nasforge.multiobjective.pareto`. A `Constraint` ("latency_ms <= 5", "params <= 1e6") is a bound on one
metric; a trial that breaks one is infeasible: it stays in the storage but never enters the Pareto front, the
best trial or a pick.

>>> objectives = parse_objectives(["max:val_acc", "min:latency_ms"])
>>> Constraint.parse("params <= 1e6")
Constraint(metric='params', op='<=', bound=1000000.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasforge.errors import ConfigError
from nasforge.trial import Objective, TrialRecord, TrialState

ObjectiveSpec = str | Mapping[str, Any] | Objective
ObjectivesSpec = ObjectiveSpec | Sequence[ObjectiveSpec]


def parse_objectives(spec: ObjectivesSpec) -> tuple[Objective, ...]:
    """One objective (`"max:val_acc"`, a mapping, an `Objective`) or a list of them, as a tuple.

    The first is the primary objective: the one single-objective views (best trial, progress line) use."""
    items: list[Any] = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if not items:
        raise ConfigError("At least one objective is needed, but got an empty list; e.g. ['max:val_acc'].")
    objectives = tuple(Objective.parse(item) for item in items)
    metrics = [o.metric for o in objectives]
    repeated = sorted({m for m in metrics if metrics.count(m) > 1})
    if repeated:
        raise ConfigError(
            f"Each objective must name a different metric, but {', '.join(map(repr, repeated))} appears more "
            "than once; drop the repeat."
        )
    return objectives


def score_vector(record: TrialRecord, objectives: Sequence[Objective]) -> np.ndarray | None:
    """The record's objectives signed so that larger is better, or None when any is missing or not finite
    (failed trials, or a metric the evaluator did not report)."""
    out = np.empty(len(objectives))
    for j, objective in enumerate(objectives):
        score = objective.score(record)
        if score is None:
            return None
        out[j] = score
    return out


def score_matrix(
    records: Iterable[TrialRecord], objectives: Sequence[Objective], constraints: Sequence[Constraint] = ()
) -> tuple[list[TrialRecord], np.ndarray]:
    """The records that have every objective and meet every constraint, and their scores, shape (n, m)."""
    kept: list[TrialRecord] = []
    rows: list[np.ndarray] = []
    for record in records:
        if record.state is not TrialState.COMPLETE or not feasible(record, constraints):
            continue
        row = score_vector(record, objectives)
        if row is not None:
            kept.append(record)
            rows.append(row)
    return kept, np.array(rows, dtype=float).reshape(len(rows), len(objectives))


_OPS = {"<=": "<=", "=<": "<=", "<": "<=", ">=": ">=", "=>": ">=", ">": ">="}
_PATTERN = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(<=|=<|>=|=>|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """`metric op bound`, with op `<=` or `>=` (a strict `<` or `>` is read as its non-strict form)."""

    metric: str
    op: str
    bound: float

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"A constraint's metric must be a non-empty string, but got {self.metric!r}.")
        if self.op not in ("<=", ">="):
            raise ConfigError(f"A constraint's op must be '<=' or '>=', but got {self.op!r}.")
        if not isinstance(self.bound, (int, float)) or isinstance(self.bound, bool) or not math.isfinite(self.bound):
            raise ConfigError(
                f"The bound of constraint on {self.metric!r} must be a finite number, but got {self.bound!r}."
            )

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | Constraint) -> Constraint:
        """`"latency_ms <= 5"`, `{"metric": "params", "max": 1e6}` (or `"min"`), or a `Constraint`."""
        if isinstance(spec, Constraint):
            return spec
        if isinstance(spec, Mapping):
            keys = set(spec)
            if "metric" not in keys or len(keys & {"max", "min"}) != 1 or keys - {"metric", "max", "min"}:
                raise ConfigError(
                    "A constraint written as a mapping has `metric` and one of `max` or `min`, e.g. "
                    f"{{metric: latency_ms, max: 5}}, but got {dict(spec)!r}."
                )
            op = "<=" if "max" in spec else ">="
            return cls(spec["metric"], op, _number(spec["max" if op == "<=" else "min"], spec))
        if isinstance(spec, str):
            match = _PATTERN.match(spec)
            if match is not None:
                return cls(match[1], _OPS[match[2]], _number(match[3], spec))
        raise ConfigError(
            f"A constraint is written 'metric <= bound' or 'metric >= bound' (e.g. 'latency_ms <= 5', "
            f"'params <= 1e6'), but got {spec!r}."
        )

    def holds(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound

    def check(self, metrics: Mapping[str, float]) -> bool | None:
        """True or False when `metrics` has the constraint's metric (finite), else None (cannot tell)."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return None
        return self.holds(float(value))

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def _number(value: Any, spec: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, bool) or not math.isfinite(out):
        raise ConfigError(f"The bound of constraint {spec!r} must be a finite number, but got {value!r}.")
    return out


def parse_constraints(spec: Any) -> tuple[Constraint, ...]:
    """None, one constraint, a list of them, or a mapping `{metric: "<= 5"}` / `{metric: {max: 5}}`."""
    if spec is None:
        return ()
    if isinstance(spec, (str, Constraint)):
        return (Constraint.parse(spec),)
    if isinstance(spec, Mapping) and not {"metric", "max", "min"} & set(spec):
        out = []
        for metric, rule in spec.items():
            if isinstance(rule, Mapping):
                out.append(Constraint.parse({"metric": metric, **rule}))
            elif isinstance(rule, str):
                out.append(Constraint.parse(f"{metric} {rule}"))
            else:
                raise ConfigError(f"Constraint {metric!r} must be written like '<= 5' or {{max: 5}}, but got {rule!r}.")
        return tuple(out)
    if isinstance(spec, Mapping):
        return (Constraint.parse(spec),)
    if isinstance(spec, (list, tuple)):
        return tuple(Constraint.parse(item) for item in spec)
    raise ConfigError(f"`constraints` must be a list such as ['latency_ms <= 5', 'params <= 1e6'], but got {spec!r}.")


def feasible(record: TrialRecord, constraints: Sequence[Constraint]) -> bool:
    """False when the record breaks a constraint, or lacks the metric of one (a trial that cannot be shown to
    meet a constraint does not count as meeting it)."""
    return all(c.check(record.metrics) is True for c in constraints)
