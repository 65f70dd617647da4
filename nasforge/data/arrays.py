"""Checks and conversions shared by the datasets built from the user's arrays: validate features and
labels, map labels to 0..K-1, hold out a stratified validation part and normalise with training statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nasforge.data.base import ArrayData, DataSplits
from nasforge.data.split import resolve_size, stratified_split
from nasforge.errors import ConfigError, NasforgeError

__all__ = ["build_splits", "check_features", "check_flag", "check_labels", "check_name", "encode_labels"]


def check_features(x: Any, arg: str, owner: str, error: type[NasforgeError]) -> np.ndarray:
    """Return `x` as a numeric numpy array of shape (N, ...) with finite values, or raise `error`."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise error(f"`{arg}` of {owner} must be an array or tensor, but cannot be read as one: {exc}") from exc
    if x.dtype.kind not in "biuf":
        raise error(f"`{arg}` of {owner} must hold real numbers, but has dtype {x.dtype}.")
    if x.ndim < 2:
        raise error(
            f"`{arg}` of {owner} must have shape (N, features), (N, H, W) or (N, C, ...), but has shape "
            f"{x.shape}. For one feature per sample, pass x.reshape(-1, 1)."
        )
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise error(f"`{arg}` of {owner} must hold finite values, but has {bad} NaN or infinite entries.")
    return x


def check_labels(y: Any, n: int, arg: str, owner: str, error: type[NasforgeError]) -> np.ndarray:
    """Return `y` as a 1-D integer numpy array of length `n`, or raise `error`."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1:
        raise error(
            f"`{arg}` of {owner} must be a 1-D array of class labels, but has shape {y.shape}. "
            "For one-hot labels pass y.argmax(1); for a column pass y.ravel()."
        )
    if len(y) != n:
        raise error(f"`{arg}` of {owner} must hold one label per sample ({n}), but holds {len(y)}.")
    if y.dtype.kind == "f":
        fractional = ~np.isfinite(y) | (y != np.round(y))
        if fractional.any():
            i = int(np.argmax(fractional))
            raise error(
                f"`{arg}` of {owner} must hold integer class labels, but entry {i} is {y[i].item()!r}. "
                "nasforge classifies; bin continuous targets into classes first."
            )
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise error(f"`{arg}` of {owner} must hold integer class labels, but has dtype {y.dtype}.")
    return y


def encode_labels(
    y: np.ndarray, classes: tuple[Any, ...], arg: str, owner: str, error: type[NasforgeError]
) -> np.ndarray:
    """Map labels to their index in the sorted `classes`; raise `error` for a label not among them."""
    known = np.asarray(classes)
    codes = np.searchsorted(known, y)
    unknown = (codes >= len(known)) | (known[np.minimum(codes, len(known) - 1)] != y)
    if unknown.any():
        extra = sorted({v.item() for v in y[unknown]})
        raise error(
            f"`{arg}` of {owner} has labels {extra[:10]} that the training labels {list(classes)[:20]} "
            "lack; every class must have training samples."
        )
    return codes.astype(np.int64)


def build_splits(
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray | None,
    y_test: np.ndarray | None,
    classes: tuple[Any, ...],
    *,
    valid_size: int | float,
    seed: int,
    name: str,
    normalize: bool,
) -> DataSplits:
    """Hold out a stratified validation part, normalise with training statistics, wrap in tensors."""
    codes = encode_labels(y, classes, "y", name, ConfigError)
    n_valid = resolve_size(valid_size, len(codes), "valid_size", f"dataset {name!r}")
    keep, held = stratified_split(codes, n_valid, np.random.default_rng(seed))
    features = _as_tensor(x)
    test = None
    if x_test is not None and y_test is not None:
        test_codes = encode_labels(y_test, classes, "y_test", name, ConfigError)
        test = ArrayData(_as_tensor(x_test), torch.from_numpy(test_codes))
    everything = ArrayData(features, torch.from_numpy(codes))
    train, valid = everything.subset(keep), everything.subset(held)
    if normalize:
        dims = [0, *range(2, train.x.dim())]  # every axis but the channel (feature) axis
        std, mean = torch.std_mean(train.x, dim=dims, correction=0, keepdim=True)
        std = torch.where(std > 1e-8, std, torch.ones_like(std))  # constant channels stay constant

        def scale(part: ArrayData) -> ArrayData:
            return ArrayData((part.x - mean) / std, part.y)

        train, valid = scale(train), scale(valid)
        test = scale(test) if test is not None else None
    return DataSplits(
        train=train,
        valid=valid,
        test=test,
        num_classes=len(classes),
        input_shape=tuple(train.x.shape[1:]),
        name=name,
    )


def _as_tensor(x: np.ndarray) -> torch.Tensor:
    if x.ndim == 3:  # (N, H, W): one-channel images
        x = x[:, None]
    return torch.from_numpy(np.array(x, dtype=np.float32, order="C"))


def check_name(name: object, owner: str) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"`name` of {owner} must be a non-empty string, but got {name!r}.")
    return name


def check_flag(value: object, arg: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"`{arg}` of {owner} must be True or False, but got {value!r}.")
    return value
