"""Behaviour particular to grid search, local search and REINFORCE (the shared contract is in
test_conformance.py)."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge.errors import ConfigError
from nasforge.strategies import REINFORCE, GridSearch, LocalSearch
from nasforge.trial import Objective, TrialRecord, TrialState
from tests.toys import ToySpace, toy_score

SPACE = ToySpace()
OBJ = Objective("score")


def setup(strategy, seed: int = 0):  # type: ignore[no-untyped-def]
    strategy.setup(SPACE, OBJ, seed)
    return strategy


def tell(strategy, number: int, arch, score: float | None = None) -> None:  # type: ignore[no-untyped-def]
    s = toy_score(arch) if score is None else score
    strategy.tell(TrialRecord(number, arch, state=TrialState.COMPLETE, metrics={"score": s}))


def test_grid_covers_the_space_once_then_stops() -> None:
    for shuffle in (False, True):
        grid = setup(GridSearch(shuffle=shuffle))
        archs = []
        while (p := grid.ask()) is not None:
            archs.append(p.arch)
        assert len(archs) == SPACE.size() == len({a.id for a in archs})
        assert grid.is_done() and grid.ask() is None


def test_grid_resumes_mid_way() -> None:
    grid = setup(GridSearch(shuffle=True), seed=1)
    first = [grid.ask().arch for _ in range(50)]  # type: ignore[union-attr]
    state = grid.state_dict()
    rest = [p.arch for p in iter(grid.ask, None)]
    again = setup(GridSearch(shuffle=True), seed=99)
    again.load_state_dict(state)
    assert [p.arch for p in iter(again.ask, None)] == rest
    assert len(first) + len(rest) == SPACE.size()


def test_shuffled_grid_refuses_huge_spaces() -> None:
    from nasforge.zoo import SmallImageCNN

    with pytest.raises(ConfigError, match="max_size"):
        GridSearch(shuffle=True).setup(SmallImageCNN(), OBJ, 0)


def test_local_search_climbs_to_a_local_optimum_and_restarts() -> None:
    ls = setup(LocalSearch(n_initial=3), seed=2)
    best = -np.inf
    for i in range(150):
        p = ls.ask()
        best = max(best, toy_score(p.arch))
        tell(ls, i, p.arch)
    assert best == 0  # the toy space is unimodal along single-decision moves: climbing finds the optimum
    assert ls.restarts >= 1  # and at the optimum, no neighbour improves: it restarts


def test_local_search_moves_to_the_first_improving_neighbour() -> None:
    ls = setup(LocalSearch(n_initial=1), seed=0)
    start = ls.ask().arch  # type: ignore[union-attr]
    tell(ls, 0, start, score=-10)
    neighbour = ls.ask().arch  # type: ignore[union-attr]
    assert neighbour.id in {a.id for a in SPACE.neighbours(start)}
    tell(ls, 1, neighbour, score=-5)
    nxt = ls.ask().arch  # type: ignore[union-attr]
    assert nxt.id in {a.id for a in SPACE.neighbours(neighbour)}


def test_reinforce_policy_concentrates_on_the_optimum() -> None:
    rl = setup(REINFORCE(learning_rate=0.5), seed=0)
    for i in range(400):
        p = rl.ask()
        tell(rl, i, p.arch)
    probs = rl.probabilities()
    assert probs["x"][3] > 0.6 and probs["y"][1] > 0.6 and probs["op"][1] > 0.8


def test_reinforce_ignores_inactive_decisions_and_failures() -> None:
    rl = setup(REINFORCE(learning_rate=1.0), seed=0)
    before = rl.probabilities()["k"]
    arch = SPACE.validate({"x": 3, "y": 1, "op": "b", "extra": "none"})
    tell(rl, 0, arch, score=0.0)
    tell(rl, 1, arch, score=5.0)
    assert rl.probabilities()["k"] == before  # k is inactive in that arch
    rl.tell(TrialRecord(2, arch, state=TrialState.FAILED, error="boom"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"baseline_decay": 1.0}, "baseline_decay"),
        ({"entropy_weight": -1}, "entropy_weight"),
    ],
)
def test_reinforce_validates(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        REINFORCE(**kwargs)


def test_local_search_validates() -> None:
    with pytest.raises(ConfigError, match="n_initial"):
        LocalSearch(n_initial=0)
