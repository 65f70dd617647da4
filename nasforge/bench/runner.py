"""The NAS-Bench-201 harness: strategies x seeds x datasets on a simulated clock.

Protocol (NAS-Bench-201 paper, NATS-Bench for the per-dataset budgets): the search signal is the 12-epoch
validation accuracy, each evaluation costs the 12-epoch training time, the budget is 12,000 s on CIFAR-10
(cifar10-valid), 40,000 s on CIFAR-100 and 120,000 s on ImageNet16-120; the result of a run is the 200-epoch
test accuracy of the arch with the best search signal when the budget runs out.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasforge.evaluators.tabular import NB201_BUDGETS, NB201_DATASETS, NB201Evaluator
from nasforge.executors import SimulatedExecutor
from nasforge.experiment import Experiment
from nasforge.storage import InMemoryStorage
from nasforge.strategies import STRATEGIES, BaseStrategy, Deduplicate
from nasforge.trial import TrialState

_SPACE: Any = None


def _space() -> Any:
    global _SPACE
    if _SPACE is None:
        from nasforge.zoo.nb201 import NB201Space

        _SPACE = NB201Space()
    return _SPACE


@dataclass(frozen=True)
class RunSpec:
    strategy: str
    dataset: str
    seed: int
    strategy_kwargs: Mapping[str, Any] = field(default_factory=dict)
    budget: float | None = None  # simulated seconds; None: the protocol's budget for the dataset
    n_workers: int = 1
    fidelity: int = 12
    noisy: bool = False
    dedup: bool = False  # wrap the strategy in Deduplicate (isomorphism-aware on nb201)
    label: str | None = None  # name in tables; defaults to the strategy name
    # wraps the (deduplicated) strategy, e.g. functools.partial(ZeroCostWarmup, scorer=...); picklable for run_many
    wrap: Callable[[BaseStrategy], BaseStrategy] | None = None
    # a finished search to warm-start from: run first, in the same (in-memory) storage
    warm_from: RunSpec | None = None
    warm_options: Mapping[str, Any] = field(default_factory=dict)  # WarmStart options: mode, top_k
    # several for a multi-objective search, e.g. ("max:val_acc", "min:params"); the first is the primary one
    objectives: tuple[str, ...] = ("max:val_acc",)
    constraints: tuple[str, ...] = ()  # e.g. ("params <= 0.5",), checked before "training"
    evaluator_kwargs: Mapping[str, Any] = field(default_factory=dict)  # NB201Evaluator options: latency_table

    @property
    def name(self) -> str:
        return self.label or (f"{self.strategy}+dedup" if self.dedup else self.strategy)


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    final_test: float  # test accuracy of the arch with the best signal (at the highest fidelity) at the end
    times: list[float]  # finish times (simulated seconds) of the trials, in order
    best_test: list[float]  # test accuracy of the best-signal arch after each of those trials
    n_trials: int
    optimum: float
    indices: list[int]  # table index of each trial's arch, in finishing order
    best_index: int  # the arch reported: best search signal at the end


def run_one(spec: RunSpec, table_path: str | None = None) -> RunResult:
    """One search run through the real experiment loop, on a simulated clock, in memory; with `warm_from`,
    that search runs first and this one warm-starts from it (its cost is not counted in this run's budget)."""
    storage = InMemoryStorage()
    warm = None
    if spec.warm_from is not None:
        _search(spec.warm_from, table_path, storage, "source")
        warm = {"experiment": "source", **spec.warm_options}
    return _search(spec, table_path, storage, f"{spec.name}-{spec.dataset}-{spec.seed}", warm)


def _search(spec: RunSpec, table_path: str | None, storage: InMemoryStorage, name: str, warm: Any = None) -> RunResult:
    strategy = STRATEGIES.create(spec.strategy, **dict(spec.strategy_kwargs))
    if spec.dedup:
        strategy = Deduplicate(strategy)
    if spec.wrap is not None:
        strategy = spec.wrap(strategy)
    evaluator = NB201Evaluator(
        spec.dataset, fidelity=spec.fidelity, noisy=spec.noisy, path=table_path, **dict(spec.evaluator_kwargs)
    )
    budget = spec.budget if spec.budget is not None else NB201_BUDGETS[spec.dataset]
    exp = Experiment(
        name,
        _space(),
        strategy,
        evaluator,
        storage=storage,
        executor=SimulatedExecutor(n_workers=spec.n_workers),
        objective=list(spec.objectives),
        constraints=list(spec.constraints),
        seed=spec.seed,
        warm_start=warm,
    )
    exp.run(timeout=budget)
    done = sorted(
        (t for t in exp.trials if t.state is TrialState.COMPLETE), key=lambda t: (t.finished_at or 0.0, t.number)
    )
    times, best_test, indices = [], [], []
    best_signal: tuple[float, float] = (-np.inf, -np.inf)
    best, best_index = float("nan"), -1
    for t in done:
        # the incumbent is the best arch at the highest fidelity evaluated so far (as in Hyperband/BOHB):
        # 200-epoch accuracies are on a higher scale than 12-epoch ones and must not compete with them raw
        signal = (t.metrics["fidelity"], t.metrics["val_acc"])
        if signal > best_signal:
            best_signal, best, best_index = signal, t.metrics["test_acc"], int(t.metrics["arch_index"])
        times.append(float(t.finished_at or 0.0))
        best_test.append(best)
        indices.append(int(t.metrics["arch_index"]))
    assert evaluator._arrays is not None
    optimum = float(np.nanmax(evaluator._arrays["test"]))
    return RunResult(spec, best, times, best_test, len(done), optimum, indices, best_index)


def _run_star(args: tuple[RunSpec, str | None]) -> RunResult:
    return run_one(*args)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_many(specs: Sequence[RunSpec], workers: int | None = None, table_path: str | None = None) -> list[RunResult]:
    """Run every spec, spread over `workers` processes (default: the CPU count)."""
    workers = workers or os.cpu_count() or 1
    jobs = [(s, table_path) for s in specs]
    if workers == 1 or len(specs) == 1:
        return [_run_star(j) for j in jobs]
    with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        return pool.map(_run_star, jobs, chunksize=max(1, len(jobs) // (workers * 8)))


def datasets() -> list[str]:
    return list(NB201_DATASETS)
