"""Pareto and multi-objective math for searches with several objectives (accuracy, latency, size, ...).

Every function takes `scores`, an array-like of shape (n_points, n_objectives) in which larger is better in
every column: negate minimised objectives (latency, parameters) first. Scores must be finite: filter out
failed trials, or give them a finite worst score, before calling. An empty (0, m) array is a set of no points.

- `dominates`, `non_dominated_sort` (the fast non-dominated sort of Deb et al. 2002, "A fast and elitist
  multiobjective genetic algorithm: NSGA-II"), `pareto_mask`, `pareto_front` and the NSGA-II
  `crowding_distance`.
- `hypervolume` (the S-metric of Zitzler & Thiele 1998), exact: a sorting sweep for one and two objectives;
  for three or more, slabs along the last objective, each weighed by the exact volume of its (m-1)-objective
  cross-section (HSO, While et al. 2006, "A faster algorithm for calculating hypervolume"), the cross-section's
  front grown point by point from the top slab down and its volume recomputed only when it changes.
- `hypervolume_contributions`: what each point alone adds, as the volume of its own box less the volume of
  the other points clipped to that box (the exclusive hypervolume of WFG, While et al. 2012).
- `knee_point`: the normal-boundary knee (Das 1999; Deb & Gupta 2011) of the first front; in more than two
  objectives the hyperplane through the extreme points, as in KnEA (Zhang, Tian & Jin 2015).
- `best_under`: the best point in the first objective among those meeting constraints (a "picker").
- `simplex_weights` and `chebyshev`: random weights and the augmented Tchebycheff scalarisation of ParEGO
  (Knowles 2006), which turn several objectives into one for a single-objective strategy.

>>> scores = [[90, -5], [80, -2], [70, -1], [60, -3]]  # accuracy in %, minus latency in ms
>>> [front.tolist() for front in non_dominated_sort(scores)]
[[0, 1, 2], [3]]
>>> pareto_front(scores).tolist(), knee_point(scores)
([0, 1, 2], 1)
>>> hypervolume(scores, reference=[50, -6])
150.0
>>> best_under(scores, [(1, -2.5)])  # the most accurate point with latency <= 2.5 ms
1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from nasforge.errors import ConfigError


def _as_scores(scores: ArrayLike, where: str, *, min_points: int = 0) -> np.ndarray:
    """`scores` as a float array of shape (n, m), m >= 1, all finite, or a `ConfigError` saying what is wrong."""
    try:
        s = np.asarray(scores, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(
            f"`scores` of {where} must be a 2-D array of numbers, shape (n_points, n_objectives), but got "
            f"{type(scores).__name__} {scores!r:.80}."
        ) from None
    if s.ndim != 2:
        raise ConfigError(
            f"`scores` of {where} must be 2-D, shape (n_points, n_objectives), but got shape {s.shape}; "
            "pass one row per point (`np.atleast_2d` for a single point, `np.empty((0, m))` for none)."
        )
    if s.shape[1] < 1:
        raise ConfigError(f"`scores` of {where} must have at least one objective column, but got shape {s.shape}.")
    if len(s) < min_points:
        raise ConfigError(f"`scores` of {where} must have at least {min_points} point(s), but got shape {s.shape}.")
    bad = ~np.isfinite(s)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ConfigError(
            f"`scores` of {where} must be finite, but row {row}, column {col} is {s[row, col]} "
            f"({int(bad.sum())} non-finite value(s) in all); filter out failed trials, or give them a finite "
            "worst score, first."
        )
    return s


def _as_point(value: ArrayLike, name: str, where: str, m: int | None) -> np.ndarray:
    """`value` as a finite float vector of shape (m,) (any length >= 1 when m is None), or a `ConfigError`."""
    try:
        p = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        p = np.asarray(None)  # fails the shape test below, with the message that says what must hold
    if m is None and (p.ndim != 1 or p.size < 1):
        raise ConfigError(
            f"`{name}` of {where} must be a point, a 1-D vector of at least one number, but got {value!r:.80} "
            f"(shape {p.shape})."
        )
    if m is not None and p.shape != (m,):
        raise ConfigError(
            f"`{name}` of {where} must have one number per objective, shape ({m},), but got {value!r:.80} "
            f"(shape {p.shape})."
        )
    if not np.all(np.isfinite(p)):
        raise ConfigError(f"`{name}` of {where} must be finite, but got {p.tolist()}.")
    return p


def dominates(a: ArrayLike, b: ArrayLike) -> bool:
    """True when point `a` is at least as good as `b` in every objective and better in at least one."""
    pa = _as_point(a, "a", "dominates", None)
    pb = _as_point(b, "b", "dominates", len(pa))
    return bool(np.all(pa >= pb) and np.any(pa > pb))


def _weakly_better(s: np.ndarray) -> np.ndarray:
    """ge[i, j]: point i is at least as good as point j in every objective."""
    ge = np.ones((len(s), len(s)), dtype=bool)
    for column in s.T:  # one 2-D comparison per objective: much faster than reducing a 3-D broadcast
        ge &= column[:, None] >= column[None, :]
    return ge


def _nondominated(s: np.ndarray) -> np.ndarray:
    """Mask of the points no other point dominates; copies of a point all stay.

    Culls: each surviving point in turn removes the points it dominates, strongest (largest sum) first, so
    the cost is about O(n m) per point of the front rather than O(n^2 m).
    """
    order = np.argsort(-s.sum(axis=1), kind="stable")
    alive, points = order, s[order]
    i = 0
    while i < len(points):
        p = points[i]
        keep = np.any(points > p, axis=1) | np.all(points == p, axis=1)  # not dominated by p (p keeps itself)
        i = int(np.count_nonzero(keep[:i])) + 1
        alive, points = alive[keep], points[keep]
    mask = np.zeros(len(s), dtype=bool)
    mask[alive] = True
    return mask


def non_dominated_sort(scores: ArrayLike) -> list[np.ndarray]:
    """The fronts of `scores` as arrays of row indices (ascending), best front first.

    Front 0 holds the points no point dominates; front k those dominated only by points of earlier fronts.
    Copies of a point land in the same front. O(n^2 m) time and O(n^2) memory (Deb et al. 2002).
    """
    s = _as_scores(scores, "non_dominated_sort")
    ge = _weakly_better(s)
    dom = ge & ~ge.T  # dom[i, j]: i dominates j
    count = dom.sum(axis=0)  # how many points dominate each point
    fronts = []
    current = np.flatnonzero(count == 0)
    while current.size:
        fronts.append(current)
        count[current] = -1  # placed: never selected again
        count -= dom[current].sum(axis=0)
        current = np.flatnonzero(count == 0)
    return fronts


def pareto_mask(scores: ArrayLike) -> np.ndarray:
    """Boolean mask of the first front: the points that no other point dominates."""
    return _nondominated(_as_scores(scores, "pareto_mask"))


def pareto_front(scores: ArrayLike) -> np.ndarray:
    """Row indices of the first front, sorted by the first objective descending (ties: lower index first)."""
    s = _as_scores(scores, "pareto_front")
    idx = np.flatnonzero(_nondominated(s))
    return idx[np.argsort(-s[idx, 0], kind="stable")]


def crowding_distance(scores: ArrayLike) -> np.ndarray:
    """NSGA-II crowding distance of each point within the set `scores` (usually one front).

    For each objective the points are sorted; the two boundary points get infinity and every other point adds
    the gap between its two neighbours divided by the objective's range. An objective whose values are all
    equal adds nothing, not even infinities. Sets of one or two points are all boundary: all infinite. Among
    equal values the sort is stable, so the lower index counts as the lower end.
    """
    s = _as_scores(scores, "crowding_distance")
    n, m = s.shape
    if n <= 2:
        return np.full(n, np.inf)
    distance = np.zeros(n)
    for j in range(m):
        order = np.argsort(s[:, j], kind="stable")
        column = s[order, j]
        span = column[-1] - column[0]
        if span <= 0:
            continue
        distance[order[1:-1]] += (column[2:] - column[:-2]) / span
        distance[order[[0, -1]]] = np.inf
    return distance


def _volume_2d(q: np.ndarray) -> float:
    """Area dominated by positive points `q` (n, 2) over the origin: sweep by the first objective descending."""
    order = np.lexsort((-q[:, 1], -q[:, 0]))
    highest = np.maximum.accumulate(q[order, 1])
    rise = np.diff(highest, prepend=0.0)  # how much each point raises the staircase
    return float(np.dot(q[order, 0], rise))


def _volume(q: np.ndarray) -> float:
    """Volume dominated by points `q` (n, m), all coordinates > 0, over the origin (HSO slicing for m >= 3)."""
    n, m = q.shape
    if n == 0:
        return 0.0
    if m == 1:
        return float(q.max())
    if m == 2:
        return _volume_2d(q)
    q = q[np.argsort(-q[:, -1], kind="stable")]
    last = np.append(q[:, -1], 0.0)
    section = q[:0, :-1]  # the first front of the cross-section at the current height, grown point by point
    area = total = 0.0
    for k in range(len(q)):
        p = q[k, :-1]
        if not np.any(np.all(section >= p, axis=1)):  # p widens the cross-section: recompute its volume
            section = np.vstack([section[~np.all(p >= section, axis=1)], p])
            area = _volume(section)
        # the slab between the k-th and (k+1)-th highest values of the last objective
        total += (last[k] - last[k + 1]) * area
    return total


def hypervolume(scores: ArrayLike, reference: ArrayLike) -> float:
    """The volume of the region that the points dominate and that dominates `reference`.

    `reference` is a point every counted point must exceed strictly in every objective (for a minimised
    objective: a worst acceptable value, negated like its scores); points that do not are ignored. The result
    is exact; 0 for no counted points. Cost: O(n log n) for two objectives, about O(n^(m-1) log n) beyond,
    fine for a few hundred points in three or four objectives.
    """
    s = _as_scores(scores, "hypervolume")
    q = s - _as_point(reference, "reference", "hypervolume", s.shape[1])
    q = q[np.all(q > 0, axis=1)]
    return _volume(q[_nondominated(q)])


def hypervolume_contributions(scores: ArrayLike, reference: ArrayLike) -> np.ndarray:
    """For each point, `hypervolume(all) - hypervolume(all but that point)`.

    Dominated points, points with an exact copy and points that do not exceed `reference` add 0. A front
    point adds its own box less what the other points cover of it: the other front points and the points
    only it dominates, which removing it would uncover (WFG's exclusive hypervolume, While et al. 2012).
    """
    s = _as_scores(scores, "hypervolume_contributions")
    q = s - _as_point(reference, "reference", "hypervolume_contributions", s.shape[1])
    out = np.zeros(len(s))
    inside = np.flatnonzero(np.all(q > 0, axis=1))
    q = q[inside]
    members = np.flatnonzero(_nondominated(q))
    if q.shape[1] == 2:
        out[inside] = _contributions_2d(q, members)
        return out
    _, inverse, counts = np.unique(q, axis=0, return_inverse=True, return_counts=True)
    single = counts[inverse.reshape(-1)] == 1  # removing one of two copies leaves the other: adds nothing
    for k in members[single[members]]:
        others = np.all(q <= q[k], axis=1)  # what k dominates, which removing k uncovers
        others[members] = True
        others[k] = False
        clipped = np.minimum(q[others], q[k])
        shadow = _volume(clipped[_nondominated(clipped)])  # what the others cover of k's box
        out[inside[k]] = max(float(np.prod(q[k])) - shadow, 0.0)
    return out


def _contributions_2d(q: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Exclusive areas in two objectives: each front point's step of the staircase, less what lies under it."""
    out = np.zeros(len(q))
    f = members[np.lexsort((-q[members, 1], -q[members, 0]))]  # first objective descending, second ascending
    x, y = np.append(q[f, 0], 0.0), np.insert(q[f, 1], 0, 0.0)
    for i, k in enumerate(f):
        corner = np.array([x[i + 1], y[i]])  # the step of k spans from here to q[k]
        if not np.all(q[k] > corner):
            continue  # a copy of its neighbour on the staircase: removing it uncovers nothing
        under = np.all(q > corner, axis=1)  # points inside the step: k and points only k dominates
        under[k] = False
        out[k] = float(np.prod(q[k] - corner)) - _volume_2d(q[under] - corner)
    return out


def _first_best(key: np.ndarray, primary: np.ndarray) -> int:
    """Position of the largest `key`; ties go to the larger `primary`, then to the lower position."""
    return int(np.lexsort((np.arange(len(key)), -primary, -key))[0])


def knee_point(scores: ArrayLike) -> int:
    """Index into `scores` of the knee of the first front: where a small gain in one objective starts to cost
    much in the others.

    The rule, exactly: take the first front (`pareto_mask`); scale each objective to [0, 1] by the front's
    nadir (its worst value, 0) and ideal (its best value, 1), dropping objectives in which the front does not
    vary. Pick the point farthest above the hyperplane through the extreme points (for each objective, the
    front point at 1 in it; ties to the larger sum of scaled scores, then the lower index), measured
    towards the ideal: in two objectives the line between the two ends of the front (Das 1999; Deb & Gupta
    2011). When the extremes do not span a hyperplane whose normal is positive in every objective (repeated
    extremes, a degenerate front), the hyperplane through the unit points, sum of scaled scores = 1, stands
    in. A front of one or two points, or varying in fewer than two objectives, gives the point with the
    largest sum of scaled scores. Ties go to the point best in the first objective, then to the lower index.
    On a front that bends away from the ideal no point lies above the hyperplane and the knee is an extreme.
    """
    s = _as_scores(scores, "knee_point", min_points=1)
    front = np.flatnonzero(_nondominated(s))
    f = s[front]
    nadir, span = f.min(axis=0), np.ptp(f, axis=0)
    varying = span > 0
    z = (f[:, varying] - nadir[varying]) / span[varying]
    total = z.sum(axis=1)
    if len(front) <= 2 or z.shape[1] < 2:
        return int(front[_first_best(total, f[:, 0])])
    normal = _boundary_normal(z, total)
    height = (z @ normal - 1.0) / np.linalg.norm(normal)
    return int(front[_first_best(height, f[:, 0])])


def _boundary_normal(z: np.ndarray, total: np.ndarray) -> np.ndarray:
    """w with w @ e = 1 for each extreme point e of the scaled front `z`, or ones when that fails."""
    m = z.shape[1]
    extremes = [_first_best(np.where(z[:, j] == 1.0, total, -np.inf), total) for j in range(m)]
    fallback = np.ones(m)
    if len(set(extremes)) < m:
        return fallback
    try:
        normal = np.linalg.solve(z[extremes], np.ones(m))
    except np.linalg.LinAlgError:
        return fallback
    if not np.all(np.isfinite(normal)) or not np.all(normal > 0):
        return fallback
    return normal


Constraints = np.ndarray | Sequence[bool] | Sequence[tuple[int, float]]


def _feasible(s: np.ndarray, constraints: Any) -> np.ndarray:
    n, m = s.shape
    is_mask = isinstance(constraints, np.ndarray) or (
        isinstance(constraints, Sequence)
        and len(constraints) > 0
        and all(isinstance(c, (bool, np.bool_)) for c in constraints)
    )
    if is_mask:
        mask = np.asarray(constraints)
        if mask.dtype != bool or mask.shape != (n,):
            raise ConfigError(
                f"A feasibility mask for best_under must be one bool per point, shape ({n},), but got dtype "
                f"{mask.dtype} and shape {mask.shape}; pass a bool array, or a list of (column, minimum) pairs."
            )
        return mask
    if not isinstance(constraints, Sequence) or isinstance(constraints, str):
        raise ConfigError(
            f"`constraints` of best_under must be a bool mask of shape ({n},) or a list of (column, minimum) "
            f"pairs, but got {constraints!r:.80}."
        )
    feasible = np.ones(n, dtype=bool)
    for pair in constraints:
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2
        column, minimum = pair if ok else (None, None)
        ok = ok and isinstance(column, (int, np.integer)) and not isinstance(column, bool) and 0 <= column < m
        ok = ok and isinstance(minimum, (int, float, np.number)) and math.isfinite(float(minimum))
        if not ok:
            raise ConfigError(
                f"Each constraint of best_under must be a (column, minimum) pair with column an int in "
                f"[0, {m}) and minimum a finite number (scores[:, column] >= minimum), but got {pair!r}."
            )
        feasible &= s[:, column] >= minimum
    return feasible


def best_under(scores: ArrayLike, constraints: Constraints) -> int | None:
    """Index of the feasible point best in column 0 (the primary objective), or None when none is feasible.

    `constraints` is either a bool mask, one entry per point (for constraints on anything), or a list of
    `(column, minimum)` pairs, all of which must hold: `scores[i, column] >= minimum` (in the larger-is-better
    convention, so "latency <= 20 ms" on a column of minus latency is `(column, -20)`); an empty list is no
    constraint. Ties in column 0 go to the point best in column 1, then 2, ..., then to the lower index, so
    the answer is on the first front of the feasible points.
    """
    s = _as_scores(scores, "best_under")
    idx = np.flatnonzero(_feasible(s, constraints))
    if not idx.size:
        return None
    keys = [idx, *(-s[idx, j] for j in reversed(range(s.shape[1])))]  # np.lexsort: last key sorts first
    return int(idx[np.lexsort(keys)[0]])


def simplex_weights(n_objectives: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Weights drawn uniformly from the simplex (nonnegative, summing to 1): the gaps between sorted uniforms.

    ParEGO draws from an evenly spaced grid on the simplex instead; the continuous draw needs no grid size.
    """
    if not isinstance(n_objectives, (int, np.integer)) or isinstance(n_objectives, bool) or n_objectives < 1:
        raise ConfigError(f"`n_objectives` of simplex_weights must be an int >= 1, but got {n_objectives!r}.")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    cuts = np.sort(gen.random(int(n_objectives) - 1))
    return np.diff(cuts, prepend=0.0, append=1.0)


def chebyshev(scores: ArrayLike, weights: ArrayLike, ideal: ArrayLike, rho: float = 0.05) -> np.ndarray:
    """Augmented Tchebycheff scalarisation of each row, larger is better (ParEGO, Knowles 2006).

    `-(max_j w_j (ideal_j - s_j) + rho * sum_j w_j (ideal_j - s_j))`. With positive weights and rho its
    maximiser is on the first front, and unlike a weighted sum it reaches points in non-convex parts of the
    front too, as the weights vary. Scale the objectives to comparable ranges first (ParEGO scales each to
    [0, 1] by its observed range); `ideal` is then usually the per-objective best. Gaps are signed, so a score
    beyond the ideal counts in its favour: the result never falls when a score rises.
    """
    s = _as_scores(scores, "chebyshev")
    m = s.shape[1]
    w = _as_point(weights, "weights", "chebyshev", m)
    if np.any(w < 0) or not w.sum() > 0:
        raise ConfigError(f"`weights` of chebyshev must be >= 0 with a positive sum, but got {w.tolist()}.")
    z = _as_point(ideal, "ideal", "chebyshev", m)
    if not isinstance(rho, (int, float, np.integer, np.floating)) or isinstance(rho, bool) or not 0 <= rho < math.inf:
        raise ConfigError(f"`rho` of chebyshev must be a finite number >= 0, but got {rho!r}.")
    gap = w * (z - s)
    return -(gap.max(axis=1) + float(rho) * gap.sum(axis=1))
