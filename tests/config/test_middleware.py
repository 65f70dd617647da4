"""Middleware keys in a config's strategy section: validated apart from the strategy's own options, then
wrapped around it in the documented order."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from nasforge import config as configs
from nasforge.cli.main import build_parser
from nasforge.cli.run import resolve_config
from nasforge.cost import count_params
from nasforge.errors import ConfigError
from nasforge.strategies import (
    STRATEGIES,
    BudgetLimit,
    ConstraintFilter,
    Deduplicate,
    RandomSearch,
    RegularizedEvolution,
    Retry,
)

MIDDLEWARE = {
    "deduplicate": True,
    "max_params": 200_000,
    "retry_failed": 2,
    "max_cost": 3600,
    "cost_metric": "train_time",
}


def digits(**strategy: Any) -> dict[str, Any]:
    cfg = configs.load_preset("digits")
    cfg["strategy"] = {**cfg["strategy"], **strategy}
    return cfg


def test_the_keys_wrap_the_strategy_in_order(tmp_path: Path) -> None:
    exp = configs.build_experiment(digits(**MIDDLEWARE), storage=str(tmp_path / "n.db"))
    budget = exp.strategy
    assert isinstance(budget, BudgetLimit) and (budget.max_cost, budget.metric) == (3600, "train_time")
    retry = budget.inner
    assert isinstance(retry, Retry) and retry.max_retries == 2
    filt = retry.inner
    assert isinstance(filt, ConstraintFilter) and filt.name == "params <= 200000"
    dedup = filt.inner
    assert isinstance(dedup, Deduplicate)
    evolution = dedup.inner
    assert isinstance(evolution, RegularizedEvolution) and evolution.population_size == 8

    archs = [exp.space.random(seed) for seed in range(20)]
    fits = [count_params(exp.space.freeze(arch)) <= 200_000 for arch in archs]
    assert [filt.constraint(arch) for arch in archs] == fits and any(fits) and not all(fits)


@pytest.mark.parametrize(
    ("keys", "wrapper"),
    [
        ({}, RegularizedEvolution),
        ({"deduplicate": True}, Deduplicate),
        ({"deduplicate": False, "retry_failed": 0, "max_params": None, "max_cost": None}, RegularizedEvolution),
        ({"retry_failed": 1}, Retry),
        ({"max_params": 1e6}, ConstraintFilter),
        ({"max_cost": 10}, BudgetLimit),
    ],
)
def test_each_key_alone(keys: dict[str, Any], wrapper: type, tmp_path: Path) -> None:
    strategy = configs.build_experiment(digits(**keys), storage=str(tmp_path / "n.db")).strategy
    assert type(strategy) is wrapper
    if wrapper is not RegularizedEvolution:
        assert type(strategy.inner) is RegularizedEvolution  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"deduplicate": "yes"}, "Key strategy.deduplicate must be bool, but got 'yes'."),
        ({"retry_failed": -1}, "Key strategy.retry_failed must be an int >= 0 (reruns of a failed trial), but got -1."),
        ({"retry_failed": 1.5}, "Key strategy.retry_failed must be int, but got 1.5."),
        ({"max_params": 0}, "Key strategy.max_params must be a number > 0 (parameters) or null, but got 0."),
        ({"max_cost": "1h"}, "Key strategy.max_cost must be int or float or null, but got '1h'."),
        ({"max_cost": float("inf")}, "Key strategy.max_cost must be a number > 0"),
        ({"cost_metric": "flops"}, "Key strategy.cost_metric names what strategy.max_cost counts; give max_cost too."),
        ({"max_cost": 5, "cost_metric": ""}, "Key strategy.cost_metric must name a trial metric"),
        ({"dedupe": True}, "Unknown option 'dedupe' for strategy 'evolution'. Did you mean 'dedup' or 'deduplicate'?"),
        ({"max_cots": 5}, "Did you mean 'max_cost'?"),
        ({"populaton_size": 5}, "Did you mean 'population_size'?"),
        ({"population_size": "many"}, "Option 'population_size' of strategy 'evolution' must be like 20"),
    ],
)
def test_bad_keys_are_one_clear_line(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        configs.validate(digits(**keys))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_no_strategy_option_is_shadowed_by_a_middleware_key() -> None:
    for name in STRATEGIES.names():
        params = set(inspect.signature(STRATEGIES.get(name)).parameters)
        assert not params & set(configs.MIDDLEWARE_KEYS), f"strategy {name!r} takes a middleware key as an option"


def test_strategies_keep_their_own_dedup_option(tmp_path: Path) -> None:
    cfg = digits(dedup=False, deduplicate=True)
    strategy = configs.build_experiment(cfg, storage=str(tmp_path / "n.db")).strategy
    assert isinstance(strategy, Deduplicate) and strategy.inner.dedup is False  # type: ignore[attr-defined]
    cfg["strategy"] = {"name": "random", "max_retries": 3, "retry_failed": 1}
    strategy = configs.build_experiment(cfg, storage=str(tmp_path / "n.db")).strategy
    assert isinstance(strategy, Retry) and strategy.max_retries == 1
    assert isinstance(strategy.inner, RandomSearch) and strategy.inner.max_retries == 3


def test_yaml_reads_exponents_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("strategy: {name: evolution, max_params: 1.5e6}\nevaluator: {learning_rate: 1e-3}\n")
    cfg = configs.load_file(str(path))
    assert cfg["strategy"]["max_params"] == 1.5e6 and cfg["evaluator"]["learning_rate"] == 1e-3
    assert configs.apply_overrides(cfg, ["strategy.max_cost=2e3"])["strategy"]["max_cost"] == 2000.0
    assert configs.apply_overrides(cfg, ["name=1e3x"])["name"] == "1e3x"


def cli_config(*argv: str) -> dict[str, Any]:
    return resolve_config(build_parser().parse_args(["run", *argv]))


def test_cli_flags(tmp_path: Path) -> None:
    cfg = cli_config("digits", "--deduplicate", "--retry-failed", "2", "--max-params", "1.5e6", "--max-cost", "60")
    assert cfg["strategy"] == {
        "name": "evolution",
        "population_size": 8,
        "sample_size": 3,
        "deduplicate": True,
        "retry_failed": 2,
        "max_params": 1.5e6,
        "max_cost": 60.0,
    }
    # another strategy drops the old one's options, not the middleware
    cfg = cli_config("digits", "--strategy", "random", "--set", "strategy.max_cost=60")
    assert cfg["strategy"] == {"name": "random", "max_cost": 60}
    assert cli_config("digits", "--strategy", "random")["strategy"] == {"name": "random"}
    path = tmp_path / "c.yaml"
    path.write_text(
        "space: {name: cnn}\ndataset: {name: digits}\n"
        "strategy: {name: evolution, deduplicate: true, population_size: 4}\n"
    )
    assert cli_config(str(path), "--strategy", "random")["strategy"] == {"name": "random", "deduplicate": True}
