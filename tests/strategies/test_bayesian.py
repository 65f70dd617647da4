"""The predictor-based strategies and their predictors (the conformance suite covers the ask/tell contract)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from nasforge.errors import ConfigError
from nasforge.strategies import BANANAS, STRATEGIES, BayesianOptimization
from nasforge.strategies.predictors import GaussianProcess, MLPEnsemble, warp
from nasforge.trial import Objective, TrialRecord, TrialState
from nasforge.zoo import SPACES
from tests.toys import ToySpace, toy_score

OBJECTIVE = Objective("score", "maximize")


def _binary_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(n, 12)).astype(float)
    w = np.linspace(-1, 1, 12)
    return X, X @ w + 0.5 * X[:, 0] * X[:, 1]


@pytest.mark.parametrize("predictor", [GaussianProcess(), MLPEnsemble(size=3, epochs=300)])
def test_predictors_rank_unseen_points(predictor) -> None:
    X, y = _binary_problem(300, 0)
    predictor.fit(X[:60], warp(y[:60], "none"), np.random.default_rng(0))
    mean, std = predictor.predict(X[60:])
    assert spearmanr(mean, y[60:]).correlation > 0.8
    assert mean.shape == std.shape == (240,) and np.all(std >= 0)


def test_gp_is_certain_where_it_has_data_and_not_far_away() -> None:
    X, y = _binary_problem(80, 1)
    gp = GaussianProcess(noises=(1e-4,)).fit(X[:40], warp(y[:40], "none"))
    _, std_seen = gp.predict(X[:40])
    far = 1.0 - X[:1]  # every bit flipped
    _, std_far = gp.predict(far * 5.0)
    assert std_seen.max() < 0.1 < std_far[0]


def test_warps_are_monotone_and_standardised() -> None:
    y = np.array([10.0, 80.0, 81.0, 85.0, 84.0])
    for how in ("rank", "clip", "none"):
        w = warp(y, how)
        assert abs(w.mean()) < 1e-9 and abs(w.std() - 1) < 1e-9
        assert np.all(np.diff(w[np.argsort(y)]) >= 0)
    # rank: the 10 %-accuracy outlier is just the lowest rank, not five standard deviations away
    assert warp(y, "rank")[0] > -2
    with pytest.raises(ConfigError, match="`warp` must be one of"):
        warp(y, "log")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"predictor": "forest"}, "`predictor` of BayesianOptimization must be one of"),
        ({"acquisition": "pi"}, "`acquisition` of BayesianOptimization must be one of"),
        ({"n_initial": 0}, "`n_initial` of BayesianOptimization must be an int >= 1"),
        ({"beta": -1}, "`beta` of BayesianOptimization must be a number >= 0"),
    ],
)
def test_arguments_are_validated(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        BayesianOptimization(**kwargs)


def test_enumerating_a_large_space_is_refused_with_the_way_out() -> None:
    strategy = BayesianOptimization(candidates="space", max_pool=10)
    with pytest.raises(ConfigError, match="candidates='mutation'"):
        strategy.setup(ToySpace(), OBJECTIVE, 0)


@pytest.mark.parametrize("candidates", ["space", "mutation"])
def test_outstanding_asks_are_all_different(candidates: str) -> None:
    strategy = BayesianOptimization(n_initial=3, candidates=candidates)
    strategy.setup(ToySpace(), OBJECTIVE, 0)
    for i in range(5):
        p = strategy.ask()
        assert p is not None
        strategy.tell(TrialRecord(i, p.arch, state=TrialState.COMPLETE, metrics={"score": toy_score(p.arch)}))
    outstanding = [strategy.ask() for _ in range(8)]
    assert len({p.arch.id for p in outstanding if p is not None}) == 8
    assert all(p is not None and p.info["origin"] == "acquisition" for p in outstanding)


def test_mutation_candidates_work_on_a_space_with_conditional_decisions() -> None:
    space = SPACES.create("cnn")  # conditional decisions: per-block choices exist only up to the depth
    strategy = BANANAS(n_initial=4, n_candidates=30)
    strategy.setup(space, OBJECTIVE, 0)
    for i in range(8):
        p = strategy.ask()
        assert p is not None and space.validate(p.arch) == p.arch
        strategy.tell(TrialRecord(i, p.arch, state=TrialState.COMPLETE, metrics={"score": float(len(p.arch))}))


def test_bo_beats_random_on_the_toy_space() -> None:
    def mean_best(name: str) -> float:
        total = 0.0
        for seed in range(10):
            strategy = STRATEGIES.create(name)
            strategy.setup(ToySpace(), OBJECTIVE, seed)
            best = -np.inf
            for i in range(25):
                p = strategy.ask()
                assert p is not None
                best = max(best, toy_score(p.arch))
                strategy.tell(TrialRecord(i, p.arch, state=TrialState.COMPLETE, metrics={"score": toy_score(p.arch)}))
            total += best
        return total / 10

    assert mean_best("bo") > mean_best("random")


@pytest.mark.slow
def test_bo_beats_random_on_nas_bench_201() -> None:
    from nasforge.bench.runner import RunSpec, run_one

    def mean(strategy: str) -> float:
        return float(np.mean([run_one(RunSpec(strategy, "cifar10", seed)).final_test for seed in range(4)]))

    assert mean("bo") > mean("random") + 0.2
