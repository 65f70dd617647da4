"""Reading configurations: files, presets and `section.key=value` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nasforge import config as configs
from nasforge.errors import ConfigError

BASE: dict[str, Any] = {"space": {"name": "cnn"}, "dataset": {"name": "digits"}}


def test_overrides_set_nested_keys_as_yaml_values_without_touching_the_original() -> None:
    out = configs.apply_overrides(BASE, ["run.max_trials=5", "space.name=mlp", "seed=", "objective=[max:a, min:b]"])
    assert out == {
        "space": {"name": "mlp"},
        "dataset": {"name": "digits"},
        "run": {"max_trials": 5},
        "seed": None,
        "objective": ["max:a", "min:b"],
    }
    assert BASE["space"] == {"name": "cnn"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["seed"], r"An override is written key=value or section\.key=value, but got 'seed'\."),
        (["=3"], r"An override needs a key before '=', but got '=3'\."),
        (["space=3", "space.name=x"], r"Override 'space\.name=x': 'space' is not a section\."),
        (["x=[1,"], r"The value of override 'x=\[1,' is not valid YAML"),
    ],
)
def test_bad_overrides_say_how_to_write_them(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        configs.apply_overrides(BASE, overrides)


def test_an_unknown_preset_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"Unknown preset 'digit'\. Did you mean 'digits'\?"):
        configs.load_preset("digit")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("space: [", r"is not valid YAML"),
        ("- space\n- dataset\n", r"must be a mapping of sections \(space, dataset, \.\.\.\), but got list\."),
    ],
)
def test_a_bad_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        configs.load_file(str(path))


def test_a_missing_file_names_the_presets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist; give a YAML file path or a preset name \(digits"):
        configs.load_file(str(tmp_path / "nope.yaml"))


def test_an_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("# nothing yet\n")
    assert configs.load_file(str(path)) == {}
