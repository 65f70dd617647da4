"""How a pool of labelled samples is dealt out to a federation's clients: by who the samples come from (the
natural split: speakers, movies, a user's column), by a Dirichlet(alpha) draw over classes (controlled
non-IID-ness), or uniformly at random (the IID reference).

A partitioner only computes indices; it never moves samples. Each client process calls it with the same
seed and takes its own part, so every client agrees on the split without any data being exchanged.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import numpy as np

from nasforge.errors import ConfigError, DataError

__all__ = ["BasePartitioner", "DirichletPartitioner", "GroupPartitioner", "IIDPartitioner", "check_num_clients"]


def check_num_clients(value: object, owner: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2:
        return value
    raise ConfigError(f"`num_clients` of {owner} must be an int >= 2, but got {value!r}.")


class BasePartitioner(abc.ABC):
    """Deals sample indices `0..len(labels)-1` out to clients: a list of sorted, disjoint index arrays, one
    per client, together covering every sample. Subclasses implement `_partition`."""

    #: whether the partitioner needs each sample's group (`DataSplits.info["sample_groups"]`)
    needs_groups: bool = False

    def partition(
        self, labels: np.ndarray, groups: Sequence[str] | None, num_clients: int | None, seed: int
    ) -> list[np.ndarray]:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) == 0:
            raise DataError(
                f"{type(self).__name__} needs a non-empty 1-D array of labels, but got shape {labels.shape}."
            )
        if self.needs_groups and groups is None:
            raise DataError(
                f"{type(self).__name__} deals out whole groups, but the dataset names no group per sample "
                "(`info['sample_groups']`); use a dataset that has them (spoken_digits: voices; a text CSV with "
                "`group_column`) or partition='dirichlet'."
            )
        if groups is not None and len(groups) != len(labels):
            raise DataError(
                f"{len(groups)} groups were given for {len(labels)} samples; one group per sample is needed."
            )
        parts = self._partition(labels, groups, num_clients, np.random.default_rng(seed))
        empty = [i for i, p in enumerate(parts) if len(p) == 0]
        if empty:
            raise DataError(
                f"{type(self).__name__} left client(s) {empty} without samples ({len(labels)} samples, "
                f"{len(parts)} clients); use fewer clients."
            )
        return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]

    @abc.abstractmethod
    def _partition(
        self, labels: np.ndarray, groups: Sequence[str] | None, num_clients: int | None, rng: np.random.Generator
    ) -> list[np.ndarray]: ...

    def describe(self) -> dict[str, object]:
        """The settings that decide the split, JSON-ready (an evaluator's `task`)."""
        return {"partition": type(self).__name__}


class IIDPartitioner(BasePartitioner):
    """Uniformly random parts of (nearly) equal size: the reference against which non-IID splits are read."""

    def _partition(
        self, labels: np.ndarray, groups: Sequence[str] | None, num_clients: int | None, rng: np.random.Generator
    ) -> list[np.ndarray]:
        n = check_num_clients(num_clients, "IIDPartitioner")
        return list(np.array_split(rng.permutation(len(labels)), n))


class DirichletPartitioner(BasePartitioner):
    """Each class is spread over the clients in proportions drawn from Dirichlet(`alpha`) (Hsu et al. 2019):
    a small alpha (0.1) gives each client a few classes, a large one (100) nearly the IID split. Draws are
    repeated until every client holds at least `min_size` samples.

    >>> parts = DirichletPartitioner(alpha=0.5).partition(np.repeat(np.arange(4), 50), None, 4, seed=0)
    >>> sum(len(p) for p in parts)
    200
    """

    def __init__(self, alpha: float = 0.5, min_size: int = 10, max_draws: int = 1000) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < math.inf:
            raise ConfigError(f"`alpha` of DirichletPartitioner must be a number > 0 (e.g. 0.5), but got {alpha!r}.")
        if not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < 1:
            raise ConfigError(f"`min_size` of DirichletPartitioner must be an int >= 1, but got {min_size!r}.")
        self.alpha = float(alpha)
        self.min_size = min_size
        self.max_draws = max_draws

    def _partition(
        self, labels: np.ndarray, groups: Sequence[str] | None, num_clients: int | None, rng: np.random.Generator
    ) -> list[np.ndarray]:
        n = check_num_clients(num_clients, "DirichletPartitioner")
        if n * self.min_size > len(labels):
            raise DataError(
                f"DirichletPartitioner cannot give {n} clients {self.min_size} samples each from {len(labels)} "
                "samples; use fewer clients or a smaller `min_size`."
            )
        classes = np.unique(labels)
        for _ in range(self.max_draws):
            parts: list[list[np.ndarray]] = [[] for _ in range(n)]
            for c in classes:
                idx = rng.permutation(np.flatnonzero(labels == c))
                share = rng.dirichlet(np.full(n, self.alpha))
                cuts = (np.cumsum(share)[:-1] * len(idx)).astype(np.int64)
                for client, piece in enumerate(np.split(idx, cuts)):
                    parts[client].append(piece)
            out = [np.concatenate(p) for p in parts]
            if min(len(p) for p in out) >= self.min_size:
                return out
        raise DataError(
            f"DirichletPartitioner(alpha={self.alpha}) drew no split giving each of {n} clients {self.min_size} "
            f"samples in {self.max_draws} tries; use a larger `alpha` or fewer clients."
        )

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "alpha": self.alpha, "min_size": self.min_size}


class GroupPartitioner(BasePartitioner):
    """Whole groups per client, the natural federated split: each speaker's, movie's or user's samples stay
    on one client. With `num_clients` None each group is a client; otherwise the groups, in random order,
    go each to the client holding the fewest samples so far, so clients hold about equal numbers."""

    needs_groups = True

    def _partition(
        self, labels: np.ndarray, groups: Sequence[str] | None, num_clients: int | None, rng: np.random.Generator
    ) -> list[np.ndarray]:
        names, inverse = np.unique(np.asarray(list(groups or ()), dtype=str), return_inverse=True)
        n = len(names) if num_clients is None else check_num_clients(num_clients, "GroupPartitioner")
        if n > len(names):
            raise DataError(
                f"GroupPartitioner cannot make {n} clients from {len(names)} groups (each group stays on one "
                f"client); use at most {len(names)} clients."
            )
        members = [np.flatnonzero(inverse == g) for g in range(len(names))]
        parts: list[list[np.ndarray]] = [[] for _ in range(n)]
        sizes = np.zeros(n, dtype=np.int64)
        for g in rng.permutation(len(names)):
            client = int(np.argmin(sizes))
            parts[client].append(members[g])
            sizes[client] += len(members[g])
        return [np.concatenate(p) for p in parts]
