"""Choosing among finished trials: the best one, the knee of the front, and the hypervolume of a set.

These work on any records (an experiment's, or a storage's read by the CLI), so the experiment and the
`nasforge pareto` / `nasforge pick` commands choose alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from nasforge.errors import ConfigError
from nasforge.multiobjective.objectives import Constraint, score_matrix
from nasforge.multiobjective.pareto import best_under, hypervolume, knee_point
from nasforge.trial import Objective, TrialRecord, TrialState

__all__ = ["best_of", "hypervolume_of", "pick_trial"]


def best_of(records: Sequence[TrialRecord], objective: Objective) -> TrialRecord | None:
    """The completed record best in `objective`; on a tie, the earliest."""
    scored = [(objective.score(r), r) for r in records if r.state is TrialState.COMPLETE]
    valid = [(s, r) for s, r in scored if s is not None]
    if not valid:
        return None
    return max(valid, key=lambda sr: (sr[0], -sr[1].number))[1]


def pick_trial(
    records: Iterable[TrialRecord], objectives: Sequence[Objective], rule: str, constraints: Sequence[Constraint] = ()
) -> TrialRecord | None:
    """`Experiment.pick` on any records: the knee of the feasible front, or the best in the primary objective."""
    if rule not in ("knee", "best"):
        raise ConfigError(f"A pick rule is 'knee' or 'best', but got {rule!r}.")
    kept, scores = score_matrix(records, objectives, constraints)
    if not kept:
        return None
    if rule == "best" or scores.shape[1] == 1:
        i = best_under(scores, [])
        return None if i is None else kept[i]
    return kept[knee_point(scores)]


def hypervolume_of(
    records: Iterable[TrialRecord],
    objectives: Sequence[Objective],
    reference: Mapping[str, float] | Sequence[float],
    constraints: Sequence[Constraint] = (),
) -> float:
    """The hypervolume of the feasible records' objectives over `reference` (raw metric values)."""
    if isinstance(reference, Mapping):
        unknown = set(reference) - {o.metric for o in objectives}
        missing = [o.metric for o in objectives if o.metric not in reference]
        if unknown or missing:
            raise ConfigError(
                f"A hypervolume reference names each objective once ({', '.join(o.metric for o in objectives)}), "
                f"but got {dict(reference)!r}."
            )
        ref = [float(reference[o.metric]) for o in objectives]
    else:
        ref = [float(v) for v in reference]
        if len(ref) != len(objectives):
            raise ConfigError(
                f"A hypervolume reference has one value per objective ({len(objectives)}), but got {list(reference)!r}."
            )
    _, scores = score_matrix(records, objectives, constraints)
    signed = [o.sign * v for o, v in zip(objectives, ref, strict=True)]
    return hypervolume(scores, signed) if len(scores) else 0.0
