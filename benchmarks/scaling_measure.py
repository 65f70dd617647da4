"""The measured inputs of `benchmarks/scaling.py`: what one trial costs a driver, its executor and its storage.

- `executor_overheads`: the loop's steady milliseconds per no-op trial on `SequentialExecutor`,
  `LocalPoolExecutor` and `RayExecutor` (`ray_overhead.measure_nasforge`); an executor's overhead per trial is
  its figure minus the sequential one (what handing a trial to a worker process and back adds).
- `storage_round_trips`: N processes at once doing, against one experiment, the storage calls the loop makes
  for each trial (`append_trial` with the strategy state, one `add_report`, a `heartbeat`, `update_trial`,
  `mark_told` with the state): milliseconds per trial in each process, and the trials per second of all.
- `real_drivers`: N processes at once running `Experiment.run` on one experiment (cooperative drivers), each
  with `SequentialExecutor` and a no-op evaluator: the real per-trial cost of a driver and its storage.
- `real_workers`: the real 1-vs-2-worker figure: `LocalPoolExecutor` with 1 and 2 workers (1 thread each) on
  trials that each do a fixed amount of CPU work (float32 matrix products).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from nasforge import Callback, Experiment, LocalPoolExecutor, RandomSearch, SequentialExecutor
from nasforge.evaluators import BaseEvaluator, EvalContext
from nasforge.storage import SQLStorage
from nasforge.trial import TrialRecord, TrialState

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [p for p in (str(HERE), str(ROOT)) if p not in sys.path]
from ray_overhead import NoopEvaluator, SmallSpace, measure_nasforge  # noqa: E402

STORAGES = ("sqlite", "postgresql")


# -- storages ----------------------------------------------------------------------------------------------------
@contextmanager
def storage_server(kind: str) -> Iterator[Callable[[str], str]]:
    """`make(name)` -> the URL of a new, empty storage of `kind`: a SQLite file in a temporary folder, or a fresh
    database on a local PostgreSQL server (tests/postgres.py: Debian's binaries, loopback, fsync off)."""
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "sqlite":
            yield lambda name: schema(str(Path(tmp) / f"{name}.db"))
        elif kind == "postgresql":
            from tests.postgres import fresh_database, local_server

            with local_server() as base:
                yield lambda name: schema(fresh_database(base))
        else:
            raise ValueError(f"storage kind must be one of {STORAGES}, got {kind!r}")


def schema(url: str) -> str:
    """`url`, its tables created here, before processes open it at once: on a new SQLite file, processes that
    create the schema together can see `no such table` (seen while writing this benchmark)."""
    storage = SQLStorage(url)
    storage.engine  # noqa: B018 - creates the tables
    storage.close()
    return url


def strategy_state(seen: int = 20) -> dict[str, Any]:
    """A random search's state as the loop stores it (its generator's state and the archs it has proposed)."""
    space = SmallSpace()
    strategy = RandomSearch()
    strategy.setup(
        space, Experiment("s", space, strategy, NoopEvaluator(), storage="sqlite:///:memory:").objectives[0], 0
    )
    for _ in range(seen):
        strategy.ask()
    return strategy.state_dict()


def load() -> float:
    return os.getloadavg()[0]


# -- executors ---------------------------------------------------------------------------------------------------
def executor_overheads(trials: int, with_ray: bool = True) -> dict[str, dict[str, float]]:
    """Steady ms per no-op trial of the whole loop on each executor (SQLite storage, random search, 2 workers)."""
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows["sequential"] = measure_nasforge(SequentialExecutor(), trials, folder, "seq")
        rows["pool"] = measure_nasforge(LocalPoolExecutor(n_workers=2, threads_per_worker=1), trials, folder, "pool")
        if with_ray:
            import ray

            from nasforge.executors.ray_executor import RayExecutor, start_local_ray

            start_local_ray(num_cpus=2, log_to_driver=False)
            try:
                rows["ray"] = measure_nasforge(RayExecutor(n_workers=2), trials, folder, "ray")
            finally:
                ray.shutdown()
    base = rows["sequential"]["per_trial_ms"]
    for row in rows.values():
        row["overhead_ms"] = max(row["per_trial_ms"] - base, 0.0)
    return rows


# -- storage round-trips -----------------------------------------------------------------------------------------
def _trial_calls(url: str, name: str, trials: int, warmup: int, barrier: Any, out: Any) -> None:
    """One process: the loop's storage calls for `trials` trials (after `warmup` untimed ones)."""
    storage = SQLStorage(url)
    exp_id = storage.require_experiment(name).id
    space, state, me = SmallSpace(), strategy_state(), f"bench-{os.getpid()}"
    arch = space.validate({"x": 1, "y": 2, "op": "a"})

    def one() -> None:
        record = TrialRecord(number=0, arch=arch, state=TrialState.RUNNING, started_at=time.time())
        record = storage.append_trial(exp_id, record, state, me)
        storage.add_report(exp_id, record.number, 1, {"score": 0.5})
        storage.heartbeat(exp_id, [record.number], me, time.time())
        done = record.with_(state=TrialState.COMPLETE, metrics={"score": 0.5}, finished_at=time.time())
        storage.update_trial(exp_id, done)
        storage.mark_told(exp_id, [record.number], state)

    for _ in range(warmup):
        one()
    barrier.wait()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(trials):
        one()
    out.put({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "trials": trials})
    storage.close()


def _together(target: Callable[..., None], n: int, args: tuple[Any, ...], timeout: float = 600) -> list[dict]:
    """Run `target(*args, barrier, queue)` in `n` fresh processes that start their timed part together."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(n + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    barrier.wait(timeout=timeout)
    began = time.perf_counter()
    results = [out.get(timeout=timeout) for _ in procs]
    span = time.perf_counter() - began
    for p in procs:
        p.join()
    for r in results:
        r["span_s"] = span
    return results


def summarise(kind: str, n: int, results: list[dict], **extra: Any) -> dict[str, Any]:
    trials = sum(r["trials"] for r in results)
    span = results[0]["span_s"]
    return {
        "storage": kind,
        "drivers": n,
        **extra,
        "trials": trials,
        "trials_each": [r["trials"] for r in results],
        "ms_per_trial": 1000 * sum(r["wall_s"] for r in results) / trials,  # process-seconds per trial
        "cpu_ms_per_trial": 1000 * sum(r["cpu_s"] for r in results) / trials,
        "trials_per_s_all": trials / span,
        "load_1min": load(),
    }


def storage_round_trips(kind: str, drivers: list[int], trials: int) -> list[dict[str, Any]]:
    rows = []
    with storage_server(kind) as make:
        for n in drivers:
            url = make(f"calls{n}")
            storage = SQLStorage(url)
            storage.create_experiment("calls", {})
            storage.close()
            results = _together(_trial_calls, n, (url, "calls", trials, 10))
            rows.append(summarise(kind, n, results, what="storage calls"))
            print(f"storage calls {kind} x{n}: {rows[-1]['ms_per_trial']:.2f} ms / trial / process", flush=True)
    return rows


# -- real cooperative drivers ------------------------------------------------------------------------------------
class Count(Callback):
    """The trials this driver finished."""

    def __init__(self) -> None:
        self.n = 0

    def on_trial_end(self, experiment: Experiment, record: TrialRecord) -> None:
        self.n += 1


def _driver(url: str, name: str, trials: int, barrier: Any, out: Any) -> None:
    """One process: `Experiment.run` with `SequentialExecutor` and a no-op evaluator until the experiment holds
    `trials` (every driver's); each driver's milliseconds per trial are over the trials it ran itself."""
    exp = Experiment(
        name,
        SmallSpace(),
        RandomSearch(dedup=False),
        NoopEvaluator(),
        storage=url,
        executor=SequentialExecutor(),
        objective="max:score",
    )
    count = Count()
    barrier.wait()
    wall, cpu = time.perf_counter(), time.process_time()
    exp.run(max_trials=trials, callbacks=[count])
    out.put({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "trials": count.n})


def real_drivers(kind: str, drivers: list[int], trials: int, runner: Callable[..., None] = _driver) -> list[dict]:
    rows = []
    with storage_server(kind) as make:
        for n in drivers:
            results = _together(runner, n, (make(f"drivers{n}"), "drivers", trials))
            rows.append(summarise(kind, n, results, what="Experiment.run"))
            print(f"real drivers {kind} x{n}: {rows[-1]['ms_per_trial']:.2f} ms / trial / driver", flush=True)
    return rows


# -- the real 1-vs-2-worker figure -------------------------------------------------------------------------------
class MatmulEvaluator(BaseEvaluator):
    """A CPU-bound trial: `products` products of two 256 x 256 float32 matrices on one thread."""

    def __init__(self, products: int = 400) -> None:
        self.products = products

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        gen = torch.Generator().manual_seed(ctx.seed)
        a, b = torch.randn(256, 256, generator=gen), torch.randn(256, 256, generator=gen)
        for _ in range(self.products):
            a = torch.tanh(a @ b)
        ctx.report(1, {"score": float(a.mean())})
        return {"score": float(a.mean())}


def real_workers(trials: int, products: int) -> list[dict[str, Any]]:
    """Trials per second with 1 and 2 pool workers, start-up included and between the first and last trial end."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            exp = Experiment(
                f"w{workers}",
                SmallSpace(),
                RandomSearch(dedup=False),
                MatmulEvaluator(products),
                storage=str(Path(tmp) / f"w{workers}.db"),
                executor=LocalPoolExecutor(n_workers=workers, threads_per_worker=1),
                objective="max:score",
            )
            began = time.perf_counter()
            exp.run(max_trials=trials)
            wall = time.perf_counter() - began
            done = exp.trials
            assert len(done) == trials and all(t.state is TrialState.COMPLETE for t in done), [t.error for t in done]
            ends = sorted(t.finished_at or 0.0 for t in done)
            rows.append(
                {
                    "workers": workers,
                    "trials": trials,
                    "wall_s": wall,
                    "per_s": trials / wall,
                    "steady_per_s": (trials - 1) / (ends[-1] - ends[0]),
                    "mean_trial_s": statistics.mean(t.duration or 0.0 for t in done),
                    "load_1min": load(),
                    "cpus": sorted(os.sched_getaffinity(0)),
                }
            )
            print(f"real pool, {workers} worker(s): {wall:.1f} s for {trials} trials", flush=True)
    return rows
