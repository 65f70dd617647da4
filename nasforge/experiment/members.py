"""Retrain the members of an export within its time budget, each for the epochs it is owed.

A member is owed its epochs (`Experiment.export`'s `epochs`, else those its trial was measured with): an
ensemble of undertrained members is worse than a smaller one of trained members. So the first member trains
with all the time there is (it stops at its epochs); its wall time, training and the rest (building the
network, testing it) together, then tells how many of the others fit in what is left, each at its own
epochs; those that do not fit are left out, with a warning, and the rest share the time left equally. Each
member's training budget is its share less the time its network costs besides training (measured on the
members before), so that the members' wall time together keeps the budget. Without a budget every member
trains for its epochs. `retrain_members` also returns the account written to `export.json`: per member its
epochs owed and trained, its training time and wall time.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

from torch import nn

from nasforge.evaluators.base import RetrainableEvaluator
from nasforge.space import ModelSpace
from nasforge.trial import TrialRecord

__all__ = ["member_account", "owed_epochs", "retrain_members"]


def owed_epochs(record: TrialRecord, epochs: int | None) -> int:
    """The epochs a member is retrained for: `epochs` if given, else those its trial was measured with."""
    return epochs if epochs is not None else max(1, int(float(record.metrics.get("epochs", 1))))


def retrain_members(
    trainer: RetrainableEvaluator,
    space: ModelSpace,
    runs: Sequence[tuple[TrialRecord, int]],
    epochs: int | None,
    log: Any = None,
    time_budget: float | None = None,
    starts: Sequence[str | None] | None = None,
) -> tuple[list[tuple[TrialRecord, int]], list[nn.Module], list[dict[str, float]], dict[str, Any]]:
    """Retrain each (trial, seed) of `runs` in order with `trainer.train_final`, within `time_budget` seconds
    in all, each from the weights file of `starts` at its place, if any (else from scratch); returns the runs
    kept, their networks, their results and the account for `export.json`."""
    kept = list(runs)
    networks: list[nn.Module] = []
    results: list[dict[str, float]] = []
    account: list[dict[str, Any]] = []
    started = time.monotonic()
    member_cost: float | None = None  # wall seconds of the last member per epoch owed (training and the rest)
    overheads: list[float] = []  # wall seconds of each member outside its training
    i = 0
    while i < len(kept):
        record, seed = kept[i]
        owed = owed_epochs(record, epochs)
        budget = None
        if time_budget is not None:
            left = time_budget - (time.monotonic() - started)
            if member_cost is not None and len(kept) - i > 1:
                fit = int(max(left, 0.0) // (member_cost * owed))
                if fit < len(kept) - i:
                    _warn_smaller(len(runs), i + fit, time_budget, member_cost * owed)
                    kept = kept[: i + fit]
                    if i == len(kept):
                        break
            overhead = sum(overheads) / len(overheads) if overheads else 0.0
            budget = left if i == 0 else max(left / (len(kept) - i) - overhead, 0.0)
        member_start = time.monotonic()
        start = starts[i] if starts is not None else None
        network, result = trainer.train_final(space, record.arch, owed, seed, log, budget, weights_in=start)
        wall = time.monotonic() - member_start
        train_time = float(result.get("train_time", wall))
        trained = float(result.get("epochs", owed))
        overheads.append(max(wall - train_time, 0.0))
        if trained > 0:
            member_cost = (train_time / trained) + overheads[-1] / owed
        networks.append(network)
        results.append(result)
        account.append(member_account(record, seed, owed, result, wall, start, budget))
        i += 1
    summary: dict[str, Any] = {
        "time_budget": time_budget,
        "wall_time": round(time.monotonic() - started, 3),
        "members_asked": len(runs),
        "members": account,
    }
    return kept, networks, results, summary


def member_account(
    record: TrialRecord,
    seed: int,
    owed: int,
    result: dict[str, float],
    wall: float,
    start: str | None,
    budget: float | None,
) -> dict[str, Any]:
    """One member's line of `export.json`'s `retrain`: its epochs owed and trained, training and wall time, the
    share it inherited (when it started from saved weights) and its time budget (when it had one)."""
    return {
        "trial": record.number,
        "seed": seed,
        "epochs_owed": owed,
        "epochs": round(float(result.get("epochs", owed)), 3),
        "train_time": round(float(result.get("train_time", wall)), 3),
        "wall_time": round(wall, 3),
        **({"inherited": round(float(result.get("inherited", 0.0)), 4)} if start is not None else {}),
        **({"time_budget": round(budget, 3)} if budget is not None else {}),
    }


def _warn_smaller(asked: int, fit: int, budget: float, cost: float) -> None:
    warnings.warn(
        f"The ensemble is smaller than asked: {fit} of {asked} members fit in the export's time budget of "
        f"{budget:g} s at the epochs each is owed (a member takes about {cost:.1f} s); give a larger "
        "export.time_budget (or --time-budget) for all of them, or fewer epochs.",
        stacklevel=5,  # Experiment.export's caller
    )
