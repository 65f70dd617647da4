"""`run_federation`: train one arch over a federation with Flower's simulation runtime.

Flower moves the parameters: its `ServerApp` runs the metered strategy in a thread of this process, its
simulation runtime runs the `ClientApp` in Ray worker processes (one core each), one per client it samples.
The caller's thread sees each round's result through `on_round` (so `EvalContext.report`, stopping rules
included, runs where the evaluator runs) and may stop the rounds there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nasforge.federated.client import ClientTask, make_client_app
from nasforge.federated.server import RoundResult

__all__ = ["Federation", "FederationSettings", "run_federation", "run_on_grid", "serve"]


@dataclass(frozen=True)
class FederationSettings:
    """How the server runs the rounds: `fraction` of the clients train each round (at least one),
    `fraction_evaluate` of them score the global model after it; `proximal_mu` > 0 makes it FedProx;
    `workers` clients run at a time (Ray processes of one core each). With `keep`, the simulation stays up
    for the next federation over the same clients (`nasforge.federated.simulation`); without, each
    federation starts and shuts down its own."""

    fraction: float = 0.5
    fraction_evaluate: float = 1.0
    proximal_mu: float = 0.0
    workers: int = 1
    schedule: str = "cosine"
    keep: bool = False


@dataclass(frozen=True)
class Federation:
    """The outcome: each round's result, the bytes each way, the final global parameters, the wall time."""

    rounds: tuple[RoundResult, ...]
    bytes_sent: int
    bytes_received: int
    state_dict: dict[str, torch.Tensor] | None
    wall_time: float
    train_loss: float


def serve(
    grid: Any,
    task: ClientTask,
    settings: FederationSettings,
    rounds: int,
    num_clients: int,
    gate: Callable[[RoundResult], bool],
    watch: Callable[[str, Any], None] | None = None,
    full: bool = False,
    initial: Mapping[str, torch.Tensor] | None = None,
    done: int = 0,
) -> Any:
    """Run the metered FedAvg / FedProx for `task` on `grid` (a simulation's or a SuperLink's), in this
    thread, until `rounds` rounds are done or `gate(result)` returns False; the `Meter`. Each message's
    config names the arch (`arch`, JSON) and the seed, so a deployed client can build the network itself;
    a supernet search's messages name the search's settings too (`search`, JSON).

    The global model starts from `initial` (a state dict) when given, else from the task's freshly built
    model; `done` rounds ran before (a resumed search), so the rounds are numbered on from there."""
    from flwr.app import ArrayRecord, ConfigRecord

    from nasforge.federated.server import Meter, MeteredFedAvg, MeteredFedProx, StopFederation

    torch.manual_seed(task.seed)
    state = dict(initial) if initial is not None else task.model().state_dict()
    meter = Meter(
        param_shapes={k: tuple(v.shape) for k, v in state.items()},
        rounds=rounds,
        learning_rate=task.config.learning_rate,
        schedule=settings.schedule,
        gate=gate,
        watch=watch,
        offset=done,
    )
    per_round = max(1, math.ceil(settings.fraction * num_clients))
    per_eval = 0 if settings.fraction_evaluate == 0 else max(1, math.ceil(settings.fraction_evaluate * num_clients))
    common: dict[str, Any] = {
        # Flower samples int(fraction * n) nodes but at least the minimum: the minimum sets the count exactly
        "fraction_train": per_round / num_clients,
        "fraction_evaluate": per_eval / num_clients,
        "min_train_nodes": per_round,
        "min_evaluate_nodes": per_eval,
        "min_available_nodes": num_clients,
    }
    if settings.proximal_mu > 0:
        strategy: MeteredFedAvg = MeteredFedProx(meter, proximal_mu=settings.proximal_mu, **common)
    else:
        strategy = MeteredFedAvg(meter, **common)
    train = json.dumps(dataclasses.asdict(task.config), sort_keys=True)  # what a kept simulation's client reads
    named: dict[str, str | int | bool] = {"arch": task.arch.to_json(), "seed": task.seed, "train": train}
    if task.search is not None:
        named.update(search=json.dumps(task.search.settings(), sort_keys=True), **{"round-offset": done})
    with contextlib.suppress(StopFederation):  # stopped early: the last aggregated arrays stand
        strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord(state),
            num_rounds=rounds,
            train_config=ConfigRecord({**named, "full": full}),
            evaluate_config=ConfigRecord(dict(named)),
        )
    return meter


def _outcome(meter: Any, start: float) -> Federation:
    if meter.errors:
        raise RuntimeError(f"a client failed: {meter.errors[0]}")
    arrays = meter.arrays
    return Federation(
        rounds=tuple(meter.results),
        bytes_sent=meter.bytes_sent,
        bytes_received=meter.bytes_received,
        state_dict=arrays.to_torch_state_dict() if arrays is not None else None,
        wall_time=time.perf_counter() - start,
        train_loss=meter.train_loss,
    )


def run_on_grid(
    grid: Any,
    task: ClientTask,
    settings: FederationSettings,
    rounds: int,
    on_round: Callable[[RoundResult], bool] | None = None,
    full: bool = False,
    time_budget: float | None = None,
    initial: Mapping[str, torch.Tensor] | None = None,
    done: int = 0,
) -> Federation:
    """Like `run_federation`, on a deployed federation's `grid` (inside a `ServerApp`): the clients are the
    SuperNodes connected now, and `on_round` runs in this, the server's, thread."""
    start = time.perf_counter()

    def gate(result: RoundResult) -> bool:
        keep = on_round(result) if on_round is not None else True
        return keep and (time_budget is None or time.perf_counter() - start < time_budget)

    num_clients = len(list(grid.get_node_ids()))
    if num_clients < 1:
        raise RuntimeError("no SuperNode is connected to the SuperLink; start the clients first.")
    meter = serve(grid, task, settings, rounds, num_clients, gate, full=full, initial=initial, done=done)
    return _outcome(meter, start)


def run_federation(
    task: ClientTask,
    settings: FederationSettings,
    rounds: int,
    on_round: Callable[[RoundResult], bool] | None = None,
    watch: Callable[[str, Any], None] | None = None,
    full: bool = False,
    time_budget: float | None = None,
    initial: Mapping[str, torch.Tensor] | None = None,
    done: int = 0,
) -> Federation:
    """Train `task.arch` (or `task.search`'s supernet) for up to `rounds` rounds over `task.data`'s clients
    in Flower's simulation, from `initial` (a state dict) when given and numbering the rounds on from `done`.
    `on_round(result)`, in this thread, returns False to stop after that round (an exception it raises
    stops the rounds too and is raised here once the federation has shut down); `time_budget` seconds stop
    it as well. With `full`, clients train on their validation parts too (the final model).
    `watch(direction, message)` sees every message the server sends and receives (tests)."""
    if not settings.keep:
        from nasforge.federated.simulation import close_kept

        close_kept()  # one Ray runtime in a process at a time
        return _run_alone(task, settings, rounds, on_round, watch, full, time_budget, initial, done)
    from nasforge.federated.simulation import simulation_for

    num_clients = task.data.size()  # loads the data here first, so a data error is raised in this thread
    start = time.perf_counter()

    def run(grid: Any, job: Any) -> Any:  # in the simulation's server thread
        def gate(result: RoundResult) -> bool:
            job.inbox.put(result)
            keep = job.answers.get()
            return keep and (time_budget is None or time.perf_counter() - start < time_budget)

        return serve(
            grid, task, settings, rounds, num_clients, gate, watch=watch, full=full, initial=initial, done=done
        )

    flwr_log = logging.getLogger("flwr")
    level = flwr_log.level
    flwr_log.setLevel(logging.ERROR)  # a line per round and message otherwise
    raised: BaseException | None = None
    try:
        sim = simulation_for(task, settings.workers, keep=settings.keep)
        job = sim.submit(run)
        # Whatever stops this thread (TrialPruned from a report, a trial timeout's signal, Ctrl-C) ends the
        # rounds after the current one and is raised once the federation is over; a second Ctrl-C does not
        # wait.
        raised = _relay(job.inbox, job.answers, on_round)
    finally:
        flwr_log.setLevel(level)
    return _finish(raised, job.failure, job.meter, start)


def _run_alone(
    task: ClientTask,
    settings: FederationSettings,
    rounds: int,
    on_round: Callable[[RoundResult], bool] | None = None,
    watch: Callable[[str, Any], None] | None = None,
    full: bool = False,
    time_budget: float | None = None,
    initial: Mapping[str, torch.Tensor] | None = None,
    done: int = 0,
) -> Federation:
    """`run_federation` in a simulation of its own, started here and shut down when the rounds end."""
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation

    from nasforge.federated.simulation import backend_config

    num_clients = task.data.size()  # loads the data here first, so a data error is raised in this thread
    start = time.perf_counter()
    inbox: queue.Queue[RoundResult | None] = queue.Queue()
    answers: queue.Queue[bool] = queue.Queue()

    def gate(result: RoundResult) -> bool:  # in the server's thread
        inbox.put(result)
        keep = answers.get()
        return keep and (time_budget is None or time.perf_counter() - start < time_budget)

    server = ServerApp()
    meters: list[Any] = []

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        meters.append(
            serve(grid, task, settings, rounds, num_clients, gate, watch=watch, full=full, initial=initial, done=done)
        )

    failure: list[BaseException] = []

    def simulate() -> None:
        try:
            run_simulation(
                server_app=server,
                client_app=make_client_app(task),
                num_supernodes=num_clients,
                backend_config=backend_config(settings.workers),
            )
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        finally:
            inbox.put(None)

    flwr_log = logging.getLogger("flwr")
    level = flwr_log.level
    flwr_log.setLevel(logging.ERROR)  # a line per round and message otherwise
    raised: BaseException | None = None
    try:
        thread = threading.Thread(target=simulate, name="flower-simulation", daemon=True)
        thread.start()
        # Whatever stops this thread (TrialPruned from a report, a trial timeout's signal, Ctrl-C) ends the
        # rounds after the current one and is raised once the simulation has shut Ray down; a second Ctrl-C
        # does not wait.
        raised = _relay(inbox, answers, on_round)
        thread.join()
    finally:
        flwr_log.setLevel(level)
    return _finish(raised, failure[0] if failure else None, meters[0] if meters else None, start)


def _finish(raised: BaseException | None, failure: BaseException | None, meter: Any, start: float) -> Federation:
    """A simulated federation's end, in the caller's thread: what stopped the caller early is raised first,
    then the simulation's own failure (a boundary breach as it is); else its outcome."""
    from nasforge.federated.server import BoundaryError

    if raised is not None:
        raise raised
    if isinstance(failure, BoundaryError):
        raise failure
    if failure is not None:
        raise RuntimeError(f"the Flower simulation failed: {failure}") from failure
    if meter is None:
        raise RuntimeError("the Flower simulation ended before its server ran")
    return _outcome(meter, start)


def _relay(
    inbox: queue.Queue[RoundResult | None],
    answers: queue.Queue[bool],
    on_round: Callable[[RoundResult], bool] | None,
) -> BaseException | None:
    """In the caller's thread: hand each round's result from the server's thread to `on_round` and its answer
    back, until the federation ends (None); what stopped it early (an exception of `on_round`, a signal) is
    returned, to be raised once the federation is over. A second Ctrl-C stops the federation at its next
    round's end and is raised at once."""
    raised: BaseException | None = None
    while True:
        try:
            result = inbox.get()
        except KeyboardInterrupt:
            if isinstance(raised, KeyboardInterrupt):
                answers.put(False)
                raise
            raised = raised or KeyboardInterrupt()
            continue
        except BaseException as exc:
            raised = raised or exc
            continue
        if result is None:
            return raised
        keep = False
        try:
            if raised is None:
                keep = on_round(result) if on_round is not None else True
        except BaseException as exc:
            raised = exc
        finally:
            answers.put(keep)
