"""A one-shot search stopped after any epoch and continued from its checkpoint ends where an uninterrupted
search ends: the same arch, the same architecture weights, the same history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nasforge.data import ArrayData
from nasforge.errors import StorageError
from nasforge.oneshot import DARTS, DARTSPT, ENAS, GDAS, SPOS, BaseOneShot, BetaDARTS, DrNAS, FedNAS
from nasforge.zoo.nb201 import NB201Space

SMALL: dict[str, Any] = {"epochs": 3, "batch_size": 8, "device": "cpu"}
METHODS: dict[str, Any] = {
    "darts": lambda: DARTS(arch_learning_rate=0.05, **SMALL),
    "darts2": lambda: DARTS(order=2, arch_learning_rate=0.05, **SMALL),
    "beta_darts": lambda: BetaDARTS(arch_learning_rate=0.05, **SMALL),
    "drnas": lambda: DrNAS(arch_learning_rate=0.05, augment="crop_flip", **SMALL),
    "gdas": lambda: GDAS(arch_learning_rate=0.05, **SMALL),
    "darts_pt": lambda: DARTSPT(eval_size=16, **SMALL),
    "spos": lambda: SPOS(population=4, generations=2, eval_size=16, **SMALL),
    "enas": lambda: ENAS(policy_steps=3, **SMALL),
    "fednas": lambda: FedNAS(rounds=3, batch_size=8, arch_learning_rate=0.05),  # central: pooled data
}


def tiny() -> tuple[NB201Space, ArrayData]:
    gen = torch.Generator().manual_seed(0)
    data = ArrayData(torch.randn(32, 1, 8, 8, generator=gen), torch.randint(0, 10, (32,), generator=gen))
    return NB201Space(C=2, N=1, input_shape=(1, 8, 8)), data


@pytest.mark.parametrize("name", sorted(METHODS))
def test_stopped_and_resumed_search_equals_uninterrupted(name: str, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    space, data = tiny()
    whole = METHODS[name]().search(space, data, data, checkpoint=tmp_path / "whole.pt")
    assert whole is not None

    path = tmp_path / "parts.pt"
    seen: list[int] = []
    first = METHODS[name]().search(
        space, data, data, checkpoint=path, on_epoch=lambda e, m: seen.append(e), should_stop=lambda: True
    )
    assert first is None and seen == [1] and path.exists()
    second = METHODS[name]().search(space, data, data, checkpoint=path, on_epoch=lambda e, m: seen.append(e))
    assert second is not None and seen == [1, 2, 3]  # epoch 1 was not run again

    assert second.arch == whole.arch
    assert second.probabilities == whole.probabilities
    assert second.info == whole.info
    drop = {"epoch", "train_loss", "valid_acc", "mean_reward"}
    assert [{k: v for k, v in h.items() if k in drop} for h in second.history] == [
        {k: v for k, v in h.items() if k in drop} for h in whole.history
    ]


def test_a_checkpoint_of_other_settings_is_refused(tmp_path: Path) -> None:
    space, data = tiny()
    path = tmp_path / "ckpt.pt"
    DARTS(**SMALL).search(space, data, data, checkpoint=path, should_stop=lambda: True)
    with pytest.raises(StorageError, match="another search"):
        DARTS(**{**SMALL, "learning_rate": 0.1}).search(space, data, data, checkpoint=path)
    with pytest.raises(StorageError, match="another search"):
        DrNAS(**SMALL).search(space, data, data, checkpoint=path)


def test_a_damaged_checkpoint_says_what_to_do(tmp_path: Path) -> None:
    space, data = tiny()
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(StorageError, match="delete it"):
        DARTS(**SMALL).search(space, data, data, checkpoint=path)
    torch.save({"something": 1}, path)
    with pytest.raises(StorageError, match="not a nasforge one-shot checkpoint"):
        DARTS(**SMALL).search(space, data, data, checkpoint=path)


def test_checkpoints_load_without_unpickling_code(tmp_path: Path) -> None:
    space, data = tiny()
    path = tmp_path / "ckpt.pt"
    DrNAS(**SMALL).search(space, data, data, checkpoint=path)
    payload = torch.load(path, weights_only=True)  # raises on anything but tensors and plain containers
    assert payload["format"] == 1 and "supernet" in payload


def test_fixed_defaults_pins_what_the_supernet_cannot_express() -> None:
    from nasforge.zoo import SmallImageCNN

    space = SmallImageCNN(input_shape=(1, 8, 8), ops=["conv", "sep"])
    gen = torch.Generator().manual_seed(0)
    data = ArrayData(torch.randn(16, 1, 8, 8, generator=gen), torch.randint(0, 10, (16,), generator=gen))
    result = DrNAS(epochs=1, batch_size=8, fixed="defaults", device="cpu").search(space, data, data)
    assert result is not None
    assert result.pinned["stem_width"] == 16 and result.pinned["stage0/blocks"] == 1
    assert result.arch["stage0/blocks/0/op"] in ("conv", "sep")  # searched
    assert all(result.arch[label] == value for label, value in result.pinned.items())
    assert space.validate(result.arch) == result.arch


def test_bad_fixed_and_device_are_config_errors() -> None:
    from nasforge.errors import ConfigError

    with pytest.raises(ConfigError, match="`fixed` of DARTS"):
        DARTS(fixed="largest")
    with pytest.raises(ConfigError, match="`device` of SPOS"):
        SPOS(device="gpu0")


def test_every_method_is_a_base_one_shot() -> None:
    assert all(isinstance(make(), BaseOneShot) for make in METHODS.values())


def test_augment_batch_crops_and_flips_per_sample() -> None:
    from nasforge.oneshot.base import augment_batch

    x = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4).repeat(64, 1, 1, 1)
    gen = torch.Generator().manual_seed(0)
    flipped = augment_batch(x, "flip", gen)
    same = (flipped == x).flatten(1).all(1)
    assert 0 < int(same.sum()) < len(x)  # some samples flipped, some not
    assert torch.equal(flipped[~same], x[~same].flip(-1))
    cropped = augment_batch(x, "crop", gen)
    assert cropped.shape == x.shape and not torch.equal(cropped, x)
    assert set(cropped.unique().tolist()) <= set(x.unique().tolist()) | {0.0}  # shifted values and padding
    vectors = torch.randn(8, 5)
    assert augment_batch(vectors, "crop_flip", gen) is vectors
