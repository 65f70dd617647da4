"""`ProxyScorer`: zero-cost proxy scores of a space's archs, for strategies that rank before they train.

Each arch is built with `space.freeze(arch)` under a seed derived from the arch (so a score does not depend
on which other archs were scored, or in which order) and scored on one batch with `nasforge.estimation.PROXIES`.
The data-free proxies (`synflow`, `params`, `flops`) need only an input shape and get a batch of ones; the
others need real samples: a batch `(x, y)`, or a dataset to draw one from. Several proxies combine by the
mean of their ranks (NaN ranking below every finite score), as in Abdelfattah et al. 2021. A precomputed
`lookup` (arch key -> score) replaces the networks altogether, e.g. for a tabular benchmark.

>>> from nasforge.zoo.nb201 import NB201Space
>>> space = NB201Space(C=4, N=1)
>>> scorer = ProxyScorer("params", input_shape=(3, 32, 32))
>>> archs = [space.random(s) for s in range(3)]
>>> len(scorer(space, archs))
3
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from nasforge.errors import ConfigError
from nasforge.estimation.proxies import PROXIES
from nasforge.space import Arch, ModelSpace

__all__ = ["DATA_FREE", "ProxyScorer", "mean_rank"]

#: Proxies that use only the input's shape (they are given ones); the others need real samples.
DATA_FREE = frozenset({"synflow", "params", "flops"})
#: Proxies whose loss needs class labels.
_LABELLED = frozenset({"grad_norm", "snip", "fisher"})


def mean_rank(columns: Sequence[Sequence[float]]) -> np.ndarray:
    """The mean over `columns` of each entry's rank within its column (1 = lowest; NaN below every finite)."""
    from scipy.stats import rankdata  # scipy.stats costs 1.3 s to import: only where ranks are made

    ranks = []
    for column in columns:
        a = np.asarray(column, dtype=float).copy()
        a[~np.isfinite(a)] = -np.inf
        ranks.append(rankdata(a))
    return np.mean(ranks, axis=0)


def _names(proxy: Any) -> tuple[str, ...]:
    names = (proxy,) if isinstance(proxy, str) else proxy
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"`proxy` of ProxyScorer must be a proxy name or a non-empty list of names from {PROXIES.names()}, "
            f"but got {proxy!r}."
        )
    for name in names:
        PROXIES.get(name)  # an unknown name fails here, with the closest ones
    if len(set(names)) != len(names):
        raise ConfigError(f"`proxy` of ProxyScorer must name each proxy once, but got {list(names)}.")
    return tuple(names)


class ProxyScorer:
    """Scores archs by one proxy, or by the mean rank of several (`proxy=("synflow", "flops")`); higher is
    better. Call it as `scorer(space, archs)`; `cpu_seconds` adds up the process time spent scoring.

    Data for the data-dependent proxies: `batch=(x, y)` (tensors; `y` may be None for `naswot` and
    `jacob_cov`), or `dataset`, anything with `x` and `y` tensors or a `train` split of them (`ArrayData`,
    `DataSplits`) or a `load()` that returns such splits (a nasforge dataset), from which `batch_size`
    samples are drawn with `seed`. Data-free proxies use `input_shape` (from the batch or dataset when there
    is one, else the space's `input_shape` attribute). With `lookup`, scores are read from a mapping of
    `key(arch)` (default: the arch id) to a score and no network is built.
    """

    def __init__(
        self,
        proxy: str | Sequence[str] = "synflow",
        *,
        batch: tuple[torch.Tensor, torch.Tensor | None] | None = None,
        dataset: Any = None,
        batch_size: int = 64,
        input_shape: Sequence[int] | None = None,
        seed: int = 0,
        lookup: Mapping[str, float] | None = None,
        key: Callable[[Arch], str] | None = None,
    ) -> None:
        self.names = _names(proxy)
        if batch is not None and (
            not isinstance(batch, (tuple, list))
            or len(batch) != 2
            or not isinstance(batch[0], torch.Tensor)
            or not (batch[1] is None or isinstance(batch[1], torch.Tensor))
        ):
            raise ConfigError(
                f"`batch` of ProxyScorer must be a pair (x, y) of tensors (y may be None), but got {type(batch).__name__}."
            )
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigError(f"`batch_size` of ProxyScorer must be an int >= 1, but got {batch_size!r}.")
        if input_shape is not None and (
            isinstance(input_shape, (str, bytes))
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in input_shape)
        ):
            raise ConfigError(
                f"`input_shape` of ProxyScorer must be a sequence of positive ints such as (3, 32, 32), "
                f"but got {input_shape!r}."
            )
        if lookup is not None and not isinstance(lookup, Mapping):
            raise ConfigError(
                f"`lookup` of ProxyScorer must be a mapping of arch keys to scores, but got {type(lookup).__name__}."
            )
        if key is not None and not callable(key):
            raise ConfigError(f"`key` of ProxyScorer must be callable as key(arch) -> str, but got {key!r}.")
        self.batch = None if batch is None else (batch[0], batch[1])
        self.dataset = dataset
        self.batch_size = batch_size
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.seed = int(seed)
        self.lookup = lookup
        self.key = key
        self.cpu_seconds = 0.0

    @property
    def data_free(self) -> bool:
        """True when no proxy needs real samples (or scores come from a lookup)."""
        return self.lookup is not None or all(n in DATA_FREE for n in self.names)

    @property
    def has_data(self) -> bool:
        return self.batch is not None or self.dataset is not None

    def __call__(self, space: ModelSpace, archs: Sequence[Arch]) -> np.ndarray:
        """The score of each arch (float64, higher is better): the proxy's value, or the mean rank of several."""
        scores = self.scores(space, archs)
        if len(self.names) == 1 or self.lookup is not None:
            return np.asarray(scores[self.names[0]], dtype=float)
        return mean_rank([scores[n] for n in self.names]).astype(float)

    def scores(self, space: ModelSpace, archs: Sequence[Arch]) -> dict[str, list[float]]:
        """Each proxy's raw value per arch, by proxy name (a lookup's scores under the first name)."""
        start = time.process_time()
        try:
            if self.lookup is not None:
                return {self.names[0]: [self._look_up(a) for a in archs]}
            x, y = self._inputs(space)
            out: dict[str, list[float]] = {n: [] for n in self.names}
            for arch in archs:
                torch.manual_seed(self._arch_seed(arch))
                net = space.freeze(arch)
                for name in self.names:
                    proxy_x = x if name not in DATA_FREE else torch.ones_like(x[:1])
                    out[name].append(float(PROXIES[name](net, proxy_x, y if name in _LABELLED else None)))
            return out
        finally:
            self.cpu_seconds += time.process_time() - start

    def _arch_seed(self, arch: Arch) -> int:
        return (self.seed * 1_000_003 + zlib.crc32(arch.id.encode())) % 2**31

    def _look_up(self, arch: Arch) -> float:
        assert self.lookup is not None
        k = self.key(arch) if self.key is not None else arch.id
        if k not in self.lookup:
            raise ConfigError(
                f"`lookup` of ProxyScorer must hold a score for every arch scored, but has none for key {k!r} "
                f"(arch {arch.to_dict()}); precompute it, or pass `key` to map archs to the lookup's keys."
            )
        value = self.lookup[k]
        return float("nan") if value is None else float(value)

    def _inputs(self, space: ModelSpace) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The batch the proxies see: real samples when there are any, else ones of `input_shape`."""
        if self.batch is not None:
            x, y = self.batch
        elif self.dataset is not None:
            x, y = self._draw(self.dataset)
        else:
            needy = [n for n in self.names if n not in DATA_FREE]
            if needy:
                raise ConfigError(
                    f"Proxies {needy} need real samples, but ProxyScorer got neither `batch` nor `dataset`; "
                    f"pass batch=(x, y) or dataset=..., run under an evaluator that has a dataset, or use a "
                    f"data-free proxy ({sorted(DATA_FREE)})."
                )
            shape = self.input_shape or getattr(space, "input_shape", None)
            if shape is None:
                raise ConfigError(
                    f"Data-free proxies {list(self.names)} need the input shape, but ProxyScorer has no "
                    f"`input_shape` and {type(space).__name__} has no `input_shape` attribute; "
                    f"pass input_shape=(channels, height, width) or the shape of one sample."
                )
            return torch.ones(1, *tuple(shape)), None
        if any(n in _LABELLED for n in self.names) and y is None:
            needy = [n for n in self.names if n in _LABELLED]
            raise ConfigError(f"Proxies {needy} need class labels, but the batch of ProxyScorer has y=None.")
        return x, y

    def _draw(self, dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
        data = dataset.load() if callable(getattr(dataset, "load", None)) else dataset
        data = getattr(data, "train", data)
        x, y = getattr(data, "x", None), getattr(data, "y", None)
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or len(x) == 0:
            raise ConfigError(
                f"`dataset` of ProxyScorer must hold samples as `x` and `y` tensors (directly, in a `train` split "
                f"or through `load()`), but got {type(dataset).__name__}."
            )
        gen = torch.Generator().manual_seed(self.seed)
        idx = torch.randperm(len(x), generator=gen)[: self.batch_size]
        self.batch = (x[idx].float(), y[idx].long())  # drawn once: every arch sees the same batch
        return self.batch

    def take_data_from(self, evaluator: Any) -> None:
        """Samples and the input shape from an experiment's evaluator, where this scorer has none: its
        `dataset` when a proxy needs data, its `input_shape` otherwise."""
        dataset = getattr(evaluator, "dataset", None)  # a nasforge dataset; a tabular evaluator's is a name
        if not self.data_free and not self.has_data and callable(getattr(dataset, "load", None)):
            self.dataset = dataset
        if self.input_shape is None and not self.has_data:
            shape = getattr(evaluator, "input_shape", None)
            if shape is not None:
                self.input_shape = tuple(int(d) for d in shape)

    def __repr__(self) -> str:
        proxy = self.names[0] if len(self.names) == 1 else list(self.names)
        return f"ProxyScorer({proxy!r}{', lookup' if self.lookup is not None else ''})"
