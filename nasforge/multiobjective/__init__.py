"""Several objectives: objectives and constraints over trial metrics, and the Pareto math (fronts,
hypervolume, knee points and scalarisations; larger is better in every column). Measured latency is a cost,
in `nasforge.cost`."""

from nasforge.multiobjective.objectives import (
    Constraint,
    feasible,
    parse_constraints,
    parse_objectives,
    score_matrix,
    score_vector,
)
from nasforge.multiobjective.pareto import (
    best_under,
    chebyshev,
    crowding_distance,
    dominates,
    hypervolume,
    hypervolume_contributions,
    knee_point,
    non_dominated_sort,
    pareto_front,
    pareto_mask,
    simplex_weights,
)
from nasforge.multiobjective.selection import best_of, hypervolume_of, pick_trial

__all__ = [
    "Constraint",
    "best_of",
    "best_under",
    "chebyshev",
    "crowding_distance",
    "dominates",
    "feasible",
    "hypervolume",
    "hypervolume_contributions",
    "hypervolume_of",
    "knee_point",
    "non_dominated_sort",
    "pareto_front",
    "pareto_mask",
    "parse_constraints",
    "parse_objectives",
    "pick_trial",
    "score_matrix",
    "score_vector",
    "simplex_weights",
]
