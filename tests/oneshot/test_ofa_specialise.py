"""Train once, specialise many: `OFA.specialise` searches a trained supernet again under another budget
(parameters, FLOPs, measured latency) without training it, and refuses what would need training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nasforge.data import ArrayData
from nasforge.errors import ConfigError, StorageError
from nasforge.oneshot import OFA
from nasforge.zoo.cnn import SmallImageCNN


def space() -> SmallImageCNN:
    return SmallImageCNN(depths=(1, 2), widths=((8, 16),), stem_widths=(8,), input_shape=(1, 8, 8))


def data() -> ArrayData:
    gen = torch.Generator().manual_seed(0)
    return ArrayData(torch.randn(48, 1, 8, 8, generator=gen), torch.randint(0, 10, (48,), generator=gen))


def method(**changes: object) -> OFA:
    settings: dict[str, object] = dict(epochs=1, batch_size=16, population=4, generations=2, device="cpu")
    return OFA(**{**settings, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A finished one-epoch search's checkpoint, with the parameters of its largest and smallest subnets."""
    path = tmp_path_factory.mktemp("ofa") / "supernet.pt"
    d = data()
    result = method().search(space(), d, d, checkpoint=path)
    assert result is not None
    supernet = method().load_supernet(space(), path)
    sizes = [sum(p.numel() for p in space().freeze(supernet.extreme(largest=b)).parameters()) for b in (True, False)]
    return path, sizes[0], sizes[1]


@pytest.mark.slow  # trains a supernet (the module's fixture) and searches it: seconds
def test_specialising_searches_the_trained_supernet_under_each_budget_without_training(
    trained: tuple[Path, int, int],
) -> None:
    path, largest, smallest = trained
    before = path.read_bytes()
    d = data()
    budgets = [smallest, (smallest + largest) // 2, largest]
    found = [method().specialise(space(), d, d, path, max_subnet_params=b) for b in budgets]
    for budget, result in zip(budgets, found, strict=True):
        assert result.info["derive_params"] <= budget
        assert len(result.history) == 1  # the one trained epoch, none added
    assert found[0].info["derive_params"] == smallest  # only the smallest fits the tightest budget
    assert path.read_bytes() == before  # the checkpoint is not written again


@pytest.mark.slow  # trains a supernet (the module's fixture) and searches it: seconds
def test_a_latency_budget_bounds_the_measured_latency_of_the_subnet_found(trained: tuple[Path, int, int]) -> None:
    path, _, _ = trained
    d = data()
    result = method().specialise(space(), d, d, path, max_subnet_latency_ms=1000.0, latency={"repeats": 3})
    assert 0 < result.info["derive_latency_ms"] <= 1000.0
    with pytest.raises(ConfigError, match=r"smallest has .* ms\. Raise the budget"):
        method().specialise(space(), d, d, path, max_subnet_latency_ms=1e-9, latency={"repeats": 3})


@pytest.mark.slow  # trains a supernet (the module's fixture) and searches it: seconds
def test_specialise_refuses_training_settings_and_an_unfinished_supernet(
    trained: tuple[Path, int, int], tmp_path: Path
) -> None:
    path, _, _ = trained
    d = data()
    with pytest.raises(ConfigError, match=r"changes only the search's settings .* but got epochs"):
        method().specialise(space(), d, d, path, epochs=3)
    with pytest.raises(StorageError, match="holds 1 of 2 epochs"):
        method(epochs=2).specialise(space(), d, d, path)
    with pytest.raises(StorageError, match="another search"):
        method(learning_rate=0.01).specialise(space(), d, d, path)
    with pytest.raises(StorageError, match="holds 0 of 1 epochs"):
        method().specialise(space(), d, d, tmp_path / "none.pt")


def test_a_bad_latency_budget_is_one_clear_error() -> None:
    for bad in (0, -1.0, float("nan"), "1ms", True):
        with pytest.raises(ConfigError, match="max_subnet_latency_ms"):
            method(max_subnet_latency_ms=bad)


@pytest.mark.slow  # an `ofa` experiment on digits, then two exports from its one supernet: about 20 s
def test_one_supernet_of_an_experiment_exports_a_subnet_per_deployment_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nasforge.cli.main import main
    from nasforge.config import build_experiment, load_preset
    from nasforge.experiment.specialise import specialise_export
    from nasforge.oneshot.strategy import CHECKPOINT_FILE

    torch.set_num_threads(1)
    cfg = load_preset("digits")
    cfg["name"] = "ofa-digits"
    cfg["strategy"] = {"name": "ofa", "epochs": 1, "population": 4, "generations": 2, "eval_size": 200}
    cfg["evaluator"] = {"epochs": 1}
    cfg["storage"] = str(tmp_path / "nas.db")
    exp = build_experiment(cfg)
    exp.run(max_trials=1)
    checkpoint = exp.checkpoint_dir / CHECKPOINT_FILE
    before = checkpoint.read_bytes()
    supernet = OFA().load_supernet(exp.space, checkpoint)
    smallest = sum(p.numel() for p in exp.space.freeze(supernet.extreme(largest=False)).parameters())

    folder, metrics = specialise_export(exp, f"params <= {smallest}", tmp_path / "small", epochs=0)
    assert metrics["params"] == smallest and 0 <= metrics["test_acc"] <= 1 and metrics["fine_tune_epochs"] == 0
    assert (folder / "weights.pt").is_file()
    code = main(["export", "ofa-digits", "--storage", cfg["storage"], "--path", str(tmp_path / "big"),
                 "--target", f"params <= {4 * smallest}", "--target", "flops <= 1e9", "--epochs", "1"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "test accuracy of the subnet fine-tuned 1 epoch(s): " in out
    assert (tmp_path / "big" / "weights.pt").is_file()
    assert checkpoint.read_bytes() == before  # one supernet served both targets, untrained
    with pytest.raises(ConfigError, match="bounds params, flops, latency_ms from above"):
        specialise_export(exp, "val_acc >= 0.9", tmp_path / "bad")
    assert (
        main(["export", "ofa-digits", "--storage", cfg["storage"], "--target", "params <= 1e9", "--ensemble", "2"]) == 2
    )
    assert "drop --ensemble" in capsys.readouterr().err
