"""What the report and the dashboard show, read from the storage alone (no space, data or model needed)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from nasforge.multiobjective.objectives import Constraint, feasible, parse_constraints, score_matrix
from nasforge.multiobjective.pareto import pareto_front
from nasforge.storage import BaseStorage, get_storage
from nasforge.trial import Objective, TrialRecord, TrialState

__all__ = ["COST_METRICS", "DecisionEffect", "ExperimentView", "experiment_summaries", "load_view", "trial_table"]

#: hardware-cost metrics plotted against the objective when the trials have them
COST_METRICS = ("params", "flops", "latency_ms")


@dataclass(frozen=True)
class DecisionEffect:
    """How the primary objective varied with one decision's value over the completed trials.

    `share` is the part of the objective's variance that the decision's value explains, 0..1 (epsilon squared:
    the between-group share corrected for what that many groups explain by chance): a first-order
    importance, rough when trials are few or when decisions were tried together.
    """

    label: str
    values: tuple[tuple[str, int, float, float], ...]  # (value, trials, mean, best), best mean first
    share: float


@dataclass(frozen=True)
class ExperimentView:
    name: str
    status: str
    config: Mapping[str, Any]
    records: tuple[TrialRecord, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]

    @property
    def objective(self) -> Objective:
        return self.objectives[0]

    @property
    def complete(self) -> list[TrialRecord]:
        return [r for r in self.records if r.state is TrialState.COMPLETE and self.objective.score(r) is not None]

    def counts(self) -> dict[str, int]:
        out = {"trials": len(self.records)}
        for state in TrialState:
            out[state.value] = sum(r.state is state for r in self.records)
        return out

    @cached_property  # the report's sections all ask; the view is a snapshot, so once is enough
    def best(self) -> TrialRecord | None:
        """The best feasible completed trial in the primary objective (lowest number on ties)."""
        scored = [(self.objective.score(r), r) for r in self.complete if feasible(r, self.constraints)]
        if not scored:
            return None
        return max(scored, key=lambda sr: (sr[0], -sr[1].number))[1]

    def best_so_far(self) -> list[dict[str, float]]:
        """In the order trials finished: each completed feasible trial's value and the best value until then."""
        done = sorted(
            (r for r in self.complete if feasible(r, self.constraints)),
            key=lambda r: (r.finished_at or math.inf, r.number),
        )
        start = min((r.started_at for r in self.records if r.started_at is not None), default=0.0)
        points: list[dict[str, float]] = []
        best: float | None = None
        sign = 1.0 if self.objective.direction == "maximize" else -1.0
        for r in done:
            value = float(r.metrics[self.objective.metric])
            best = value if best is None or sign * value > sign * best else best
            elapsed = (r.finished_at or start) - start
            points.append({"trial": float(r.number), "elapsed": elapsed, "value": value, "best": best})
        return points

    @cached_property
    def front(self) -> list[TrialRecord]:
        """The feasible Pareto front over the objectives (one objective: the best trial)."""
        kept, scores = score_matrix(self.records, self.objectives, self.constraints)
        if not kept:
            return []
        return sorted((kept[i] for i in pareto_front(scores)), key=lambda r: r.metrics[self.objectives[0].metric])

    def cost_metrics(self) -> list[str]:
        return [m for m in COST_METRICS if any(m in r.metrics for r in self.complete) and m != self.objective.metric]

    def decision_effects(self) -> list[DecisionEffect]:
        """Per decision with at least two values tried, the objective by value; most important first."""
        done = self.complete
        if len(done) < 3:
            return []
        y = np.array([float(self.objective.score(r)) for r in done])  # type: ignore[arg-type]
        labels = dict.fromkeys(label for r in done for label in r.arch)
        effects = []
        for label in labels:
            groups: dict[str, list[float]] = {}
            for r, score in zip(done, y):
                if label in r.arch:
                    groups.setdefault(_value_text(r.arch[label]), []).append(float(score))
            if len(groups) < 2:
                continue
            scores = np.array([v for g in groups.values() for v in g])
            n, k, mean = len(scores), len(groups), float(scores.mean())
            if n <= k:
                continue  # no trial shares a value with another: nothing to compare within groups
            ss_total = float(((scores - mean) ** 2).sum())
            ss_between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
            ms_within = (ss_total - ss_between) / (n - k)
            # epsilon squared: the explained share, corrected for what k groups explain by chance
            share = max(0.0, (ss_between - (k - 1) * ms_within) / (ss_total + ms_within)) if ss_total > 0 else 0.0
            sign = 1.0 if self.objective.direction == "maximize" else -1.0
            rows = sorted(
                ((v, len(g), sign * sum(g) / len(g), sign * max(g)) for v, g in groups.items()),
                key=lambda row: -sign * row[2],
            )
            effects.append(DecisionEffect(label, tuple(rows), share))
        return sorted(effects, key=lambda e: -e.share)

    def summary(self) -> dict[str, Any]:
        """Counts, best value and timing: the dashboard's list row and the report's header."""
        best = self.best
        finished = [r.finished_at for r in self.records if r.finished_at is not None]
        return {
            "name": self.name,
            "status": self.status,
            **self.counts(),
            "objective": f"{self.objective.direction[:3]} {self.objective.metric}",
            "best": None if best is None else best.metrics.get(self.objective.metric),
            "best_trial": None if best is None else best.number,
            "updated": max(finished, default=None),
        }


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def load_view(name: str, storage: str | BaseStorage) -> ExperimentView:
    """Read experiment `name` from `storage` (a URL, path or storage object)."""
    store = get_storage(storage)
    row = store.require_experiment(name)
    specs = row.config.get("objectives") or [row.config.get("objective") or {}]
    return ExperimentView(
        name=row.name,
        status=row.status,
        config=row.config,
        records=tuple(store.get_trials(row.id)),
        objectives=tuple(Objective(**spec) for spec in specs),
        constraints=parse_constraints(row.config.get("constraints") or None),
    )


def experiment_summaries(storage: str | BaseStorage) -> list[dict[str, Any]]:
    """One `ExperimentView.summary()` per experiment in the storage, in creation order."""
    store = get_storage(storage)
    return [load_view(row.name, store).summary() for row in store.list_experiments()]


def trial_table(view: ExperimentView, extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per trial: number, state, objectives, costs, duration, arch id and error."""
    metrics = list(dict.fromkeys([*(o.metric for o in view.objectives), *view.cost_metrics(), *extra]))
    rows = []
    for r in view.records:
        row: dict[str, Any] = {"trial": r.number, "state": r.state.value}
        for m in metrics:
            row[m] = r.metrics.get(m)
        row["budget"] = r.budget
        row["seconds"] = None if r.duration is None else round(r.duration, 1)
        row["arch"] = r.arch.id
        row["error"] = r.error or ""
        rows.append(row)
    return rows
