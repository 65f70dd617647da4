"""What every dataset hands to the rest of nasforge: tensors in memory, split three ways.

A `BaseDataset` is a small, picklable *description* (paths, split sizes, seed); `load()` turns it into a
`DataSplits` of normalised tensors. Worker processes receive the description and call `load()` once per
trial, so `load()` goes through a per-process cache (`cached_load`) keyed by the dataset's configuration.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.errors import DataError

__all__ = ["ArrayData", "BaseDataset", "DataSplits", "cached_load", "clear_cache"]


@dataclass(frozen=True, eq=False)
class ArrayData:
    """Samples held in memory: `x` (float32, normalised) and `y` (int64 class labels).

    Loaded data is cached and shared within a process: treat the tensors as read-only.

    >>> part = ArrayData(torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]))
    >>> len(part.subset(np.array([0, 2])))
    2
    """

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.x, torch.Tensor) or not isinstance(self.y, torch.Tensor):
            raise DataError(
                "ArrayData needs torch tensors for `x` and `y`, but got "
                f"{type(self.x).__name__} and {type(self.y).__name__}. Convert with torch.as_tensor()."
            )
        if self.x.dtype != torch.float32 or self.x.dim() < 2:
            raise DataError(
                "ArrayData `x` must be a float32 tensor of shape (N, ...) with at least 2 dimensions, "
                f"but got dtype {self.x.dtype} and shape {tuple(self.x.shape)}."
            )
        if self.y.dtype != torch.int64 or self.y.dim() != 1:
            raise DataError(
                "ArrayData `y` must be an int64 tensor of shape (N,), "
                f"but got dtype {self.y.dtype} and shape {tuple(self.y.shape)}."
            )
        if len(self.x) != len(self.y):
            raise DataError(
                f"ArrayData `x` and `y` must hold the same number of samples, but got {len(self.x)} and {len(self.y)}."
            )

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"ArrayData(n={len(self)}, sample_shape={tuple(self.x.shape[1:])})"

    def subset(self, idx: torch.Tensor | np.ndarray) -> ArrayData:
        """Return the samples at `idx` (integer indices or a boolean mask), as a copy."""
        index = torch.from_numpy(np.asarray(idx)) if isinstance(idx, np.ndarray) else idx
        if index.dtype != torch.bool:
            index = index.long()
        return ArrayData(self.x[index], self.y[index])


@dataclass(frozen=True, eq=False)
class DataSplits:
    """A dataset split for search: `train` fits candidates, `valid` ranks them, `test` is for the end.

    `valid` is carved out of the original training set, so the test set stays unseen during the search;
    `train_full()` puts train and valid back together for retraining the chosen model.

    `info` holds what a space or a deployed model needs to know about the data beyond its shape: a space
    built from a config receives every entry whose key names one of its arguments (e.g. `vocab_size` for a
    text space), and `info["preprocessing"]` (JSON: a tokenizer's vocabulary, feature scaling) is written
    beside an exported model as `preprocessing.json`, since the model alone cannot read raw input.
    `info["sample_groups"]`, where the data has them, names who each sample comes from: `{"by": "voice",
    "train": [one name per sample], "valid": [...], "test": [...]}` (a speaker, a movie, a user's column),
    which a federated split (`nasforge.federated`) follows.
    """

    train: ArrayData
    valid: ArrayData
    test: ArrayData | None
    num_classes: int
    input_shape: tuple[int, ...]
    name: str
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise DataError(f"DataSplits {self.name!r} needs num_classes >= 1, but got {self.num_classes}.")
        parts = {"train": self.train, "valid": self.valid, "test": self.test}
        for part_name, part in parts.items():
            if part is None:
                continue
            shape = tuple(part.x.shape[1:])
            if shape != tuple(self.input_shape):
                raise DataError(
                    f"DataSplits {self.name!r}: every part must have samples of shape {self.input_shape}, "
                    f"but {part_name} has {shape}."
                )
            if len(part) and (int(part.y.min()) < 0 or int(part.y.max()) >= self.num_classes):
                raise DataError(
                    f"DataSplits {self.name!r}: labels must lie in 0..{self.num_classes - 1}, but "
                    f"{part_name} has labels in {int(part.y.min())}..{int(part.y.max())}."
                )

    def __repr__(self) -> str:
        test = len(self.test) if self.test is not None else None
        return (
            f"DataSplits(name={self.name!r}, train={len(self.train)}, valid={len(self.valid)}, "
            f"test={test}, num_classes={self.num_classes}, input_shape={self.input_shape})"
        )

    def train_full(self) -> ArrayData:
        """Train and valid concatenated, for retraining the final model on all labelled data."""
        return ArrayData(
            torch.cat([self.train.x, self.valid.x]),
            torch.cat([self.train.y, self.valid.y]),
        )


class BaseDataset(ABC):
    """A lazy, picklable description of a dataset: constructors validate and store, `load()` reads.

    Implementations route `load()` through `cached_load(key, build)` so that repeated calls in one
    process (one per trial in a worker) return the same `DataSplits` without reading files again.
    """

    name: str

    @abstractmethod
    def load(self) -> DataSplits:
        """Read, normalise and split the data; cached per process."""

    def load_refitted(self) -> DataSplits:
        """The same split with its fitted preprocessing (a tokenizer's vocabulary, a table's encoding) fitted
        on train + valid instead of train alone: what the chosen model is retrained on at the end, as a
        scikit-learn search refits its whole pipeline. Every part is encoded again with it, so `info` (and
        for a table, `input_shape`) may differ from `load()`'s. Datasets without fitted preprocessing return
        `load()`."""
        return self.load()


def image_preprocessing(
    shape: Sequence[int], pixel_max: float, scale: float, shift: float, classes: Sequence[str]
) -> dict[str, Any]:
    """`info["preprocessing"]` of images stored as raw pixels in 0..`pixel_max` and fed as `x * scale - shift`
    (float32): what an exported model needs to read raw images (`nasforge.export.inputs.ImageInputs`)."""
    return {
        "kind": "image",
        "input": f"float32 (N, {', '.join(map(str, shape))}): raw pixels (0..{pixel_max:g}) * scale - shift",
        "shape": list(shape),
        "pixel_max": pixel_max,
        "scale": scale,
        "shift": shift,
        "classes": list(classes),
    }


# Loaded splits can be hundreds of megabytes, so only the most recently used few stay alive.
_CACHE_SIZE = 4
_cache: OrderedDict[Hashable, DataSplits] = OrderedDict()
# Held while building, so threads asking for the same dataset wait for one load instead of racing.
_lock = threading.RLock()


def cached_load(key: Hashable, build: Callable[[], DataSplits]) -> DataSplits:
    """Return the splits cached under `key` in this process, calling `build()` on a miss."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        splits = build()
        _cache[key] = splits
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return splits


def clear_cache() -> None:
    """Forget every loaded dataset in this process (frees memory; the next `load()` reads again)."""
    with _lock:
        _cache.clear()


def cache_root() -> Path:
    """Where nasforge keeps what it generates (spoken digits, latencies, word vectors): `$NASFORGE_CACHE`,
    else `~/.cache/nasforge`."""
    root = os.environ.get("NASFORGE_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "nasforge"
