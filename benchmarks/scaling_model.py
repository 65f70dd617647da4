"""The simulated side of `benchmarks/scaling.py`: the real loop on `SimulatedExecutor`, charged for the driver.

`SimulatedExecutor` charges each trial its `cost` in simulated seconds but runs the driver for free. Here
`ChargedSimulatedExecutor` also advances the simulated clock by the real wall time the driver spends between
two calls into the executor (its ask, tell, the storage calls of `TrialLoop`, callbacks), plus a fixed
`dispatch_s` per trial (the measured overhead of handing a trial to a pool or Ray worker and back). The
evaluation itself (the no-op `DurationEvaluator`, run at once in this process) is not charged: a worker does it.
So the driver is what it is in a real search, one serial server, and W simulated workers wait for it when it
cannot keep up: throughput stops growing with W where a driver's per-trial time times W/D reaches a trial's
duration.

`drive(...)` runs D such drivers at once, one process each, each with W/D simulated workers, on one storage; it
returns every driver's trials and the simulated times at which it took up each result.
"""

from __future__ import annotations

import heapq
import math
import multiprocessing as mp
import random
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from nasforge import Experiment, RandomSearch
from nasforge.evaluators import BaseEvaluator, EvalContext
from nasforge.executors import JobResult, SimulatedExecutor
from nasforge.space import ModelSpace


class ChargedSimulatedExecutor(SimulatedExecutor):
    """`SimulatedExecutor` whose clock also runs while the driver works (see the module's docstring)."""

    def __init__(self, n_workers: int = 1, dispatch_s: float = 0.0) -> None:
        super().__init__(n_workers)
        self.dispatch_s = dispatch_s
        self.charged = 0.0  # simulated seconds the driver's own work added
        self.taken: list[float] = []  # the simulated time at which the driver took up each result
        self.spans: list[tuple[float, float]] = []  # each trial's simulated start and end on its worker
        self._mark = time.perf_counter()
        self._excluded = 0.0

    def start(self, evaluator: BaseEvaluator, space: ModelSpace, on_report: Any) -> None:
        super().start(evaluator, space, on_report)
        self._mark, self._excluded = time.perf_counter(), 0.0

    def _charge(self, extra: float = 0.0) -> None:
        now = time.perf_counter()
        spent = max(now - self._mark - self._excluded, 0.0) + extra
        self._clock += spent
        self.charged += spent
        self._mark, self._excluded = now, 0.0

    def _dispatch(self) -> None:  # runs the evaluations: a worker's time, not the driver's
        began = time.perf_counter()
        super()._dispatch()
        self._excluded += time.perf_counter() - began

    def submit(self, job: Any) -> None:
        self._charge(self.dispatch_s)
        super().submit(job)

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        self._charge()
        if not self._running:
            return []
        finish, _, result, reports = heapq.heappop(self._running)
        self._clock = max(self._clock, finish)  # a result waits while the driver is busy
        return hand_back(self, result, reports)


def hand_back(executor: Any, result: JobResult, reports: list[Any]) -> list[JobResult]:
    """The end of a simulated `wait`: note when the result was taken and the trial's span, deliver its
    reports, start the next queued trial, and return the result."""
    executor.taken.append(executor._clock)
    executor.spans.append((result.started_at, result.finished_at))
    if executor._on_report is not None:
        for step, metrics in reports:
            executor._on_report(result.number, step, metrics)
    executor._dispatch()
    return [result]


class RealTimeSimulatedExecutor(SimulatedExecutor):
    """N simulated workers on the wall clock: a trial ends `cost` real seconds after it was handed out, and
    `wait` sleeps until then. The driver works and idles as it would with real workers, so several drivers
    meet in the storage only as often as real ones would (the charged clock runs every driver flat out)."""

    def __init__(self, n_workers: int = 1, dispatch_s: float = 0.0) -> None:
        super().__init__(n_workers)
        self.dispatch_s = dispatch_s
        self.taken: list[float] = []
        self.spans: list[tuple[float, float]] = []
        self.slept = 0.0  # seconds the driver waited for its workers: the rest of its run was its own work
        self._t0 = time.perf_counter()

    def start(self, evaluator: BaseEvaluator, space: ModelSpace, on_report: Any) -> None:
        super().start(evaluator, space, on_report)
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._t0

    def _dispatch(self) -> None:
        self._clock = self.now()  # a trial starts when it is handed out
        super()._dispatch()

    def submit(self, job: Any) -> None:
        if self.dispatch_s:
            time.sleep(self.dispatch_s)  # the executor's hand-over, serial in the driver
        super().submit(job)

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        if not self._running:
            return []
        delay = self._running[0][0] - self.now()
        if delay > 0:
            began = time.perf_counter()
            time.sleep(delay if timeout is None else min(delay, timeout))
            self.slept += time.perf_counter() - began
            if timeout is not None and delay > timeout:
                return []
        _, _, result, reports = heapq.heappop(self._running)
        self._clock = self.now()
        return hand_back(self, result, reports)


class DurationEvaluator(BaseEvaluator):
    """A trial that lasts a drawn number of simulated seconds: lognormal with mean `mean_s` and coefficient of
    variation `cv`, drawn from the trial's seed; one report, then its result and its `cost`."""

    def __init__(self, mean_s: float, cv: float = 0.5) -> None:
        self.mean_s, self.cv = mean_s, cv
        self.sigma = math.sqrt(math.log(1 + cv**2))
        self.mu = math.log(mean_s) - self.sigma**2 / 2

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        cost = random.Random(ctx.seed).lognormvariate(self.mu, self.sigma)
        ctx.report(1, {"score": -cost})
        return {"score": -cost, "cost": cost}


def _one_driver(
    url: str,
    name: str,
    workers: int,
    trials: int,
    mean_s: float,
    cv: float,
    dispatch_s: float,
    seed: int,
    realtime: bool = False,
) -> dict[str, Any]:
    from ray_overhead import SmallSpace

    kind = RealTimeSimulatedExecutor if realtime else ChargedSimulatedExecutor
    executor = kind(workers, dispatch_s)
    exp = Experiment(
        name,
        SmallSpace(),
        RandomSearch(dedup=False),
        DurationEvaluator(mean_s, cv),
        storage=url,
        executor=executor,
        objective="max:score",
        seed=seed,
    )
    began = time.perf_counter()
    exp.run(max_trials=trials)
    wall = time.perf_counter() - began
    costs = [t.metrics["cost"] for t in exp.trials if "cost" in t.metrics]
    exp.storage.close()
    return {
        "taken": executor.taken,
        "spans": executor.spans,
        "charged_s": executor.charged if isinstance(executor, ChargedSimulatedExecutor) else wall - executor.slept,
        "wall_s": wall,
        "trials": len(executor.taken),
        "mean_cost_s": statistics.mean(costs) if costs else 0.0,
    }


def _driver_process(jobs: Sequence[Mapping[str, Any]], barrier: Any, out: Any) -> None:
    for job in jobs:
        barrier.wait()
        out.put({"W": job["workers_total"], **_one_driver(**job["args"])})


def busy(taken: Sequence[float], spans: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Over the middle half of one driver's run (from its 1/4th to its 3/4th result taken up: the start's ramp
    and the end's tail left out), the workers' busy seconds per second and the results per second."""
    times = sorted(taken)
    k1, k2 = len(times) // 4, (3 * len(times)) // 4
    a, b = times[k1], times[k2]
    if k2 <= k1 or b <= a:
        raise ValueError(f"too few trials for a steady rate ({len(times)})")
    overlap = sum(max(min(end, b) - max(start, a), 0.0) for start, end in spans)
    return overlap / (b - a), (k2 - k1) / (b - a)


def drive(
    urls: Mapping[int, str],
    drivers: int,
    mean_s: float,
    cv: float,
    dispatch_s: float,
    trials_per_worker: int,
    shared: bool,
    min_trials: int = 40,
    realtime: bool = False,
) -> list[dict[str, Any]]:
    """For each total worker count W in `urls` (W >= `drivers`; a fresh storage URL each): `drivers` processes run
    the loop at once on that storage, each with W / `drivers` simulated workers (the remainder to the first), on
    one experiment when `shared` (cooperative drivers) or one experiment each. One row per W."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(drivers + 1), ctx.Queue()
    plans: list[list[dict[str, Any]]] = [[] for _ in range(drivers)]
    for W, url in urls.items():
        shares = [W // drivers + (1 if d < W % drivers else 0) for d in range(drivers)]
        for d, mine in enumerate(shares):
            trials = max(trials_per_worker * mine, min_trials)
            if shared:  # `max_trials` counts every driver's trials: the drivers stop together
                trials = sum(max(trials_per_worker * n, min_trials) for n in shares)
            name = "sim" if shared else f"sim{d}"
            args = {"url": url, "name": name, "workers": mine, "trials": trials, "mean_s": mean_s, "cv": cv}
            plans[d].append(
                {
                    "workers_total": W,
                    "args": {**args, "dispatch_s": dispatch_s, "seed": 0 if shared else d, "realtime": realtime},
                }
            )
    procs = [ctx.Process(target=_driver_process, args=(plan, barrier, out)) for plan in plans]
    for p in procs:
        p.start()
    rows = []
    for W in urls:
        barrier.wait(timeout=900)
        results = [out.get(timeout=900) for _ in range(drivers)]
        assert all(r["W"] == W for r in results), (W, [r["W"] for r in results])
        steady = [busy(r["taken"], r["spans"]) for r in results]
        working = sum(s[0] for s in steady)  # workers busy on trials, on average, of W
        rate = sum(s[1] for s in steady)  # trials per simulated second, all drivers
        trials = sum(r["trials"] for r in results)
        mean_cost = sum(r["mean_cost_s"] * r["trials"] for r in results) / trials
        per_trial = statistics.mean(r["charged_s"] / r["trials"] for r in results)
        rows.append(
            {
                "workers": W,
                "drivers": drivers,
                "trials": trials,
                "mean_trial_s": mean_cost,
                "trials_per_hour": 3600 * rate,
                "speedup": working,  # against one worker that does nothing but run trials
                "efficiency": working / W,
                "driver_ms_per_trial": 1000 * per_trial,
                "real_wall_s": max(r["wall_s"] for r in results),
            }
        )
    for p in procs:
        p.join()
    return rows
