"""`nasforge run`'s executor flags (--workers, --executor, --ray-address, --gpus-per-trial, --trial-timeout)
turn into the configuration's executor and run sections."""

from __future__ import annotations

import argparse

import pytest

from nasforge import config as configs
from nasforge.cli.run import executor_section
from nasforge.errors import ConfigError


def flags(**given: object) -> argparse.Namespace:
    base = {"workers": None, "executor": None, "ray_address": None, "gpus_per_trial": None}
    return argparse.Namespace(**{**base, **given})


@pytest.mark.parametrize(
    ("section", "given", "expected"),
    [
        (None, {}, {"name": "sequential"}),
        ({"name": "pool", "n_workers": 3}, {}, {"name": "pool", "n_workers": 3}),
        (None, {"workers": 2}, {"name": "pool", "n_workers": 2}),
        ({"name": "pool", "n_workers": 2, "max_retries": 1}, {"workers": 1}, {"name": "sequential"}),
        (
            {"name": "pool", "n_workers": 2, "max_retries": 1},
            {"workers": 4},
            {"name": "pool", "n_workers": 4, "max_retries": 1},
        ),
        (None, {"executor": "ray"}, {"name": "ray"}),
        ({"name": "pool", "n_workers": 2, "max_retries": 1}, {"executor": "ray"}, {"name": "ray", "n_workers": 2}),
        (None, {"ray_address": "auto", "workers": 8}, {"name": "ray", "n_workers": 8, "address": "auto"}),
        ({"name": "ray", "address": "auto"}, {"workers": 1}, {"name": "ray", "address": "auto", "n_workers": 1}),
        (None, {"workers": 4, "gpus_per_trial": 0.5}, {"name": "pool", "n_workers": 4, "gpus_per_trial": 0.5}),
    ],
)
def test_flags_become_the_executor_section(section: object, given: dict, expected: dict) -> None:
    assert executor_section(section, flags(**given)) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"workers": 0}, "--workers must be >= 1"),
        ({"gpus_per_trial": -1.0}, "--gpus-per-trial must be >= 0"),
        ({"gpus_per_trial": 1.0}, "needs worker processes"),
        ({"ray_address": "auto", "executor": "pool"}, "drop one of them"),
    ],
)
def test_bad_flags(given: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        executor_section(None, flags(**given))


def test_config_names_executors_and_trial_timeout() -> None:
    base = {"space": {"name": "cnn"}, "dataset": {"name": "digits"}}
    configs.validate({**base, "executor": {"name": "pool", "n_workers": 2, "max_retries": 0, "heartbeat_timeout": 30}})
    configs.validate({**base, "run": {"trial_timeout": 60}})
    with pytest.raises(ConfigError, match="Did you mean 'pool'"):
        configs.validate({**base, "executor": {"name": "pol"}})
    with pytest.raises(ConfigError, match="n_wrokers"):
        configs.validate({**base, "executor": {"name": "pool", "n_wrokers": 2}})
    with pytest.raises(ConfigError, match="trial_timeout"):
        configs.validate({**base, "run": {"trial_timeout": "1h"}})
