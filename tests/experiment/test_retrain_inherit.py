"""The export's retrain starting from the weights its trial trained in the search (`keep_weights`,
`export(inherit=True)`, `export: {inherit: true}`), instead of from scratch."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from nasforge import ClassificationEvaluator, Experiment, RandomSearch
from nasforge.config import build_experiment, validate
from nasforge.data import Digits
from nasforge.errors import ConfigError
from nasforge.estimation.inheritance import save_weights
from nasforge.evaluators.tabular import NB201Evaluator
from nasforge.zoo import SmallImageCNN

SPACE = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10, depths=(1, 2), widths=((8, 16), (16,), (16,)))


def conv_weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [m.weight.detach().clone() for m in model.modules() if isinstance(m, torch.nn.Conv2d)]


def frozen_training(evaluator: ClassificationEvaluator) -> ClassificationEvaluator:
    """Train at a rate so small (the arch's own rate overridden) that the weights cannot move: what the retrain
    ends with is what it started from."""
    still = dataclasses.replace(evaluator.config, learning_rate=1e-12, weight_decay=0.0)
    evaluator.train_config = lambda arch, budget=None: still  # type: ignore[method-assign]
    return evaluator


def test_train_final_starts_from_the_weights_given_where_the_data_was_not_refitted(tmp_path: Path) -> None:
    evaluator = frozen_training(ClassificationEvaluator(Digits(), epochs=1))
    arch = SPACE.default_arch()
    saved = SPACE.freeze(arch)
    with torch.no_grad():
        for i, p in enumerate(saved.parameters()):
            p.fill_(0.01 * (i + 1))
    save_weights(saved, tmp_path / "7.pt")

    model, metrics = evaluator.train_final(SPACE, arch, 1, seed=3, weights_in=str(tmp_path / "7.pt"))
    assert metrics["inherited"] == 1.0
    for got, want in zip(conv_weights(model), conv_weights(saved), strict=True):
        torch.testing.assert_close(got, want)
    fresh, fresh_metrics = evaluator.train_final(SPACE, arch, 1, seed=3)
    assert "inherited" not in fresh_metrics
    assert not torch.allclose(conv_weights(fresh)[0], conv_weights(saved)[0])

    class Refitted(Digits):
        """Preprocessing refitted on train + valid (as a tokenizer is): the same shapes may mean other things."""

        def load_refitted(self) -> Any:
            return self._build()

    refit = frozen_training(ClassificationEvaluator(Refitted(), epochs=1))
    model, metrics = refit.train_final(SPACE, arch, 1, seed=3, weights_in=str(tmp_path / "7.pt"))
    assert metrics["inherited"] == 0.0
    assert not torch.allclose(conv_weights(model)[0], conv_weights(saved)[0])


def search(tmp_path: Path, keep_weights: bool, name: str = "keep") -> Experiment:
    return Experiment(
        name,
        SPACE,
        RandomSearch(),
        ClassificationEvaluator(Digits(), epochs=1),
        storage=str(tmp_path / "nas.db"),
        checkpoint_dir=tmp_path / "ck",
        keep_weights=keep_weights,
    ).run(max_trials=2)


def test_an_export_that_inherits_retrains_from_the_chosen_trials_saved_weights(tmp_path: Path) -> None:
    exp = search(tmp_path, keep_weights=True)
    assert sorted(p.name for p in (tmp_path / "ck" / "weights").glob("*.pt")) == ["0.pt", "1.pt"]
    folder, metrics = exp.export(str(tmp_path / "out"), epochs=1, inherit=True, formats=["pt"])
    assert metrics["inherited"] == 1.0 and metrics["trial"] == exp.best_trial.number  # type: ignore[union-attr]
    members = json.loads((folder / "export.json").read_text())["retrain"]["members"]
    assert members[0]["inherited"] == 1.0
    # an ensemble's further seeds start from scratch: they are there for their different starts
    _, metrics = exp.export(str(tmp_path / "ens"), epochs=1, inherit=True, ensemble_seeds=2, formats=["pt"])
    members = json.loads((tmp_path / "ens" / "export.json").read_text())["retrain"]["members"]
    assert [m.get("inherited") for m in members] == [1.0, None]


def test_without_saved_weights_the_retrain_starts_from_scratch_and_says_why(tmp_path: Path) -> None:
    exp = search(tmp_path, keep_weights=False)
    assert not (tmp_path / "ck" / "weights").exists()
    with pytest.warns(UserWarning, match="no saved weights .*without keep_weights"):
        _, metrics = exp.export(str(tmp_path / "out"), epochs=1, inherit=True, formats=["pt"])
    assert "inherited" not in metrics and "test_acc" in metrics


def test_keeping_weights_needs_an_evaluator_that_trains(tmp_path: Path) -> None:
    from nasforge.zoo.nb201 import NB201Space

    with pytest.raises(ConfigError, match="keep_weights"):
        Experiment(
            "tab",
            NB201Space(),
            RandomSearch(),
            NB201Evaluator("cifar10"),
            storage=str(tmp_path / "a.db"),
            keep_weights=True,
        )
    with pytest.raises(ConfigError, match="`keep_weights` must be true or false"):
        search(tmp_path, keep_weights="yes")  # type: ignore[arg-type]


def test_the_config_key_keeps_the_weights_and_is_checked(tmp_path: Path) -> None:
    cfg = {
        "space": {"name": "cnn", "input_shape": [1, 8, 8], "num_classes": 10},
        "dataset": {"name": "digits"},
        "export": {"path": str(tmp_path / "out"), "inherit": True},
    }
    assert build_experiment(cfg, storage=str(tmp_path / "nas.db")).keep_weights is True
    assert build_experiment({**cfg, "export": {}}, storage=str(tmp_path / "b.db")).keep_weights is False
    with pytest.raises(ConfigError, match=r"export\.inherit"):
        validate({**cfg, "export": {"inherit": "yes"}})
