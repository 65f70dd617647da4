"""AudioCNN: every decision builds, runs on all-zeros input and traces; a tiny real search via a config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nasforge import config as configs
from nasforge.errors import SpaceError
from nasforge.evaluators.training import augment_batch
from nasforge.zoo import SPACES, AudioCNN

SHAPES = [(40, 63), (13, 29), (2, 8, 5)]


def every_value_archs(space: AudioCNN) -> list[dict[str, object]]:
    """A few archs that together take every value of every decision: arch j takes value j (modulo the
    domain's size) everywhere, once with each kind, with the deepest stacks so that every block exists."""
    widest = max(len(d.values) for d in space.decisions)
    archs = []
    for kind in space.decision("kind").values:
        for j in range(widest):
            arch = {d.label: d.values[j % len(d.values)] for d in space.decisions}
            arch.update({d.label: max(d.values) for d in space.decisions if d.label.endswith("/blocks")})
            arch["kind"] = kind
            archs.append(arch)
    return archs


@pytest.mark.parametrize("shape", SHAPES)
def test_every_decision_builds_runs_on_zeros_and_traces(shape: tuple[int, ...]) -> None:
    space = AudioCNN(shape, 5, depths=(1, 3), widths_1d=(8, 16), widths_2d=(4, 8))
    zeros = torch.zeros(1, *shape)
    for arch in every_value_archs(space):
        net = space.freeze(arch).eval()
        with torch.no_grad():
            out = net(zeros)
        assert out.shape == (1, 5) and torch.isfinite(out).all()
        traced = torch.jit.trace(net, zeros)
        x = torch.randn(3, *shape)
        assert torch.allclose(traced(x), net(x), atol=1e-5)


def test_both_kinds_and_their_conditional_decisions() -> None:
    space = AudioCNN()
    assert space.decision("kind").values == ("conv1d", "conv2d")
    assert space.decision("conv2d/blocks/0/width").conditional
    assert "none" not in space.decision("conv2d/blocks/0/pool").values  # 2-D always downsamples
    for label in ("learning_rate", "batch_size", "weight_decay", "optimizer", "augment", "conv1d/norm"):
        assert label in space.labels
    assert AudioCNN(kinds=("conv2d",)).decision("kind").values == ("conv2d",)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shape": (40,)}, "input_shape"),
        ({"kinds": ("lstm",)}, "kinds"),
        ({"kernels": (4,)}, "kernels"),
        ({"depths": ()}, "depths"),
        ({"widths_2d": ()}, "widths_2d"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SpaceError, match=match):
        AudioCNN(**kwargs)  # type: ignore[arg-type]


def test_specaugment_shifts_and_masks_but_keeps_shapes() -> None:
    x = torch.randn(16, 40, 63)
    out = augment_batch(x, "specaugment", torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    again = augment_batch(x, "specaugment", torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert augment_batch(torch.randn(4, 1, 8, 8), "specaugment", torch.Generator()).shape == (4, 1, 8, 8)
    assert torch.equal(augment_batch(x, "flip", torch.Generator()), x)  # flip is for images only


def test_registered() -> None:
    assert SPACES.get("audio_cnn") is AudioCNN


@pytest.mark.slow
def test_a_tiny_search_on_japanese_vowels_through_a_config(tmp_path: Path) -> None:
    cfg = {
        "name": "jv-tiny",
        "storage": str(tmp_path / "t.db"),
        "space": {"name": "audio_cnn", "depths": [1, 2], "widths_1d": [32], "widths_2d": [8]},
        "dataset": {"name": "japanese_vowels", "valid_size": 0.3},
        "strategy": {"name": "random"},
        "evaluator": {"epochs": 3},
        "executor": {"name": "sequential"},
    }
    experiment = configs.build_experiment(cfg)
    assert experiment.space.decision("kind").values == ("conv1d", "conv2d")
    experiment.run(max_trials=3)
    folder, metrics = experiment.export(str(tmp_path / "out"), epochs=5)
    assert 0.0 <= metrics["test_acc"] <= 1.0 and (folder / "preprocessing.json").is_file()
