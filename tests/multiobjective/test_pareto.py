"""Pareto math against brute force: fronts, hypervolume (grid counting and inclusion-exclusion), contributions,
crowding distance, knee point, picker, scalarisation, and the errors for bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nasforge.errors import ConfigError
from nasforge.multiobjective import (
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

# --- brute-force references ----------------------------------------------------------------------------------


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def _brute_fronts(s: np.ndarray) -> list[list[int]]:
    rows = [tuple(r) for r in s.tolist()]
    left = list(range(len(rows)))
    fronts = []
    while left:
        front = [i for i in left if not any(_dominates(rows[j], rows[i]) for j in left)]
        fronts.append(front)
        left = [i for i in left if i not in front]
    return fronts


def _grid_volume(points: np.ndarray, reference: np.ndarray, top: int) -> float:
    """Count the unit cells between an integer `reference` and `top` that some point covers entirely."""
    m = len(reference)
    axes = [np.arange(r, top) for r in reference]
    cells = np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, m)  # each cell's lower corner
    covered = np.all(points[None, :, :] >= cells[:, None, :] + 1, axis=2).any(axis=1)
    return float(covered.sum())


def _inclusion_exclusion(points: np.ndarray, reference: np.ndarray) -> float:
    q = points - reference
    q = q[np.all(q > 0, axis=1)]
    total = 0.0
    for k in range(1, len(q) + 1):
        for subset in itertools.combinations(range(len(q)), k):
            total += (-1) ** (k + 1) * float(np.prod(q[list(subset)].min(axis=0)))
    return total


def _sphere(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    x = np.abs(rng.normal(size=(n, m)))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- dominance and fronts ------------------------------------------------------------------------------------


def test_dominates() -> None:
    assert dominates([2, 1], [1, 1])
    assert not dominates([1, 1], [1, 1])  # equal points do not dominate each other
    assert not dominates([2, 0], [1, 1])
    assert dominates([3], [2.5])
    with pytest.raises(ConfigError, match=r"`b` of dominates must have one number per objective, shape \(2,\)"):
        dominates([1, 2], [1, 2, 3])
    with pytest.raises(ConfigError, match=r"`a` of dominates must be a point"):
        dominates([], [])


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", range(5))
def test_non_dominated_sort_matches_brute_force(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 4, size=(60, m)).astype(float)  # few values: many ties and exact copies
    s[10:15] = s[0]
    fronts = non_dominated_sort(s)
    assert [f.tolist() for f in fronts] == _brute_fronts(s)
    assert np.array_equal(pareto_mask(s), np.isin(np.arange(60), fronts[0]))


def test_copies_share_a_front_and_fronts_partition_the_points() -> None:
    s = np.array([[1, 1], [2, 0], [1, 1], [0, 0], [2, 0], [0, 2]])
    assert [f.tolist() for f in non_dominated_sort(s)] == [[0, 1, 2, 4, 5], [3]]
    rng = np.random.default_rng(0)
    s = rng.random((3000, 3))  # a few thousand points: the sort must stay quick
    fronts = non_dominated_sort(s)
    assert np.array_equal(np.sort(np.concatenate(fronts)), np.arange(3000))
    assert np.array_equal(np.flatnonzero(pareto_mask(s)), fronts[0])
    # every point of a later front is dominated by some point of the front before it
    for better, worse in itertools.pairwise(fronts[:4]):
        ge = np.all(s[better][:, None, :] >= s[worse][None, :, :], axis=2)
        assert ge.any(axis=0).all()


def test_pareto_front_is_sorted_by_the_first_objective() -> None:
    s = [[1, 5], [3, 1], [0, 0], [2, 2], [3, 1]]
    assert pareto_front(s).tolist() == [1, 4, 3, 0]  # ties in column 0: lower index first
    assert pareto_mask(s).tolist() == [True, True, False, True, True]


def test_empty_sets() -> None:
    empty = np.empty((0, 2))
    assert non_dominated_sort(empty) == []
    assert pareto_mask(empty).shape == (0,)
    assert pareto_front(empty).shape == (0,)
    assert crowding_distance(empty).shape == (0,)
    assert hypervolume(empty, [0, 0]) == 0.0
    assert hypervolume_contributions(empty, [0, 0]).shape == (0,)
    assert best_under(empty, []) is None
    assert chebyshev(empty, [0.5, 0.5], [1, 1]).shape == (0,)


# --- crowding distance ---------------------------------------------------------------------------------------


def test_crowding_distance_known_values() -> None:
    s = np.array([[0, 10], [1, 3], [4, 2], [6, 0]], dtype=float)
    # column 0 (range 6): (4 - 0) / 6 and (6 - 1) / 6; column 1 (range 10): (10 - 2) / 10 and (3 - 0) / 10
    expected = [math.inf, 4 / 6 + 0.8, 5 / 6 + 0.3, math.inf]
    assert crowding_distance(s) == pytest.approx(expected)
    assert crowding_distance(s[::-1]) == pytest.approx(expected[::-1])
    assert np.all(np.isinf(crowding_distance(s[:2])))


def test_crowding_distance_ignores_a_constant_objective() -> None:
    s = np.array([[0, 5], [1, 5], [3, 5], [4, 5]], dtype=float)
    assert crowding_distance(s) == pytest.approx([math.inf, 0.75, 0.75, math.inf])
    assert crowding_distance(np.ones((4, 2))).tolist() == [0.0] * 4


# --- hypervolume ---------------------------------------------------------------------------------------------


def test_hypervolume_textbook_values() -> None:
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [0, 0]) == pytest.approx(6.0)
    assert hypervolume([[2, 1, 1], [1, 2, 1], [1, 1, 2]], [0, 0, 0]) == pytest.approx(4.0)  # 3*2 - 3*1 + 1
    assert hypervolume([[3, 2, 5, 7]], [1, 1, 1, 1]) == pytest.approx(2 * 1 * 4 * 6)
    assert hypervolume([[0.3], [0.7], [-1.0]], [0.1]) == pytest.approx(0.6)
    # minimisation by negation: front (1, 0), (0.5, 0.5), (0, 1) against the worst point (1.5, 1.5)
    assert hypervolume(-np.array([[1, 0], [0.5, 0.5], [0, 1]]), [-1.5, -1.5]) == pytest.approx(1.5)
    # a fine staircase under the quarter circle fills nearly all of its area, pi / 4
    t = np.linspace(0, np.pi / 2, 2001)
    assert hypervolume(np.column_stack([np.cos(t), np.sin(t)]), [0, 0]) == pytest.approx(np.pi / 4, abs=2e-3)


def test_points_not_beyond_the_reference_are_ignored() -> None:
    assert hypervolume([[1, 3], [2, 0], [-1, 5]], [0, 0]) == pytest.approx(3.0)
    assert hypervolume([[0, 3]], [0, 0]) == 0.0


@pytest.mark.parametrize(("m", "n", "top"), [(2, 8, 6), (3, 7, 5), (4, 6, 4)])
@pytest.mark.parametrize("seed", range(6))
def test_hypervolume_matches_grid_counting_and_inclusion_exclusion(m: int, n: int, top: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.integers(-1, top + 1, size=(n, m)).astype(float)  # ties, copies, points below the reference
    points[-1] = points[0]
    reference = np.zeros(m)
    expected = _grid_volume(points, reference, top)
    assert hypervolume(points, reference) == pytest.approx(expected)
    assert _inclusion_exclusion(points, reference) == pytest.approx(expected)


@pytest.mark.parametrize("m", [3, 4])
def test_hypervolume_of_real_points_matches_inclusion_exclusion(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(5):
        points = rng.random((9, m))
        reference = rng.random(m) * 0.3
        assert hypervolume(points, reference) == pytest.approx(_inclusion_exclusion(points, reference))


@pytest.mark.parametrize(("n", "m"), [(300, 3), (120, 4)])
def test_hypervolume_is_invariant_to_order_dominated_points_and_scaling(n: int, m: int) -> None:
    rng = np.random.default_rng(7)
    front = _sphere(rng, n, m)
    reference = np.full(m, -0.1)
    volume = hypervolume(front, reference)
    dominated = front[rng.integers(0, n, 50)] - rng.random((50, m)) * 0.2
    assert hypervolume(np.vstack([dominated, front]), reference) == pytest.approx(volume)
    perm = rng.permutation(m)  # another objective is sliced last: a different computation, the same volume
    assert hypervolume(front[rng.permutation(n)][:, perm], reference[perm]) == pytest.approx(volume)
    scale = np.arange(1, m + 1, dtype=float)
    assert hypervolume(front * scale, reference * scale) == pytest.approx(volume * math.prod(scale))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_a_new_non_dominated_point_adds_exactly_its_contribution(m: int) -> None:
    rng = np.random.default_rng(m)
    points = _sphere(rng, 40, m)
    reference = np.zeros(m)
    before = hypervolume(points, reference)
    new = points[3] * 1.02  # beyond the unit sphere, so no point dominates it; it dominates points[3]
    both = np.vstack([points, new])
    after = hypervolume(both, reference)
    assert after > before
    assert after - before == pytest.approx(hypervolume_contributions(both, reference)[-1])


# --- contributions -------------------------------------------------------------------------------------------


def test_contributions_of_a_staircase() -> None:
    s = np.array([[1, 3], [2, 2], [3, 1], [1, 1], [2, 2]], dtype=float)
    assert hypervolume_contributions(s[:3], [0, 0]).tolist() == [1.0, 1.0, 1.0]
    # the three own boxes and the area covered twice or more make up the whole volume: 3 + 3 = 6
    shared = hypervolume([[1, 2], [2, 1]], [0, 0])
    assert hypervolume_contributions(s[:3], [0, 0]).sum() + shared == pytest.approx(hypervolume(s[:3], [0, 0]))
    # a dominated point and the two copies of (2, 2) add nothing; (2, 2)'s neighbours keep their own boxes
    assert hypervolume_contributions(s, [0, 0]).tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]


def test_removing_a_point_uncovers_the_points_it_dominates() -> None:
    # without (2, 2), (1, 1) comes back: 4.5 - 2.0
    assert hypervolume_contributions([[2, 2], [1, 1], [3, 0.5]], [0, 0]).tolist() == [2.5, 0.0, 0.5]
    assert hypervolume_contributions([[2, 2, 2], [1, 1, 1]], [0, 0, 0]).tolist() == [7.0, 0.0]


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("kind", ["integers", "reals"])
def test_contributions_match_the_definition(m: int, kind: str) -> None:
    rng = np.random.default_rng(10 + m)
    if kind == "integers":  # ties, copies and points on the reference
        points = rng.integers(0, 6, size=(25, m)).astype(float)
        points[5] = points[6]
    else:  # mostly dominated points, whose removal-uncovering matters
        points = rng.random((40, m))
    reference = np.zeros(m)
    total = hypervolume(points, reference)
    expected = [total - hypervolume(np.delete(points, i, axis=0), reference) for i in range(len(points))]
    assert hypervolume_contributions(points, reference) == pytest.approx(expected, abs=1e-9)
    assert hypervolume_contributions(points, reference + 10).tolist() == [0.0] * len(points)


# --- knee point ----------------------------------------------------------------------------------------------


def test_knee_of_a_convex_front() -> None:
    # accuracy against minus latency: one point gives up little of either, and dominated points around it
    s = [[70, -1], [60, -9], [80, -2], [95, -20], [90, -3], [50, -10], [89, -4]]
    assert knee_point(s) == 4  # scaled (0.8, 0.89): farthest above the line between the ends
    assert knee_point(np.array(s)[:, ::-1]) == 4


def test_knee_in_three_objectives_and_on_a_concave_front() -> None:
    s = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.4, 0.4, 0.4], [0.6, 0.55, 0.5]]
    assert knee_point(s) == 4
    # bending away from the ideal: every point lies below the line, so the knee is an extreme
    t = np.linspace(0, np.pi / 2, 9)
    concave = np.column_stack([1 - np.sin(t), 1 - np.cos(t)])
    assert knee_point(concave) in (0, 8)


def test_knee_of_small_and_degenerate_fronts() -> None:
    assert knee_point([[3, 4]]) == 0
    assert knee_point([[0, 1], [1, 0], [0, 0]]) == 1  # a tie: the point best in the first objective
    assert knee_point([[2, 2], [2, 2], [1, 1]]) == 0  # copies: the lower index
    assert knee_point([[1, 0, 5], [0, 1, 5], [0.7, 0.7, 5]]) == 2  # the constant objective is dropped
    with pytest.raises(ConfigError, match=r"`scores` of knee_point must have at least 1 point"):
        knee_point(np.empty((0, 2)))


# --- picker and scalarisation --------------------------------------------------------------------------------


def test_best_under_with_pairs_and_with_a_mask() -> None:
    s = [[0.9, -30], [0.8, -12], [0.85, -18], [0.7, -5], [0.85, -15]]  # accuracy, minus latency
    assert best_under(s, []) == 0
    assert best_under(s, [(1, -20)]) == 4  # 0.85 twice: the faster of the two
    assert best_under(s, [(1, -10)]) == 3
    assert best_under(s, [(1, -1)]) is None
    assert best_under(s, [(0, 0.8), (1, -16)]) == 4
    assert best_under(s, np.array([False, True, False, True, False])) == 1
    assert best_under(s, [False] * 5) is None


def test_best_under_rejects_bad_constraints() -> None:
    s = [[1, 2], [3, 4]]
    with pytest.raises(ConfigError, match=r"mask for best_under must be one bool per point, shape \(2,\)"):
        best_under(s, np.array([True, False, True]))
    with pytest.raises(ConfigError, match=r"\(column, minimum\) pair with column an int in \[0, 2\)"):
        best_under(s, [(2, 0.0)])
    with pytest.raises(ConfigError, match=r"got \(0, nan\)"):
        best_under(s, [(0, math.nan)])
    with pytest.raises(ConfigError, match="bool mask of shape"):
        best_under(s, "fast")  # type: ignore[arg-type]


def test_simplex_weights() -> None:
    w = simplex_weights(3, np.random.default_rng(0))
    assert w.shape == (3,) and np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    assert np.array_equal(simplex_weights(3, 5), simplex_weights(3, 5))
    assert simplex_weights(1, 0).tolist() == [1.0]
    rng = np.random.default_rng(1)
    draws = np.array([simplex_weights(4, rng) for _ in range(4000)])
    assert draws.mean(axis=0) == pytest.approx([0.25] * 4, abs=0.02)  # Dirichlet(1, 1, 1, 1): mean 1/4 each
    assert np.mean(draws[:, 0] < 0.1) == pytest.approx(1 - 0.9**3, abs=0.03)  # marginal Beta(1, 3)
    with pytest.raises(ConfigError, match=r"`n_objectives` of simplex_weights must be an int >= 1, but got 0"):
        simplex_weights(0)


def test_chebyshev_is_parego_and_picks_front_points() -> None:
    rng = np.random.default_rng(2)
    f = rng.random((50, 3))  # minimised objectives scaled to [0, 1], ideal 0, as in ParEGO
    w = simplex_weights(3, rng)
    parego = np.max(w * f, axis=1) + 0.05 * np.sum(w * f, axis=1)
    assert chebyshev(-f, w, np.zeros(3)) == pytest.approx(-parego)
    s = -f
    for _ in range(20):
        best = int(np.argmax(chebyshev(s, simplex_weights(3, rng), s.max(axis=0))))
        assert pareto_mask(s)[best]
    better = s + np.array([0.0, 0.1, 0.0])  # improving any score raises the scalar, also beyond the ideal
    assert np.all(chebyshev(better, [0.2, 0.3, 0.5], s.max(axis=0)) > chebyshev(s, [0.2, 0.3, 0.5], s.max(axis=0)))


def test_chebyshev_rejects_bad_weights_and_rho() -> None:
    s = [[1.0, 2.0]]
    with pytest.raises(ConfigError, match=r"`weights` of chebyshev must be >= 0 with a positive sum"):
        chebyshev(s, [-0.5, 1.5], [0, 0])
    with pytest.raises(ConfigError, match=r"`ideal` of chebyshev must have one number per objective, shape \(2,\)"):
        chebyshev(s, [0.5, 0.5], [0])
    with pytest.raises(ConfigError, match=r"`rho` of chebyshev must be a finite number >= 0, but got -1"):
        chebyshev(s, [0.5, 0.5], [0, 0], rho=-1)
    with pytest.raises(ConfigError, match=r"but got inf"):
        chebyshev(s, [0.5, 0.5], [0, 0], rho=math.inf)


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_scores_name_the_row_and_column(value: float) -> None:
    s = [[1.0, 2.0], [3.0, value], [4.0, 5.0]]
    with pytest.raises(ConfigError, match=r"row 1, column 1 is .*filter out failed trials"):
        pareto_mask(s)
    with pytest.raises(ConfigError, match=r"`scores` of hypervolume must be finite"):
        hypervolume(s, [0, 0])


def test_badly_shaped_scores() -> None:
    with pytest.raises(ConfigError, match=r"must be 2-D, shape \(n_points, n_objectives\), but got shape \(3,\)"):
        non_dominated_sort([1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match=r"but got shape \(2, 2, 2\)"):
        crowding_distance(np.zeros((2, 2, 2)))
    with pytest.raises(ConfigError, match=r"at least one objective column, but got shape \(3, 0\)"):
        pareto_front(np.empty((3, 0)))
    with pytest.raises(ConfigError, match="must be a 2-D array of numbers"):
        pareto_mask([["a", "b"]])
    with pytest.raises(ConfigError, match="must be a 2-D array of numbers"):
        pareto_mask([[1, 2], [3]])


def test_a_bad_reference() -> None:
    s = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(
        ConfigError, match=r"`reference` of hypervolume must have one number per objective, shape \(2,\)"
    ):
        hypervolume(s, [0, 0, 0])
    with pytest.raises(ConfigError, match=r"shape \(2,\), but got 0"):
        hypervolume(s, 0)
    with pytest.raises(ConfigError, match=r"`reference` of hypervolume_contributions must be finite"):
        hypervolume_contributions(s, [0, math.nan])
