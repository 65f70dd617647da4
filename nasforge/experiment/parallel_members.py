"""Retrain an export's members at once, each in its own process, so that an ensemble uses every core.

On a CPU a small network's training hardly speeds up with a second torch thread (one process on two threads
trained 1.05 times as fast as on one, records/scale/pool_throughput-*), while two processes of one thread
each train two networks at nearly full speed (1.90 times). So where `members.retrain_members` trains an
ensemble's members one after another, each in a share of the time, `retrain_parallel` trains up to `workers`
of them side by side, each process with its share of the cores as torch threads, and each member for the
whole time its round has (a round: the members trained together; with more members than workers, the
time left is shared by the rounds left). A member's budget runs to its round's deadline on the wall clock,
so that starting a process and loading the data in it are paid from the member's own time.

The first member's epochs are passed to `log` as they end (the others train silently). A member whose
process fails or dies fails the export with a one-line error, as in `retrain_members`. The account for
`export.json` has the same shape as `retrain_members`', with `workers` and each member's `threads`.
"""

from __future__ import annotations

import io
import math
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import pickle
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from nasforge.errors import ConfigError
from nasforge.evaluators.base import RetrainableEvaluator, TrialError
from nasforge.experiment.members import member_account, owed_epochs, retrain_members
from nasforge.space import ModelSpace
from nasforge.trial import TrialRecord

__all__ = ["check_workers", "resolve_workers", "retrain_parallel", "usable_cores"]

Members = tuple[list[tuple[TrialRecord, int]], list[nn.Module], list[dict[str, float]], dict[str, Any]]


def usable_cores() -> int:
    """The cores this process may run on (its affinity, e.g. under `taskset`), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def check_workers(workers: object, given: str = "export.workers") -> int | str:
    """`workers` as how many members retrain at once: an int >= 1, or 'auto'."""
    if workers == "auto" or (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
        return workers
    raise ConfigError(
        f"{given} is how many ensemble members retrain at once, each in its own process: an int >= 1 or 'auto' "
        f"(as many as there are members and cores), but got {workers!r}; e.g. 'auto'."
    )


def resolve_workers(workers: int | str, members: int) -> int:
    """The processes `workers` means for `members` members: 'auto' is one per member, at most one per usable
    core; never more than the members.

    >>> resolve_workers(4, 2)
    2
    >>> resolve_workers("auto", 1)
    1
    """
    wanted = usable_cores() if workers == "auto" else int(workers)
    return max(1, min(wanted, members))


def retrain_parallel(
    trainer: RetrainableEvaluator,
    space: ModelSpace,
    runs: Sequence[tuple[TrialRecord, int]],
    epochs: int | None,
    workers: int,
    log: Any = None,
    time_budget: float | None = None,
    starts: Sequence[str | None] | None = None,
) -> Members:
    """Retrain each (trial, seed) of `runs`, up to `workers` at once, within `time_budget` seconds in all (see
    the module); one worker or one member: `retrain_members`, in this process."""
    if workers <= 1 or len(runs) <= 1:
        return retrain_members(trainer, space, runs, epochs, log, time_budget, starts)
    try:
        payload = pickle.dumps((trainer, space))
    except Exception as exc:
        raise ConfigError(
            f"Retraining members at once needs a picklable evaluator and space, but pickling failed: {exc}; set "
            "export.workers to 1 (one member after another, in this process)."
        ) from exc
    started = time.time()
    end = None if time_budget is None else started + time_budget
    cores = usable_cores()
    networks: list[nn.Module] = []
    results: list[dict[str, float]] = []
    account: list[dict[str, Any]] = []
    for first in range(0, len(runs), workers):
        batch = list(range(first, min(first + workers, len(runs))))
        rounds_left = math.ceil((len(runs) - first) / workers)
        deadline = None if end is None else time.time() + max(end - time.time(), 0.0) / rounds_left
        threads = max(1, cores // len(batch))
        jobs = [
            (runs[i][0], runs[i][1], owed_epochs(runs[i][0], epochs), starts[i] if starts is not None else None)
            for i in batch
        ]
        for (record, seed, owed, start), (state, result, wall) in zip(
            jobs, _train_round(payload, jobs, deadline, threads, log if first == 0 else None), strict=True
        ):
            network = space.freeze(record.arch)
            network.load_state_dict(torch.load(io.BytesIO(state), weights_only=True))
            networks.append(network.eval())
            results.append(result)
            budget = None if deadline is None else deadline - started
            account.append({**member_account(record, seed, owed, result, wall, start, budget), "threads": threads})
    summary: dict[str, Any] = {
        "time_budget": time_budget,
        "wall_time": round(time.time() - started, 3),
        "members_asked": len(runs),
        "workers": workers,
        "members": account,
    }
    return list(runs), networks, results, summary


def _train_round(
    payload: bytes, jobs: list[tuple[TrialRecord, int, int, str | None]], deadline: float | None, threads: int, log: Any
) -> list[tuple[bytes, dict[str, float], float]]:
    """Train `jobs` side by side, one process each; (state dict, result, wall seconds) per job, in order."""
    ctx = mp.get_context("spawn")
    procs, readers = [], []
    began = time.time()
    for k, (record, seed, owed, start) in enumerate(jobs):
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_member_main,
            args=(payload, record.arch, owed, seed, start, deadline, threads, k == 0 and log is not None, writer),
            daemon=True,
            name=f"nasforge-member-{record.number}",
        )
        proc.start()
        writer.close()  # the child holds the only writing end: its death is an EOF here
        procs.append(proc)
        readers.append(reader)
    out: list[Any] = [None] * len(jobs)
    try:
        waiting = dict(enumerate(readers))
        while waiting:
            for conn in mpc.wait(list(waiting.values())):
                k = next(i for i, c in waiting.items() if c is conn)
                try:
                    msg = waiting[k].recv()
                except EOFError:
                    procs[k].join(5)
                    code = procs[k].exitcode
                    raise TrialError(
                        f"retraining ensemble member {k + 1} (trial {jobs[k][0].number}) failed: its process died "
                        f"(exit code {code}), e.g. out of memory; retrain one member at a time (export.workers: 1)."
                    ) from None
                if msg[0] == "epoch" and log is not None:
                    log(msg[1], msg[2])
                elif msg[0] == "error":
                    raise TrialError(f"retraining ensemble member {k + 1} (trial {jobs[k][0].number}) failed: {msg[1]}")
                elif msg[0] == "done":
                    out[k] = (msg[1], msg[2], time.time() - began)
                    del waiting[k]
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for reader in readers:
            reader.close()
    return out


def _member_main(
    payload: bytes,
    arch: Any,
    owed: int,
    seed: int,
    start: str | None,
    deadline: float | None,
    threads: int,
    logs: bool,
    conn: Any,
) -> None:
    """A member's process: train it until `deadline` (wall clock), send back its weights and result."""
    import contextlib

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    try:
        trainer, space = pickle.loads(payload)
        trainer.prepare()

        def log(epoch: int, metrics: dict[str, float]) -> None:
            conn.send(("epoch", epoch, dict(metrics)))

        # a round already over when this process is ready still trains a step (a budget of 0 would divide by 0)
        budget = None if deadline is None else max(deadline - time.time(), 1e-3)
        network, result = trainer.train_final(space, arch, owed, seed, log if logs else None, budget, weights_in=start)
        buffer = io.BytesIO()  # bytes, not tensors: torch would share those by file descriptors that die with us
        torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, buffer)
        conn.send(("done", buffer.getvalue(), {k: float(v) for k, v in result.items()}))
    except Exception as exc:  # the parent raises it, one line
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
