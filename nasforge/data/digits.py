"""The UCI handwritten digits bundled with scikit-learn: 1,797 images of 8 x 8 pixels, ten classes.

Small enough that a whole search runs in seconds on a CPU, which makes it the dataset of tests and
tutorials. Needs the `sklearn` extra.
"""

from __future__ import annotations

import numpy as np
import torch

from nasforge.data.base import ArrayData, BaseDataset, DataSplits, cached_load, image_preprocessing
from nasforge.data.split import check_optional_size, check_seed, check_size, resolve_size, stratified_split
from nasforge.errors import DataError

__all__ = ["Digits"]

# Pixel statistics of all 1,797 images (values 0..16); fixed so that every split is scaled the same.
MEAN = 4.8842
STD = 6.0168
CLASSES = tuple(str(d) for d in range(10))


class Digits(BaseDataset):
    """scikit-learn's digits as (N, 1, 8, 8) float32 images with roughly zero mean and unit variance.

    `test_size` samples are held out first (None for no test set), then `valid_size` of the rest;
    both splits are stratified by class and fixed by `seed`.

    >>> splits = Digits(seed=0).load()
    >>> splits.input_shape, splits.num_classes
    ((1, 8, 8), 10)
    """

    name = "digits"

    def __init__(
        self,
        valid_size: int | float = 0.2,
        test_size: int | float | None = 0.2,
        seed: int = 0,
    ) -> None:
        self.valid_size = check_size(valid_size, "valid_size", "Digits")
        self.test_size = check_optional_size(test_size, "test_size", "Digits")
        self.seed = check_seed(seed, "Digits")

    def __repr__(self) -> str:
        return f"Digits(valid_size={self.valid_size!r}, test_size={self.test_size!r}, seed={self.seed})"

    def load(self) -> DataSplits:
        key = ("digits", self.valid_size, self.test_size, self.seed)
        return cached_load(key, self._build)

    def _build(self) -> DataSplits:
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:
            raise DataError(
                "The Digits dataset needs scikit-learn, which is not installed. "
                "Install it with: pip install 'nasforge[sklearn]'."
            ) from exc
        bunch = load_digits()
        images = np.asarray(bunch.images, dtype=np.float32)[:, None]
        x = torch.from_numpy((images - np.float32(MEAN)) / np.float32(STD))
        labels = np.asarray(bunch.target, dtype=np.int64)
        everything = ArrayData(x, torch.from_numpy(labels))
        rng = np.random.default_rng(self.seed)

        test: ArrayData | None = None
        rest = np.arange(len(labels))
        if self.test_size is not None:
            n_test = resolve_size(self.test_size, len(labels), "test_size", "Digits")
            keep, held = stratified_split(labels, n_test, rng)
            test, rest = everything.subset(held), keep
        n_valid = resolve_size(self.valid_size, len(rest), "valid_size", "Digits")
        keep, held = stratified_split(labels[rest], n_valid, rng)
        return DataSplits(
            train=everything.subset(rest[keep]),
            valid=everything.subset(rest[held]),
            test=test,
            num_classes=10,
            input_shape=(1, 8, 8),
            name=self.name,
            info={"preprocessing": image_preprocessing((1, 8, 8), 16, 1.0 / STD, MEAN / STD, CLASSES)},
        )
