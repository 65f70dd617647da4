"""Multi-objective math: Pareto fronts, hypervolume, knee points and scalarisations (larger is better)."""

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

__all__ = [
    "best_under",
    "chebyshev",
    "crowding_distance",
    "dominates",
    "hypervolume",
    "hypervolume_contributions",
    "knee_point",
    "non_dominated_sort",
    "pareto_front",
    "pareto_mask",
    "simplex_weights",
]
