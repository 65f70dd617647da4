"""An exported model of each kind, searched and retrained for one epoch, for the tests of what uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nasforge
from nasforge.config import build_experiment

#: a small image CNN for scikit-learn's 8 x 8 digits: a search trial and two retrains in seconds
DIGITS = {
    "space": {"name": "cnn", "depths": [1], "widths": [[8], [8], [16]], "stem_widths": [8]},
    "dataset": {"name": "digits"},
}


def exported(tmp: Path, config: dict[str, Any], **export: Any) -> tuple[nasforge.Predictor, dict[str, float], Path]:
    """Search one trial of `config` and export it (1 epoch each): the loaded model, its metrics, its folder."""
    experiment = build_experiment(
        {"name": "p", "strategy": {"name": "random"}, "evaluator": {"epochs": 1}, **config}, storage=str(tmp / "n.db")
    )
    experiment.run(max_trials=1)
    folder, metrics = experiment.export(str(tmp / "out"), **{"epochs": 1, **export})
    return nasforge.load(folder), metrics, folder


@pytest.fixture(scope="session")
def digits_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[nasforge.Predictor, dict[str, float], Path]:
    """An ensemble of two retrains of a digits CNN, exported in the default formats."""
    return exported(tmp_path_factory.mktemp("digits"), DIGITS, ensemble_seeds=2)
