"""Zero-cost proxies used three more ways: `ZeroCostFilter` (only archs the proxy ranks well are trained),
`ProxyEvaluator` (proxy scores as metrics, no training) and BO's `proxy_features` (a predictor feature)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nasforge import Experiment
from nasforge import config as configs
from nasforge.data import Digits
from nasforge.errors import ConfigError
from nasforge.estimation import ProxyScorer
from nasforge.evaluators import EvalContext, ProxyEvaluator
from nasforge.strategies import BayesianOptimization, RandomSearch, RegularizedEvolution, ZeroCostFilter
from nasforge.trial import Objective, TrialRecord, TrialState
from nasforge.zoo import SmallImageCNN
from tests.strategies.test_zero_cost import MLPSpace, drive, params_of
from tests.toys import ToySpace


def filtered(keep: float = 0.5, seed: int = 0) -> ZeroCostFilter:
    strategy = ZeroCostFilter(RandomSearch(), proxy="params", keep=keep, pool=40, input_shape=(8,))
    strategy.setup(MLPSpace(), Objective.parse("max:val_acc"), seed)
    return strategy


def test_only_archs_above_the_pool_quantile_pass() -> None:
    strategy = filtered(keep=0.5)
    proposed = {p.split("@")[0] for p in drive(strategy, 30)}
    threshold = strategy.threshold
    assert threshold is not None and strategy.rejected > 0
    by_id = {a.id: a for a in (strategy.space.random(s) for s in range(2000))}
    assert all(params_of(strategy.space, by_id[i]) >= threshold for i in proposed)  # params is the proxy
    rejected = [i for i, score in strategy._cache.items() if i not in proposed]
    assert rejected and all(strategy._cache[i] < threshold for i in rejected)
    sizes = sorted(params_of(strategy.space, a) for a in by_id.values())
    assert sizes[0] < threshold <= sizes[-1]  # a real cut through the space


def test_threshold_survives_a_resume_and_keep_one_rejects_nothing() -> None:
    a = filtered()
    drive(a, 5)
    b = filtered()
    b.load_state_dict(a.state_dict())
    assert b.threshold == a.threshold and b.rejected == a.rejected
    everything = filtered(keep=1.0)
    drive(everything, 10)
    assert everything.rejected == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"keep": 0}, r"`keep` of ZeroCostFilter must be a fraction in \(0, 1\], but got 0"),
        ({"keep": 1.5}, r"but got 1.5"),
        ({"pool": 0}, r"`pool` of ZeroCostFilter must be an int >= 1"),
        ({"proxy": ["synflow", "params"]}, r"needs one proxy's values"),
    ],
)
def test_bad_filter_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ZeroCostFilter(RandomSearch(), **kwargs)


def test_config_key_wraps_the_strategy(tmp_path: Path) -> None:
    cfg = {
        "name": "f",
        "storage": str(tmp_path / "nas.db"),
        "space": {"name": "cnn"},
        "dataset": {"name": "digits"},
        "strategy": {"name": "evolution", "zero_cost_filter": {"proxy": "params", "keep": 0.3, "pool": 10}},
    }
    exp = configs.build_experiment(cfg)
    assert isinstance(exp.strategy, ZeroCostFilter) and exp.strategy.keep == 0.3
    assert isinstance(exp.strategy.inner, RegularizedEvolution)
    with pytest.raises(ConfigError, match="keep"):
        configs.validate({**cfg, "strategy": {"name": "evolution", "zero_cost_filter": {"keep": "half"}}})


# --- ProxyEvaluator -----------------------------------------------------------------------------------------------
def test_proxy_evaluator_searches_without_training(tmp_path: Path) -> None:
    evaluator = ProxyEvaluator(("naswot", "params"), dataset=Digits(), batch_size=32)
    assert evaluator.input_shape == (1, 8, 8)
    space = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10)
    exp = Experiment(
        "screen", space, RandomSearch(), evaluator, storage=str(tmp_path / "nas.db"), objective="max:naswot"
    )
    exp.run(max_trials=4)
    trials = exp.trials
    assert all(t.state is TrialState.COMPLETE and {"naswot", "params", "cpu_time"} <= set(t.metrics) for t in trials)
    assert exp.best_trial is not None
    assert exp.best_trial.metrics["naswot"] == max(t.metrics["naswot"] for t in trials)
    # the same arch scores the same (the network is seeded per arch)
    again = evaluator.evaluate(EvalContext(exp.space, exp.best_trial.arch))
    assert again["naswot"] == exp.best_trial.metrics["naswot"]


def test_proxy_evaluator_from_config_and_its_export_trains(tmp_path: Path) -> None:
    cfg = {
        "name": "p",
        "storage": str(tmp_path / "nas.db"),
        "space": {"name": "cnn"},
        "dataset": {"name": "digits"},
        "objective": "max:synflow",
        "strategy": {"name": "random"},
        "evaluator": {"name": "proxy", "proxy": "synflow"},
    }
    exp = configs.build_experiment(cfg)
    assert isinstance(exp.evaluator, ProxyEvaluator)
    exp.run(max_trials=3)
    _, metrics = exp.export(str(tmp_path / "out"), epochs=1)
    assert 0.0 <= metrics["test_acc"] <= 1.0 and "search_synflow" in metrics
    with pytest.raises(ConfigError, match="Unknown key 'epochs' in section 'evaluator'"):
        configs.validate({**cfg, "evaluator": {"name": "proxy", "epochs": 2}})
    with pytest.raises(ConfigError, match="Unknown evaluator 'proxi'"):
        configs.validate({**cfg, "evaluator": {"name": "proxi"}})
    with pytest.raises(ConfigError, match="has none; pass `dataset=`"):
        ProxyEvaluator("params", input_shape=(4,)).train_final(ToySpace(), ToySpace().random(0), 1)


# --- proxy as a predictor feature ---------------------------------------------------------------------------------
def test_bo_takes_the_proxy_as_one_more_feature() -> None:
    scorer = ProxyScorer("params", input_shape=(8,))
    strategy = BayesianOptimization(n_initial=3, proxy_features=scorer)
    space = MLPSpace()
    strategy.setup(space, Objective.parse("max:val_acc"), 0)
    for number in range(8):
        proposal = strategy.ask()
        assert proposal is not None
        metrics = {"val_acc": float(params_of(space, proposal.arch))}  # the proxy is the objective here
        strategy.tell(TrialRecord(number, proposal.arch, None, TrialState.COMPLETE, metrics, None, proposal.info))
    archs = [space.random(s) for s in range(4)]
    train = np.stack([space.encode(a) for a in archs[:2]])
    X = np.stack([space.encode(a) for a in archs[2:]])
    t, c = strategy._with_proxy(archs[:2], train, archs[2:], X)
    assert t.shape == (2, train.shape[1] + 1) and c.shape == (2, X.shape[1] + 1)
    assert len(strategy._proxy) >= 8  # scored once per arch, then cached
    assert "proxy_features=ProxyScorer('params')" in repr(strategy)
    with pytest.raises(ConfigError, match="`proxy_features` of BayesianOptimization must be a proxy name"):
        BayesianOptimization(proxy_features=3)  # type: ignore[arg-type]
