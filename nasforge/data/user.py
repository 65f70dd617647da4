"""The user's own data: numpy arrays or tensors (`ArrayDataset`), or a map-style torch `Dataset`
(`TorchDataset`), validated, relabelled to 0..K-1, split and optionally normalised.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import torch

from nasforge.data.arrays import (
    build_splits,
    check_features,
    check_flag,
    check_labels,
    check_name,
    encode_labels,
)
from nasforge.data.base import BaseDataset, DataSplits, cached_load
from nasforge.data.split import check_seed, check_size
from nasforge.errors import ConfigError, DataError

__all__ = ["ArrayDataset", "TorchDataset"]


class ArrayDataset(BaseDataset):
    """Your own samples as numpy arrays or torch tensors.

    `x` is (N, F) for vectors, (N, H, W) for one-channel images (a channel axis is added) or
    (N, C, ...) otherwise; `y` holds N integer labels, mapped to 0..K-1 in sorted order (the original
    labels stay in `classes`). `valid_size` of the samples are held out, stratified, for the search
    signal. With `normalize`, each channel (each feature for vectors) is standardised with statistics
    of the training part only.

    >>> data = ArrayDataset(np.random.rand(100, 4), np.arange(100) % 3 + 1).load()
    >>> data.num_classes, data.input_shape, len(data.valid)
    (3, (4,), 20)
    """

    def __init__(
        self,
        x: Any,
        y: Any,
        *,
        x_test: Any = None,
        y_test: Any = None,
        valid_size: int | float = 0.2,
        seed: int = 0,
        name: str = "arrays",
        normalize: bool = True,
    ) -> None:
        owner = "ArrayDataset"
        self.name = check_name(name, owner)
        self.x = check_features(x, "x", owner, ConfigError)
        self.y = check_labels(y, len(self.x), "y", owner, ConfigError)
        self.classes: tuple[Any, ...] = tuple(v.item() for v in np.unique(self.y))
        if len(self.classes) < 2:
            raise ConfigError(
                f"`y` of {owner} must hold at least 2 distinct labels to classify, but holds only {list(self.classes)}."
            )
        if (x_test is None) != (y_test is None):
            raise ConfigError(f"{owner} needs both `x_test` and `y_test`, or neither; only one was given.")
        self.x_test: np.ndarray | None = None
        self.y_test: np.ndarray | None = None
        if x_test is not None:
            self.x_test = check_features(x_test, "x_test", owner, ConfigError)
            if self.x_test.shape[1:] != self.x.shape[1:]:
                raise ConfigError(
                    f"`x_test` of {owner} must have samples of the same shape as `x`, "
                    f"{self.x.shape[1:]}, but has {self.x_test.shape[1:]}."
                )
            self.y_test = check_labels(y_test, len(self.x_test), "y_test", owner, ConfigError)
            encode_labels(self.y_test, self.classes, "y_test", owner, ConfigError)
        self.valid_size = check_size(valid_size, "valid_size", owner)
        self.seed = check_seed(seed, owner)
        self.normalize = check_flag(normalize, "normalize", owner)
        # Identifies these arrays in the per-process cache, and survives pickling to worker processes.
        self._token = uuid.uuid4().hex

    def __repr__(self) -> str:
        test = None if self.x_test is None else len(self.x_test)
        return (
            f"ArrayDataset(name={self.name!r}, n={len(self.x)}, sample_shape={self.x.shape[1:]}, "
            f"test={test}, valid_size={self.valid_size!r}, seed={self.seed}, normalize={self.normalize})"
        )

    def load(self) -> DataSplits:
        key = ("arrays", self._token, self.valid_size, self.seed, self.normalize)
        return cached_load(
            key,
            lambda: build_splits(
                self.x,
                self.y,
                self.x_test,
                self.y_test,
                self.classes,
                valid_size=self.valid_size,
                seed=self.seed,
                name=self.name,
                normalize=self.normalize,
            ),
        )


class TorchDataset(BaseDataset):
    """A map-style `torch.utils.data.Dataset` of `(tensor, int label)` pairs, read into memory at load.

    Every item is read once, so random transforms (augmentation) are frozen: pass datasets with
    deterministic transforms. Labels are mapped to 0..K-1 as in `ArrayDataset`; `normalize` is off by
    default because torchvision-style datasets normalise in their transforms.
    """

    def __init__(
        self,
        train: Any,
        test: Any = None,
        valid_size: int | float = 0.2,
        seed: int = 0,
        name: str = "torch",
        *,
        normalize: bool = False,
    ) -> None:
        owner = "TorchDataset"
        for arg, value in (("train", train), ("test", test)):
            if value is None and arg == "test":
                continue
            if not (hasattr(value, "__getitem__") and hasattr(value, "__len__")):
                raise ConfigError(
                    f"`{arg}` of {owner} must be a map-style dataset (with __len__ and __getitem__), "
                    f"but got {type(value).__name__}. For an iterable dataset, collect it into arrays "
                    "and use ArrayDataset."
                )
        self.train = train
        self.test = test
        self.valid_size = check_size(valid_size, "valid_size", owner)
        self.seed = check_seed(seed, owner)
        self.name = check_name(name, owner)
        self.normalize = check_flag(normalize, "normalize", owner)
        self._token = uuid.uuid4().hex

    def __repr__(self) -> str:
        return (
            f"TorchDataset(name={self.name!r}, train={type(self.train).__name__}, "
            f"test={type(self.test).__name__ if self.test is not None else None}, "
            f"valid_size={self.valid_size!r}, seed={self.seed}, normalize={self.normalize})"
        )

    def load(self) -> DataSplits:
        key = ("torch", self._token, self.valid_size, self.seed, self.normalize)
        return cached_load(key, self._build)

    def _build(self) -> DataSplits:
        owner = "TorchDataset"
        x, y = materialise(self.train, "train")
        x = check_features(x, "train", owner, DataError)
        y = check_labels(y, len(x), "train", owner, DataError)
        classes = tuple(v.item() for v in np.unique(y))
        x_test = y_test = None
        if self.test is not None:
            x_test, y_test = materialise(self.test, "test")
            x_test = check_features(x_test, "test", owner, DataError)
            if x_test.shape[1:] != x.shape[1:]:
                raise DataError(
                    f"`test` of {owner} must have samples of the same shape as `train`, {x.shape[1:]}, "
                    f"but has {x_test.shape[1:]}."
                )
            y_test = check_labels(y_test, len(x_test), "test", owner, DataError)
            encode_labels(y_test, classes, "test", owner, DataError)
        return build_splits(
            x,
            y,
            x_test,
            y_test,
            classes,
            valid_size=self.valid_size,
            seed=self.seed,
            name=self.name,
            normalize=self.normalize,
        )


def materialise(dataset: Any, which: str) -> tuple[np.ndarray, np.ndarray]:
    """Read every `(x, label)` item of a map-style dataset into stacked arrays."""
    n = len(dataset)
    if n == 0:
        raise DataError(f"`{which}` of TorchDataset is empty; it must hold at least 2 samples.")
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for i in range(n):
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            length = f" of length {len(item)}" if isinstance(item, (tuple, list)) else ""
            raise DataError(
                f"Item {i} of `{which}` of TorchDataset must be an (x, label) pair, but is "
                f"{type(item).__name__}{length}."
            )
        sample, label = item
        xs.append(_sample_array(sample, i, which))
        ys.append(_label_int(label, i, which))
        if xs[-1].shape != xs[0].shape:
            raise DataError(
                f"Every sample of `{which}` of TorchDataset must have the same shape, but item 0 has "
                f"{xs[0].shape} and item {i} has {xs[-1].shape}. Resize or pad in the dataset's transform."
            )
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def _sample_array(sample: Any, i: int, which: str) -> np.ndarray:
    if isinstance(sample, torch.Tensor):
        return sample.detach().cpu().numpy()
    if isinstance(sample, np.ndarray) or hasattr(sample, "__array__"):  # e.g. PIL images
        return np.asarray(sample)
    raise DataError(
        f"Item {i} of `{which}` of TorchDataset must be a (tensor, int label) pair, but its sample is "
        f"a {type(sample).__name__}. Add a transform such as torchvision's ToTensor()."
    )


def _label_int(label: Any, i: int, which: str) -> int:
    if isinstance(label, (torch.Tensor, np.ndarray)) and int(np.prod(label.shape)) == 1:
        label = label.item()  # a float or bool tensor becomes a float or bool, rejected below
    if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
        return int(label)
    raise DataError(
        f"Item {i} of `{which}` of TorchDataset must have an integer class label, but has {label!r} "
        f"({type(label).__name__})."
    )
