"""Deterministic, stratified hold-out splits, and the checks on the `valid_size` / `seed` arguments."""

from __future__ import annotations

import numpy as np

from nasforge.errors import ConfigError

__all__ = ["check_optional_size", "check_seed", "check_size", "resolve_size", "stratified_split"]


def check_size(value: object, arg: str, owner: str) -> int | float:
    """Validate a hold-out size: an int count >= 1 or a float fraction in (0, 1)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if value >= 1:
            return int(value)
    elif isinstance(value, (float, np.floating)) and 0.0 < value < 1.0:
        return float(value)
    raise ConfigError(
        f"`{arg}` of {owner} must be an int count >= 1 or a float fraction in (0, 1), "
        f"but got {value!r}. Pass e.g. {arg}=0.2 for a fifth of the samples."
    )


def check_optional_size(value: object, arg: str, owner: str) -> int | float | None:
    """Like `check_size`, but None (no split at all) is allowed too."""
    if value is None:
        return None
    try:
        return check_size(value, arg, owner)
    except ConfigError as exc:
        raise ConfigError(f"{exc} None means no {arg.removesuffix('_size')} split.") from None


def check_seed(value: object, owner: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise ConfigError(f"`seed` of {owner} must be an int, but got {value!r}.")


def resolve_size(size: int | float, n: int, arg: str, owner: str) -> int:
    """Turn a count or fraction into a count that leaves at least one sample on each side."""
    count = round(size * n) if isinstance(size, float) else size
    count = max(count, 1)
    if count >= n:
        raise ConfigError(
            f"`{arg}` of {owner} must leave at least one of the {n} samples on the other side, but "
            f"{arg}={size!r} asks for {count}. Pass a smaller count or a fraction such as 0.2."
        )
    return count


def stratified_split(y: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split indices `0..len(y)-1` into (kept, held out), with `size` held out and classes in proportion.

    Each class gives up `size * count / n` samples, rounded by largest remainder so the total is exact;
    which samples go is random. Both index arrays come back sorted, keeping the original order.
    """
    n = len(y)
    if not 0 < size < n:
        raise ValueError(f"size must be in 1..{n - 1}, got {size}")
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = counts * (size / n)
    quota = np.floor(exact).astype(np.int64)
    short = size - int(quota.sum())
    if short > 0:
        # Largest remainders first; stable sort breaks ties by class order, so the result is deterministic.
        order = np.argsort(-(exact - quota), kind="stable")
        quota[order[:short]] += 1
    # Shuffle, then group by class keeping the shuffled order inside each class.
    perm = rng.permutation(n)
    grouped = perm[np.argsort(inverse[perm], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    held = np.concatenate([grouped[s : s + q] for s, q in zip(starts, quota)])
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
