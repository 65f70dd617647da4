"""The typed configuration sections (`nasforge.config.sections`): one schema per section from which the key
checks, the error messages, `nasforge run`'s flags and the configuration reference page all derive."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from nasforge import config as configs
from nasforge.cli.main import build_parser
from nasforge.cli.run import resolve_config
from nasforge.config.reference import reference_markdown
from nasforge.config.sections import FIXED_SECTIONS
from nasforge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BASE: dict[str, Any] = {"space": {"name": "cnn"}, "dataset": {"name": "digits"}}


@pytest.mark.parametrize("section", FIXED_SECTIONS, ids=lambda s: s.__name__)
def test_every_key_has_a_type_a_default_and_a_meaning(section: type[configs.Section]) -> None:
    hints = section.hints()
    for f in dataclasses.fields(section):  # type: ignore[arg-type]
        assert f.name in hints and f.metadata.get("help"), f"{section.__name__}.{f.name} lacks a type or help"
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def test_parse_gives_typed_sections_and_the_job_budget() -> None:
    conf = configs.parse_config({**BASE, "run": {"total_time": 600, "retrain_share": 0.4}, "export": {"epochs": 3}})
    assert isinstance(conf.run, configs.RunSection) and conf.run.total_time == 600 and conf.run.max_trials is None
    assert conf.export.epochs == 3 and conf.export.ensemble == 1 and conf.export.pick == "best"
    assert conf.budget is not None and conf.budget.total == 600 and conf.budget.retrain_share == 0.4
    assert conf.top.storage == "nasforge.db" and conf.raw["run"] == {"total_time": 600, "retrain_share": 0.4}


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        (configs.RunSection, {"timeout": "1h"}, r"^Key run\.timeout must be int or float or null, but got '1h'\.$"),
        (configs.RunSection, {"max_trials": True}, r"^Key run\.max_trials must be int or null, but got True\.$"),
        (configs.ExportSection, {"epoch": 3}, r"^Unknown key 'epoch' in section 'export'\. Did you mean 'epochs'"),
        (configs.ExportSection, {"ensemble": 0}, r"ensemble"),
        (configs.EstimationSection, {"warm_start": 3}, r"^Key estimation\.warm_start must be str or dict or null"),
        (configs.MiddlewareSection, {"deduplicate": 1}, r"^Key strategy\.deduplicate must be bool, but got 1\.$"),
        (configs.RunSection, [1, 2], r"^Section 'run' must be a mapping of keys, but got \[1, 2\]\.$"),
    ],
)
def test_types_and_names_come_from_the_annotations(section: Any, values: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        section.parse(None, values)


def test_every_keyed_flag_sets_its_key_typed_without_a_second_parse() -> None:
    argv = ["run", "digits", "--total-time", "600", "--trial-timeout", "30", "--max-params", "1e5"]
    argv += ["--export", "out", "--export-ensemble", "3", "--export-format", "onnx", "--seed", "4", "--deduplicate"]
    cfg = resolve_config(build_parser().parse_args(argv))
    assert cfg["run"]["total_time"] == 600.0 and cfg["run"]["trial_timeout"] == 30.0
    assert cfg["strategy"]["max_params"] == 1e5 and cfg["strategy"]["deduplicate"] is True
    assert cfg["export"]["path"] == "out" and cfg["export"]["ensemble"] == 3 and cfg["export"]["formats"] == "onnx"
    assert cfg["seed"] == 4


def test_the_run_command_offers_a_flag_for_every_key_that_names_one() -> None:
    run = build_parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    offered = {opt for action in run._actions for opt in action.option_strings}
    for section in FIXED_SECTIONS:
        for f in dataclasses.fields(section):  # type: ignore[arg-type]
            if f.metadata.get("flag"):
                assert f.metadata["flag"] in offered
                action = next(a for a in run._actions if f.metadata["flag"] in a.option_strings)
                assert action.help == f.metadata["help"]


def test_the_configuration_reference_page_is_generated_from_the_sections() -> None:
    page = (ROOT / "docs" / "config-reference.md").read_text()
    assert page == reference_markdown(), "regenerate it: python -m nasforge.config.reference > docs/config-reference.md"
    for section in FIXED_SECTIONS:
        for key in section.hints():
            assert f"`{key}`" in page
