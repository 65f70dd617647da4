"""`nasforge.config.validate`: each section's mistakes are one clear line that names the key and what holds;
every bundled preset validates."""

from __future__ import annotations

from typing import Any

import pytest

from nasforge import config as configs
from nasforge.errors import ConfigError

BASE: dict[str, Any] = {"space": {"name": "cnn"}, "dataset": {"name": "digits"}}


def with_(**sections: Any) -> dict[str, Any]:
    return {**BASE, **sections}


def test_the_smallest_config_is_valid_and_returned_as_given() -> None:
    assert configs.validate(BASE) == BASE


@pytest.mark.parametrize("name", configs.preset_names())
def test_every_preset_validates(name: str) -> None:
    cfg = configs.validate(configs.load_preset(name))
    summary = configs.preset_summary(name)
    assert summary["preset"] == name and summary["space"] and summary["dataset"] and summary["about"]
    assert cfg["space"]["name"] == summary["space"]


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({**BASE, "spaces": {}}, r"Unknown key 'spaces' in section ''\. Did you mean 'space'\?"),
        ({"dataset": {"name": "digits"}}, r"needs a 'space' section"),
        ({"space": {"name": "cnn"}}, r"needs a 'dataset' section"),
        (with_(seed="0"), r"Key seed must be int, but got '0'\."),
        (with_(space=3), r"Key space must be dict, but got 3\."),
        (with_(space={"name": "cnnn"}), r"Unknown space 'cnnn'\. Did you mean 'cnn'\?"),
        (with_(space={"name": "cnn", "depth": 3}), r"Unknown option 'depth' for space 'cnn'\. Did you mean 'depths'\?"),
        (with_(space={"depths": [1]}), r"Section 'space' needs a 'name'"),
        (with_(dataset={"name": "mnist"}), r"Unknown dataset 'mnist'\."),
        (with_(strategy={"name": "evolutoin"}), r"Unknown strategy 'evolutoin'\. Did you mean 'evolution'"),
        (with_(evaluator={"epoch": 2}), r"Unknown key 'epoch' in section 'evaluator'\. Did you mean 'epochs'\?"),
        (with_(evaluator={"epochs": "2"}), r"Key evaluator\.epochs must be int, but got '2'\."),
        (with_(evaluator={"name": "proxi"}), r"Unknown evaluator 'proxi'\. Did you mean 'proxy'\?"),
        (with_(evaluator={"name": "proxy", "epochs": 2}), r"Unknown key 'epochs' in section 'evaluator'"),
        (with_(executor={"name": "poool"}), r"Unknown executor 'poool'\. Did you mean 'pool'\?"),
        (with_(executor={"name": "pool", "n_worker": 2}), r"Unknown option 'n_worker' for executor 'pool'"),
        (with_(run={"max_trials": "10"}), r"Key run\.max_trials must be int or null, but got '10'\."),
        (with_(run={"max_trial": 10}), r"Unknown key 'max_trial' in section 'run'\. Did you mean 'max_trials'\?"),
        (with_(run={"retrain_share": 0.5}), r"run\.total_time is not set"),
        (with_(run={"total_time": -1}), r"`total_time` must be a number of seconds > 0"),
        (with_(export={"pick": "first"}), r"Key export\.pick must be 'best' or 'knee', but got 'first'\."),
        (with_(export={"formats": ["tflite"]}), r"Export formats must be among"),
        (with_(export={"ensemble": 0}), r"ensemble"),
        (with_(estimation={"early_stop": "median"}), r"Unknown key 'early_stop' in section 'estimation'"),
        (with_(estimation={"early_stopping": "mediann"}), r"Unknown early-stopping rule 'mediann'"),
        (with_(objective="maximise:val_acc"), r"An objective is written 'max:metric' or 'min:metric'"),
        (
            with_(strategy={"name": "evolution"}, objective=["max:val_acc", "min:params"]),
            r"Strategy 'evolution' optimises one objective, but the configuration has 2",
        ),
        (with_(latency={"backend": "tvm"}), r"`backend` of LatencySetting must be one of"),
    ],
)
def test_a_mistake_in_each_section_is_one_clear_line(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        configs.validate(cfg)
    assert "\n" not in str(info.value)


def test_job_budget_reads_the_run_section() -> None:
    assert configs.job_budget(BASE) is None
    budget = configs.job_budget(with_(run={"total_time": 600, "retrain_share": 0.4}))
    assert budget is not None and budget.total == 600
