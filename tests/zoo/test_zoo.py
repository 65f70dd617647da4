"""Every registered zoo space: it builds, samples, freezes and runs forward on the inputs it claims."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from nasforge.errors import SpaceError
from nasforge.zoo import SPACES, SmallImageCNN


# spaces of classifiers; `seq2seq` maps sentences to sentences (tests/zoo/test_seq2seq_space.py)
@pytest.mark.parametrize("name", [n for n in SPACES.names() if n != "seq2seq"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_random_archs_build_and_run(name: str, shape: tuple[int, ...]) -> None:
    params = inspect.signature(SPACES.get(name)).parameters
    kwargs = {"input_shape": shape, "num_classes": 7} if "input_shape" in params else {}
    space = SPACES.create(name, **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(3):
        net = space.freeze(space.random(rng)).eval()
        with torch.no_grad():
            assert net(torch.randn(2, *shape)).shape == (2, 7)


def test_cnn_has_the_decisions_the_main_job_searches() -> None:
    labels = SmallImageCNN().labels
    for label in (
        "learning_rate",
        "batch_size",
        "weight_decay",
        "stem_width",
        "stage1/downsample",
        "stage0/blocks",
        "stage0/blocks/0/op",
        "stage0/blocks/0/kernel",
        "stage0/blocks/0/width",
        "stage0/blocks/0/residual",
        "stage0/blocks/0/expand",
        "dropout",
    ):
        assert label in labels
    assert SmallImageCNN().decision("stage0/blocks/0/expand").conditional


def test_cnn_arguments_are_validated() -> None:
    with pytest.raises(SpaceError, match="ops"):
        SmallImageCNN(ops=("conv", "lstm"))
    with pytest.raises(SpaceError, match="widths"):
        SmallImageCNN(widths=())
