"""`NB201Evaluator`: looks an arch up in the NAS-Bench-201 table instead of training it.

It charges the table's training time for the chosen fidelity as the `cost` metric, which the
`SimulatedExecutor` turns into simulated seconds, so a search with a 12,000 s budget replays in well under
a second.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasforge.errors import ConfigError, unknown_name
from nasforge.evaluators.base import BaseEvaluator, EvalContext, TrialError
from nasforge.space import Arch, ModelSpace


@dataclass(frozen=True)
class NB201Columns:
    """Which table columns a dataset's search reads (see the data README of nb201)."""

    signal: dict[int, str]  # fidelity (epochs) -> validation accuracy, the search signal
    test: str  # what papers report: the 200-epoch test accuracy
    time_200: str  # seconds for the 200-epoch training; a fidelity of f epochs costs f/200 of it
    params: str
    seed_signal: str  # the per-seed table's column for single-run (noisy) 200-epoch evaluations


NB201_DATASETS = {
    "cifar10": NB201Columns(
        {12: "c10valid_valid_acc_12", 200: "c10valid_valid_acc_200"},
        "c10_test_acc_200",
        "c10valid_train_time_200",
        "c10_params_mb",
        "c10valid_valid_acc_200",
    ),
    "cifar100": NB201Columns(
        {12: "c100_valid_acc_12", 200: "c100_valid_acc_200"},
        "c100_test_acc_200",
        "c100_train_time_200",
        "c100_params_mb",
        "c100_valtest_acc_200",
    ),
    "imagenet16-120": NB201Columns(
        {12: "in16_valid_acc_12", 200: "in16_valid_acc_200"},
        "in16_test_acc_200",
        "in16_train_time_200",
        "in16_params_mb",
        "in16_valtest_acc_200",
    ),
}
#: The per-dataset simulated time budgets of the NAS-Bench-201 / NATS-Bench protocol, in seconds.
NB201_BUDGETS = {"cifar10": 12_000.0, "cifar100": 40_000.0, "imagenet16-120": 120_000.0}


def read_latency_table(path: str, n: int) -> np.ndarray:
    """Latencies by arch index from a (gzipped) CSV with `arch_index` and `latency_ms`; NaN where missing."""
    import csv
    import gzip

    out = np.full(n, np.nan)
    opener: Any = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", newline="") as f:
            reader = csv.DictReader(f)
            if not {"arch_index", "latency_ms"} <= set(reader.fieldnames or ()):
                raise ConfigError(
                    f"The latency table {path!r} needs columns arch_index and latency_ms, but has "
                    f"{reader.fieldnames}; write it with benchmarks/nb201_latency.py."
                )
            for row in reader:
                out[int(row["arch_index"])] = float(row["latency_ms"])
    except (OSError, ValueError, IndexError) as exc:
        raise ConfigError(f"Cannot read the latency table {path!r}: {exc}") from exc
    return out


class NB201Evaluator(BaseEvaluator):
    """Metrics of an `NB201Space` arch from the table at `fidelity` (12 or 200 epochs).

    A proposal's budget, when given, chooses the fidelity per trial. With `noisy`, 200-epoch evaluations
    return one random training run (the per-seed table) instead of the seed mean, as a real search would
    see. Metrics: `val_acc` (search signal), `test_acc` (200-epoch test accuracy, for reporting only),
    `cost` (seconds of training charged), `params` (millions), `fidelity`, `arch_index`; and `latency_ms` when
    `latency_table` names a file of measured latencies by `arch_index` (`benchmarks/nb201_latency.py` writes
    one: a gzipped CSV with columns `arch_index` and `latency_ms`).
    """

    def __init__(
        self,
        dataset: str = "cifar10",
        fidelity: int = 12,
        noisy: bool = False,
        path: str | None = None,
        latency_table: str | None = None,
    ):
        if dataset not in NB201_DATASETS:
            raise unknown_name("NAS-Bench-201 dataset", dataset, NB201_DATASETS)
        if fidelity not in (12, 200):
            raise ConfigError(f"`fidelity` of NB201Evaluator must be 12 or 200 (epochs), but got {fidelity!r}.")
        self.dataset = dataset
        self.fidelity = fidelity
        self.noisy = bool(noisy)
        self.path = path
        self.latency_table = latency_table
        if latency_table is not None:
            self.static_metric_names = frozenset({"params", "latency_ms"})
        self._arrays: dict[str, Any] | None = None

    def task(self) -> dict[str, Any]:
        task = {**super().task(), "dataset": self.dataset, "fidelity": self.fidelity, "noisy": self.noisy}
        return task if self.latency_table is None else {**task, "latency_table": str(self.latency_table)}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": None}  # each process loads (and caches) the table itself

    def prepare(self) -> None:
        if self._arrays is not None:
            return
        from nasforge.tables import NB201Table

        table = NB201Table.load(self.path)
        cols = NB201_DATASETS[self.dataset]
        time_200 = table.column(cols.time_200)
        arrays: dict[str, Any] = {
            "table": table,
            "signal": {f: table.column(c) for f, c in cols.signal.items()},
            "cost": {f: time_200 * (f / 200.0) for f in cols.signal},
            "test": table.column(cols.test),
            "params": table.column(cols.params),
        }
        if self.noisy:
            seeds = table.per_seed()
            index = seeds.arch_index
            values = seeds.column(cols.seed_signal)
            order = np.argsort(index, kind="stable")
            starts = np.searchsorted(index[order], np.arange(len(table)))
            ends = np.searchsorted(index[order], np.arange(len(table)), side="right")
            arrays["seed_values"] = (values[order], starts, ends)
        if self.latency_table is not None:
            arrays["latency_ms"] = read_latency_table(self.latency_table, len(table))
        self._arrays = arrays

    def index(self, arch: Any) -> int:
        from nasforge.zoo.nb201 import arch_to_str

        self.prepare()
        assert self._arrays is not None
        return int(self._arrays["table"].index(arch_to_str(arch)))

    static_metric_names = frozenset({"params"})

    def static_metrics(self, space: ModelSpace, arch: Arch, names: Collection[str]) -> dict[str, float]:
        """`params` (millions), and `latency_ms` with a latency table, looked up: no network is built."""
        wanted = set(names) & self.static_metric_names
        if not wanted:
            return {}
        i = self.index(arch)
        assert self._arrays is not None
        return {name: float(self._arrays[name][i]) for name in sorted(wanted)}

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        self.prepare()
        assert self._arrays is not None
        fidelity = self.fidelity if ctx.budget is None else int(ctx.budget)
        if fidelity not in self._arrays["signal"]:
            raise TrialError(
                f"NB201Evaluator has fidelities 12 and 200 (epochs), but the budget asked for {ctx.budget!r}."
            )
        i = self.index(ctx.arch)
        signal = float(self._arrays["signal"][fidelity][i])
        if self.noisy and fidelity == 200:
            values, starts, ends = self._arrays["seed_values"]
            if ends[i] > starts[i]:
                pick = np.random.default_rng(ctx.seed).integers(starts[i], ends[i])
                signal = float(values[pick])
        if math.isnan(signal):
            raise TrialError(f"The table has no {self.dataset} accuracy at {fidelity} epochs for arch {i}.")
        return {
            "val_acc": signal,
            "test_acc": float(self._arrays["test"][i]),
            "cost": float(self._arrays["cost"][fidelity][i]),
            "params": float(self._arrays["params"][i]),
            "fidelity": float(fidelity),
            "arch_index": float(i),
            **({"latency_ms": float(self._arrays["latency_ms"][i])} if "latency_ms" in self._arrays else {}),
        }
