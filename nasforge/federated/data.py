"""`FederatedData`: which samples each client of a federation holds, as a small picklable description.

Nothing here ships samples anywhere: a client process (a Flower SuperNode, or a simulated one) calls
`client(cid)` and gets its own training and validation part, read from the dataset on its side. The pool
is the dataset's labelled non-test data (train + valid); the test split stays out of every client and
only scores the final model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from nasforge.data import ArrayData, BaseDataset, DataSplits
from nasforge.errors import ConfigError, DataError
from nasforge.federated.partition import BasePartitioner, check_num_clients

__all__ = ["FederatedData", "pool_groups"]

#: the description of a split -> (the loaded splits it was computed on, the parts), in this process
_kept_parts: dict[str, tuple[DataSplits, list[tuple[np.ndarray, np.ndarray]]]] = {}


def pool_groups(splits: DataSplits) -> tuple[list[str], str] | None:
    """Each pooled (train + valid) sample's group and what groups are (`"voice"`, `"movie_name"`), from
    `info["sample_groups"]`; None when the dataset names none."""
    groups = splits.info.get("sample_groups")
    if not groups:
        return None
    names = [str(g) for g in groups.get("train", ())] + [str(g) for g in groups.get("valid", ())]
    if len(names) != len(splits.train) + len(splits.valid):
        raise DataError(
            f"Dataset {splits.name!r} names {len(names)} sample groups for {len(splits.train) + len(splits.valid)} "
            "train + valid samples; `info['sample_groups']` needs one per sample."
        )
    return names, str(groups.get("by", "group"))


class FederatedData:
    """The clients of a federation over `dataset`: its train + valid samples dealt out by `partitioner`
    into `num_clients` parts (None: one per group, for `GroupPartitioner`), each client holding out
    `client_valid` of its own samples (at random, fixed by `seed`) to score architectures.

    >>> from nasforge.data import ArrayDataset  # doctest: +SKIP
    >>> fed = FederatedData(ArrayDataset(x, y), DirichletPartitioner(0.5), num_clients=8)  # doctest: +SKIP
    >>> train, valid = fed.client(0)  # doctest: +SKIP
    """

    def __init__(
        self,
        dataset: BaseDataset,
        partitioner: BasePartitioner,
        num_clients: int | None = 10,
        client_valid: float = 0.2,
        seed: int = 0,
    ) -> None:
        if not isinstance(dataset, BaseDataset):
            raise ConfigError(
                f"`dataset` of FederatedData must be a nasforge dataset, but got {type(dataset).__name__}."
            )
        if not isinstance(partitioner, BasePartitioner):
            raise ConfigError(
                f"`partitioner` of FederatedData must be a BasePartitioner, but got {type(partitioner).__name__}."
            )
        if num_clients is not None:
            check_num_clients(num_clients, "FederatedData")
        elif not partitioner.needs_groups:
            raise ConfigError(
                f"`num_clients` of FederatedData may be None (one client per group) only with partition='groups', "
                f"but the partitioner is {type(partitioner).__name__}; give a number of clients."
            )
        if isinstance(client_valid, bool) or not isinstance(client_valid, (int, float)) or not 0 < client_valid < 1:
            raise ConfigError(
                f"`client_valid` of FederatedData must be a fraction in (0, 1) (each client's own validation part), "
                f"but got {client_valid!r}."
            )
        self.dataset = dataset
        self.partitioner = partitioner
        self.num_clients = num_clients
        self.client_valid = float(client_valid)
        self.seed = int(seed)
        self._parts: list[tuple[np.ndarray, np.ndarray]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_parts"] = None  # indices are recomputed where the description lands, never shipped
        return state

    def __repr__(self) -> str:
        return (
            f"FederatedData({type(self.dataset).__name__}, {type(self.partitioner).__name__}, "
            f"num_clients={self.num_clients}, client_valid={self.client_valid}, seed={self.seed})"
        )

    def describe(self) -> dict[str, Any]:
        """The settings that decide every client's data, JSON-ready (an evaluator's `task`)."""
        return {
            **self.partitioner.describe(),
            "num_clients": self.num_clients,
            "client_valid": self.client_valid,
            "seed": self.seed,
        }

    def parts(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per client, the (train, valid) indices into the pool; computed once per process (a client process
        gets a fresh copy of this description with each message: the split is kept per loaded dataset)."""
        if self._parts is None:
            splits = self.dataset.load()
            settings = [self.describe(), type(self.partitioner).__qualname__, vars(self.partitioner)]
            key = json.dumps(settings, sort_keys=True, default=repr)
            kept = _kept_parts.get(key)
            if kept is not None and kept[0] is splits:  # the same loaded data, split the same way
                self._parts = kept[1]
                return kept[1]
            labels = np.concatenate([splits.train.y.numpy(), splits.valid.y.numpy()])
            found = pool_groups(splits)
            groups: Sequence[str] | None = found[0] if found is not None else None
            clients = self.partitioner.partition(labels, groups, self.num_clients, self.seed)
            parts = []
            for cid, idx in enumerate(clients):
                if len(idx) < 2:
                    raise DataError(
                        f"Client {cid} holds {len(idx)} sample; each client needs at least 2 (train, valid)."
                    )
                order = np.random.default_rng([self.seed, cid]).permutation(idx)
                n_valid = min(max(1, round(self.client_valid * len(idx))), len(idx) - 1)
                parts.append((np.sort(order[n_valid:]), np.sort(order[:n_valid])))
            self._parts = parts
            _kept_parts[key] = (splits, parts)
            while len(_kept_parts) > 8:
                _kept_parts.pop(next(iter(_kept_parts)))
        return self._parts

    def size(self) -> int:
        """How many clients there are."""
        return len(self.parts())

    def client(self, cid: int, full: bool = False) -> tuple[ArrayData, ArrayData]:
        """Client `cid`'s training and validation samples; with `full`, training on both (the final model)."""
        parts = self.parts()
        if isinstance(cid, bool) or not isinstance(cid, int) or not 0 <= cid < len(parts):
            raise ConfigError(f"A client id must be an int in 0..{len(parts) - 1}, but got {cid!r}.")
        splits = self.dataset.load()
        n_train = len(splits.train)
        train_idx, valid_idx = parts[cid]
        if full:
            train_idx = np.sort(np.concatenate([train_idx, valid_idx]))
        return _take(splits, train_idx, n_train), _take(splits, valid_idx, n_train)

    def test(self) -> ArrayData | None:
        """The dataset's test split: held by no client, it scores only the final model."""
        return self.dataset.load().test


def _take(splits: DataSplits, idx: np.ndarray, n_train: int) -> ArrayData:
    """The pooled samples at `idx` (indices below `n_train` are training samples, the rest validation ones)."""
    in_train = idx[idx < n_train]
    in_valid = idx[idx >= n_train] - n_train
    a, b = splits.train.subset(in_train), splits.valid.subset(in_valid)
    return ArrayData(torch.cat([a.x, b.x]), torch.cat([a.y, b.y]))
