"""`Simulation`: one Flower simulation that stays up between the federations of a search.

Starting Flower's simulation runtime costs far more than a round: Ray starts, its worker processes import
torch, Flower and nasforge, each loads and featurises the dataset and runs its first training step. A search
trains one federation per trial over the same clients, so the simulation is kept: its `ServerApp` serves
one federation after another (each a `_Job` put on its queue), its client processes keep their loaded data,
and the next trial pays none of the start-up. A simulation serves the federations of one space over one
`FederatedData` (the same clients); a task over other ones closes it and starts another.

A kept simulation's `ClientApp` cannot hold the trial's task, so each message names it: the arch (JSON),
the seed, a supernet search's settings (as a deployed client reads them, `nasforge.federated.deploy`) and
the training settings (`train`, JSON). The samples stay where they were: each client process reads its own
part of the data, and replies carry only parameters and metrics (`nasforge.federated.server.check_reply`).
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nasforge.evaluators.training import TrainConfig
from nasforge.federated.client import ClientTask, Resolver, make_client_app
from nasforge.federated.data import FederatedData
from nasforge.federated.server import RoundResult
from nasforge.space import ModelSpace

__all__ = ["Simulation", "message_resolver", "simulation_for"]


def message_resolver(space: ModelSpace, data: FederatedData, search_type: type | None) -> Resolver:
    """How a kept simulation's client finds its task: from the message's config (arch, seed, training
    settings, a search's settings) over `space` and `data`, which the client app carries."""

    def resolve(msg: Any, context: Any) -> ClientTask:
        config = msg.content.config_records["config"]
        arch = space.validate(json.loads(str(config["arch"])))
        train = TrainConfig(**json.loads(str(config["train"])))
        search = None
        if "search" in config and search_type is not None:
            search = search_type(**json.loads(str(config["search"])))
        seed = config.get("seed", 0)
        return ClientTask(space, arch, data, train, seed=seed if isinstance(seed, int) else 0, search=search)

    return resolve


def backend_config(workers: int) -> dict[str, Any]:
    """Flower's simulation backend for `workers` clients at a time: one core each, no GPU, Ray quiet."""
    return {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": workers,
            "num_gpus": 0,
            "logging_level": "error",
            "log_to_driver": False,
            "include_dashboard": False,
        },
    }


@dataclass
class _Job:
    """One federation for the simulation's server: `run(grid, job)` serves it (returns the `Meter`); its rounds'
    results go to `inbox` (None when it is over) and the caller's answers come back on `answers`."""

    run: Callable[[Any, _Job], Any]
    inbox: queue.Queue[RoundResult | None] = field(default_factory=queue.Queue)
    answers: queue.Queue[bool] = field(default_factory=queue.Queue)
    meter: Any = None
    failure: BaseException | None = None


class Simulation:
    """A Flower simulation of `data`'s clients training archs of `space` (or `search_type`'s supernets),
    `workers` client processes of one core each, serving `submit`ted federations one after another until
    `close`."""

    def __init__(self, space: ModelSpace, data: FederatedData, workers: int, search_type: type | None) -> None:
        self.space, self.data, self.workers, self.search_type = space, data, workers, search_type
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.current: _Job | None = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._simulate, name="flower-simulation", daemon=True)
        self.thread.start()

    def serves(self, space: ModelSpace, data: FederatedData, workers: int, search_type: type | None) -> bool:
        """Whether this simulation can serve a federation of these clients (it is running, over the same)."""
        same = self.space is space and self.data is data and self.search_type is search_type
        return same and self.workers == workers and self.alive()

    def alive(self) -> bool:
        return self.thread.is_alive() and self.failure is None

    def submit(self, run: Callable[[Any, _Job], Any]) -> _Job:
        """Queue a federation: the simulation's server calls `run(grid, job)` when the ones before it are done."""
        job = _Job(run)
        self.jobs.put(job)
        if not self.thread.is_alive():  # ended in between: it will never take the job
            self._fail_waiting()
        return job

    def close(self, timeout: float = 120.0) -> None:
        """Stop serving after the current federation and shut the simulation (Ray) down."""
        self.jobs.put(None)
        self.thread.join(timeout)

    def _simulate(self) -> None:
        from flwr.app import Context
        from flwr.serverapp import Grid, ServerApp
        from flwr.simulation import run_simulation

        server = ServerApp()

        @server.main()
        def main(grid: Grid, context: Context) -> None:
            while (job := self.jobs.get()) is not None:
                self.current = job
                try:
                    job.meter = job.run(grid, job)
                except BaseException as exc:  # this federation failed; the next one may still run
                    job.failure = exc
                finally:
                    self.current = None
                    job.inbox.put(None)

        try:
            run_simulation(
                server_app=server,
                client_app=make_client_app(message_resolver(self.space, self.data, self.search_type)),
                num_supernodes=self.data.size(),
                backend_config=backend_config(self.workers),
            )
        except BaseException as exc:  # handed to the federations waiting on it
            self.failure = exc
        finally:
            if self.failure is None:
                self.failure = RuntimeError("the Flower simulation ended")
            if self.current is not None and self.current.failure is None:
                self.current.failure = self.failure
                self.current.inbox.put(None)
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.failure = self.failure or RuntimeError("the Flower simulation ended")
                job.inbox.put(None)


_kept: list[Simulation] = []
_lock = threading.Lock()


def simulation_for(task: ClientTask, workers: int, keep: bool) -> Simulation:
    """The simulation to run `task`'s federation in: the kept one where it serves these clients, else a new
    one (kept in its place when `keep`, else the caller closes it after its federation)."""
    search_type = type(task.search) if task.search is not None else None
    with _lock:
        if keep and _kept and _kept[0].serves(task.space, task.data, workers, search_type):
            return _kept[0]
        close_kept()
        sim = Simulation(task.space, task.data, workers, search_type)
        if keep:
            _kept.append(sim)
        return sim


def close_kept() -> None:
    """Shut the kept simulation down (at exit, or before another starts: one Ray runtime at a time)."""
    while _kept:
        sim = _kept.pop()
        flwr_log = logging.getLogger("flwr")
        level = flwr_log.level
        flwr_log.setLevel(logging.ERROR)
        try:
            sim.close()
        finally:
            flwr_log.setLevel(level)


# The simulation's own threads are not daemons, and Python joins those before it runs `atexit`'s handlers:
# the kept simulation is closed first, as `concurrent.futures` closes its pools.
_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(close_kept)
else:  # pragma: no cover - every CPython nasforge supports has it
    atexit.register(close_kept)
