"""`TrialTracking`: what one run remembers of its trials for early stopping and weight inheritance.

Early stopping compares a running trial's curve with the curves of the trials that completed before it
started (`StopCheck`); weight inheritance starts a child from the saved weights of its parent's latest
completed trial; a resumed promotion (a multi-fidelity strategy's `resume`) starts from the weights of its own
arch's trial at the budget it names. All need the finished trials of the experiment, read back from the storage on a resume,
and both shape the job a trial runs as; the trial loop asks this class for both and tells it what happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from nasforge.estimation.inheritance import WeightInheritance
from nasforge.estimation.stopping import BaseStopper, StopCheck
from nasforge.trial import Objective, TrialRecord, TrialState

__all__ = ["CurveKind", "TrialTracking", "curve_kind"]

CurveKind = tuple[float | None, bool]


def curve_kind(budget: float | None, inherited: bool) -> CurveKind:
    """Curves compare step by step only within a kind: the same budget, inherited weights or not."""
    return (budget, inherited)


class TrialTracking:
    """The curves and saved weights of one run's trials.

    `read_curve(number)` gives the reports of a trial that finished in an earlier run (from the storage);
    `weights_dir` is where every trial's trained weights are saved when inheriting, when `keep_weights` (for
    the export's retrain to start from) or when `resumable` (the strategy's promotions continue a trial).
    """

    def __init__(
        self,
        objective: Objective,
        early_stopping: BaseStopper | None,
        inheritance: WeightInheritance | None,
        weights_dir: Path,
        read_curve: Callable[[int], list[Mapping[str, float]]],
        keep_weights: bool = False,
        resumable: bool = False,
    ) -> None:
        self.objective = objective
        self.early_stopping = early_stopping
        self.inheritance = inheritance
        self.weights_dir = weights_dir
        self.read_curve = read_curve
        self.resumable = resumable  # the strategy's promotions may resume a trial, and the evaluator can
        self.keep_weights = keep_weights or inheritance is not None or resumable
        self.curves: dict[int, list[Mapping[str, float]]] = {}  # reports of this run's running trials, by number
        self.weights_of: dict[str, int] = {}  # arch id -> latest completed trial whose weights were saved
        self.budget_of: dict[int, float | None] = {}  # that trial's budget, by number
        #: completed trials' curves, by number, with their kind: the peers early stopping compares with
        self.peer_curves: dict[int, tuple[CurveKind, list[Mapping[str, float]]]] = {}

    def resume(self, records: Iterable[TrialRecord]) -> None:
        """Learn the trials stored before this run, in the order they were numbered."""
        for record in sorted(records, key=lambda r: r.number):
            self.finished(record)

    def job_fields(self, record: TrialRecord) -> dict[str, Any]:
        """The `Job` fields for a trial about to start: the parent weights it inherits and where it saves its
        own, and the stopping check against the completed peers of its kind (none without those features)."""
        self.curves.pop(record.number, None)  # a rerun after a crash starts its curve again
        fields: dict[str, Any] = {}
        inheriting = False
        resumes = record.info.get("resumes") if self.resumable else None
        if resumes is not None:
            own = self.weights_of.get(record.arch.id)
            if own is not None and self.budget_of.get(own) == resumes and (self.weights_dir / f"{own}.pt").exists():
                fields.update(weights_in=str(self.weights_dir / f"{own}.pt"), resumed=float(resumes))
                inheriting = True
            # else that trial's weights are gone (or it ran at another budget): the whole budget from scratch
        elif self.inheritance is not None:
            parent = self.weights_of.get(str(record.info.get("parent", "")))
            weights_in = None
            if parent is not None and (self.weights_dir / f"{parent}.pt").exists():
                weights_in, inheriting = str(self.weights_dir / f"{parent}.pt"), True
            fields.update(weights_in=weights_in, inherit_epochs=self.inheritance)
        if self.keep_weights:
            fields["weights_out"] = str(self.weights_dir / f"{record.number}.pt")
        if self.early_stopping is not None:
            kind = curve_kind(record.budget, inheriting)
            objective = self.objective
            peers = tuple(
                tuple(objective.sign * float(m.get(objective.metric, float("nan"))) for m in curve)
                for number, (k, curve) in self.peer_curves.items()
                if k == kind and number != record.number
            )
            fields["stop_check"] = StopCheck(self.early_stopping, objective.metric, objective.sign, peers)
        return fields

    def reported(self, number: int, metrics: Mapping[str, float]) -> None:
        """A running trial's report: a step of its curve."""
        if self.early_stopping is not None:
            self.curves.setdefault(number, []).append(dict(metrics))

    def finished(self, record: TrialRecord) -> None:
        """Remember a finished trial: a completed one's curve as a peer for early stopping, and its weights
        for its children."""
        curve = self.curves.pop(record.number, None)
        if record.state is not TrialState.COMPLETE:
            return
        if self.keep_weights:
            self.weights_of[record.arch.id] = record.number
            self.budget_of[record.number] = record.budget
        if self.early_stopping is not None:
            if curve is None:  # finished in an earlier run: read its reports back
                curve = self.read_curve(record.number)
            kind = curve_kind(record.budget, float(record.metrics.get("inherited", 0.0)) > 0)
            self.peer_curves[record.number] = (kind, curve)
