"""`MLPSpace`: its decisions, frozen networks that run and trace, and a tiny real search through a config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge import config as configs
from nasforge.errors import SpaceError
from nasforge.zoo import SPACES, MLPSpace


def test_decisions() -> None:
    space = MLPSpace(input_shape=(7,), num_classes=3)
    for label in (
        "optimizer",
        "learning_rate",
        "batch_size",
        "weight_decay",
        "norm",
        "activation",
        "dropout",
        "residual",
        "layers",
        "layers/0/width",
        "layers/3/width",
    ):
        assert label in space.labels
    assert space.decision("layers").values == (1, 2, 3, 4)
    assert "residual" not in MLPSpace(input_shape=(7,), residual=False).labels


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_frozen_networks_run_and_trace(norm: str) -> None:
    space = MLPSpace(input_shape=(7,), num_classes=3, norms=(norm,), activations=("gelu", "selu"))
    rng = np.random.default_rng(0)
    for _ in range(3):
        arch = space.random(rng)
        net = space.freeze(arch).eval()
        zeros = torch.zeros(1, 7)
        traced = torch.jit.trace(net, zeros)
        x = torch.randn(4, 7)
        torch.testing.assert_close(traced(x), net(x))
        assert net(zeros).shape == (1, 3)
    widths = {f"layers/{i}/width": 64 * (i % 2 + 1) for i in range(4)}
    deep = space.freeze({**space.random(rng), **widths, "layers": 4, "residual": True})
    assert len(deep.layers) == 4 and deep(torch.zeros(2, 7)).shape == (2, 3)


def test_arguments_are_validated() -> None:
    with pytest.raises(SpaceError, match="norms"):
        MLPSpace(norms=("group",))
    with pytest.raises(SpaceError, match="activations"):
        MLPSpace(activations=("relu", "swish"))
    with pytest.raises(SpaceError, match="dropouts"):
        MLPSpace(dropouts=(1.5,))
    with pytest.raises(SpaceError, match="input_shape"):
        MLPSpace(input_shape=(0,))
    assert "mlp" in SPACES.names()


@pytest.mark.slow
def test_tiny_search_through_the_config_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = ["size,colour,weight,kind"]
    for _ in range(240):
        kind = int(rng.integers(0, 2))
        size = rng.normal(2.0 * kind, 1.0)
        colour = ["red", "blue"][kind] if rng.random() < 0.8 else "green"
        weight = "" if rng.random() < 0.1 else f"{rng.normal():.3f}"
        lines.append(f"{size:.3f},{colour},{weight},{['cat', 'dog'][kind]}")
    csv_path = tmp_path / "animals.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    cfg = configs.apply_overrides(
        configs.load_preset("tabular"),
        [
            f"storage={tmp_path / 'nas.db'}",
            f"dataset.path={csv_path}",
            "dataset.label=kind",
            "evaluator.epochs=3",
            "executor={name: sequential}",
            "strategy.population_size=3",
            "strategy.sample_size=2",
        ],
    )
    experiment = configs.build_experiment(cfg)
    assert experiment.space.decision("layers/0/width").values == (32, 64, 128, 256)
    experiment.run(max_trials=4)
    best = experiment.best_trial
    assert best is not None and best.metrics["val_acc"] > 0.7
    folder, metrics = experiment.export(str(tmp_path / "out"), epochs=3)
    assert metrics["test_acc"] > 0.7
    prep = (folder / "preprocessing.json").read_text()
    assert '"label": "kind"' in prep and '"size_missing"' not in prep and '"weight_missing"' in prep
