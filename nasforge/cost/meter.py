"""Latency of an arch of a space, measured once per device and then answered from a cache.

`LatencyCache` keeps results in a SQLite file that several processes can share; `LatencyMeter` builds an
arch's network, files its latency under (`network_key`, `device_key`) and measures only on a miss.

>>> meter = LatencyMeter((3, 32, 32), {"threads": 1, "repeats": 20}, cache=False)  # doctest: +SKIP
>>> meter(space, space.default_arch())  # median milliseconds  # doctest: +SKIP
1.83
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from torch import nn

from nasforge.cost.latency import LatencyResult, LatencySetting, check_shape, device_key, measure_latency
from nasforge.data.base import cache_root
from nasforge.errors import ConfigError
from nasforge.space import Arch, ModelSpace


def default_cache_path() -> Path:
    """`$NASFORGE_CACHE/latency.sqlite`, else `~/.cache/nasforge/latency.sqlite`."""
    return cache_root() / "latency.sqlite"


class LatencyCache:
    """Latency results by (arch key, device key) in a SQLite file that several processes may share.

    The file is opened on first use (and again after a fork or unpickling); `":memory:"` keeps the cache in
    this object only.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else str(default_cache_path())
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            conn.execute(
                "CREATE TABLE IF NOT EXISTS latency (arch_key TEXT NOT NULL, device_key TEXT NOT NULL, "
                "result TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (arch_key, device_key))"
            )
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get(self, arch_key: str, device_key: str) -> LatencyResult | None:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT result FROM latency WHERE arch_key = ? AND device_key = ?", (arch_key, device_key))
                .fetchone()
            )
        if row is None:
            return None
        try:
            return replace(LatencyResult.from_dict(json.loads(row[0])), cached=True)
        except (ValueError, TypeError):  # a row written by an incompatible version: measure again
            return None

    def put(self, arch_key: str, device_key: str, result: LatencyResult) -> None:
        data = json.dumps({**result.to_dict(), "cached": False})
        with self._lock:
            self._connection().execute(
                "INSERT OR REPLACE INTO latency VALUES (?, ?, ?, ?)", (arch_key, device_key, data, time.time())
            )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self._conn, self._pid, self._lock = state["path"], None, 0, threading.Lock()

    def __repr__(self) -> str:
        return f"LatencyCache({self.path!r})"


def network_key(space: ModelSpace, arch: Arch, model: nn.Module) -> str:
    """What a cached latency is filed under: a digest of the space (class and decisions), the arch, and the
    built network's structure (its module tree with every layer's shape and options), so that two spaces
    that build different networks for the same arch (other widths, other input sizes) never share one."""
    n_params = sum(p.numel() for p in model.parameters())
    space_part = json.dumps(space.describe(), sort_keys=True, default=str)
    text = f"{type(space).__qualname__}|{space_part}|{arch.id}|{type(model).__qualname__}|{n_params}|{model}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class LatencyMeter:
    """Latency of an arch of a space: builds the network with `space.freeze(arch)`, measures, caches by
    (`network_key` of the built network, `device_key`).

    `cache`: True for the default file (`default_cache_path()`), a path or a `LatencyCache`, or False / None
    for none.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        setting: LatencySetting | Mapping[str, Any] | None = None,
        cache: LatencyCache | str | Path | bool | None = True,
    ) -> None:
        self.input_shape = check_shape(input_shape, "LatencyMeter")
        self.setting = LatencySetting.parse(setting)
        self.cache: LatencyCache | None
        if cache is True:
            self.cache = LatencyCache()
        elif cache is False or cache is None:
            self.cache = None
        elif isinstance(cache, LatencyCache):
            self.cache = cache
        elif isinstance(cache, (str, Path)):
            self.cache = LatencyCache(cache)
        else:
            raise ConfigError(
                f"`cache` of LatencyMeter must be True, False, None, a path or a LatencyCache, but got {cache!r:.80}."
            )

    def measure(self, space: ModelSpace, arch: Mapping[str, Any]) -> LatencyResult:
        canonical: Arch = space.validate(arch)
        model = space.freeze(canonical)
        akey = network_key(space, canonical, model)
        dkey = device_key(self.setting, self.input_shape)
        if self.cache is not None and (hit := self.cache.get(akey, dkey)) is not None:
            return hit
        result = measure_latency(model, self.input_shape, self.setting)
        if self.cache is not None:
            self.cache.put(akey, dkey, result)
        return result

    def measure_model(self, model: nn.Module, input_shape: Sequence[int] | None = None) -> LatencyResult:
        """A network's latency with this meter's setting and input shape (or `input_shape`, e.g. a table's
        width after its encoding was refitted), measured afresh (never cached)."""
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        return measure_latency(model, shape, self.setting)

    def __call__(self, space: ModelSpace, arch: Mapping[str, Any]) -> float:
        """The median latency in milliseconds."""
        return self.measure(space, arch).median_ms


def make_latency_meter(
    latency: Mapping[str, Any] | LatencySetting | LatencyMeter | bool | None,
    *,
    needed: bool,
    input_shape: Callable[[], Sequence[int] | None],
    owner: str,
) -> LatencyMeter | None:
    """An experiment's latency meter: given, or made when `needed` (an objective or constraint names
    `latency_ms` and the evaluator, `owner`, cannot look it up).

    A mapping holds `LatencySetting` options (backend, device, batch_size, threads, warmup, repeats) and
    optionally `input_shape` (default: `input_shape()`, asked only then, as it may load data) and `cache` (a
    file, or false for none)."""
    if isinstance(latency, LatencyMeter):
        return latency
    if latency is False or (latency is None and not needed):
        if needed:
            raise ConfigError(
                "An objective or constraint names `latency_ms`, but latency measurement was turned off "
                "(latency=False); turn it on, or drop latency_ms from the objectives and constraints."
            )
        return None
    options: dict[str, Any] = {}
    if isinstance(latency, LatencySetting):
        options = {"setting": latency}
    elif isinstance(latency, Mapping):
        options = dict(latency)
    elif latency is not None and latency is not True:
        raise ConfigError(
            f"`latency` must be true, a mapping of measurement options (backend, threads, repeats, ...) or a "
            f"LatencyMeter, but got {latency!r}."
        )
    shape = options.pop("input_shape", None) or input_shape()
    if shape is None:
        raise ConfigError(
            f"Measuring latency needs the network's input shape, which {owner} does not know; "
            "give it as latency={'input_shape': [3, 32, 32]} (channels, height, width)."
        )
    cache = options.pop("cache", True)
    setting = options.pop("setting", None) or LatencySetting.parse(options)
    return LatencyMeter(tuple(int(d) for d in shape), setting, cache=cache)


def describe_latency(meter: LatencyMeter | None) -> dict[str, Any] | None:
    """The meter's setting and input shape, JSON-ready (an experiment's stored configuration)."""
    if meter is None:
        return None
    return {**asdict(meter.setting), "input_shape": list(meter.input_shape)}
