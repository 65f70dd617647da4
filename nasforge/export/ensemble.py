"""`Ensemble`: several trained networks that answer as one, by averaging their class probabilities.

A search ends with many good archs; retraining the few best and averaging them (as auto-sklearn's and
AutoGluon's final ensembles do) usually beats the single best on held-out data, since their errors differ.
The ensemble is an ordinary `nn.Module`, so it exports, traces and loads like one network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.errors import ConfigError

__all__ = ["Ensemble", "check_ensemble_seeds", "check_ensemble_size", "check_time_budget"]


class Ensemble(nn.Module):
    """The members' softmax probabilities averaged; returns their logarithm, which are logits (the argmax is
    the ensemble's class and a softmax gives the averaged probabilities back)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ConfigError("An Ensemble needs at least one member network, but got none.")
        self.members = nn.ModuleList(members)
        self.log_size = math.log(len(members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([F.log_softmax(member(x), dim=-1) for member in self.members])
        return torch.logsumexp(log_probs, dim=0) - self.log_size


def check_ensemble_size(size: object) -> int:
    """`size` as the number of members of an exported ensemble (1: the single best network)."""
    return _check_count(
        size,
        "The ensemble size is the number of best archs retrained and averaged at export",
        "(1 = the best arch alone)",
        "export.ensemble: 5 or --ensemble 5",
    )


def check_ensemble_seeds(seeds: object) -> int:
    """`seeds` as how many times each arch of an export is retrained, each time with the next seed."""
    return _check_count(
        seeds,
        "The ensemble seeds are how many times each exported arch is retrained from scratch, with seeds "
        "seed, seed + 1, ..., and averaged at export",
        "(1 = once)",
        "export.ensemble_seeds: 5 or --ensemble-seeds 5",
    )


def check_time_budget(budget: object, given: str) -> float | None:
    """`budget` as the seconds an export's retraining may take (None: no limit); `given` names where it came
    from (a flag, a config key, an argument) for the error."""
    if budget is None:
        return None
    if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not budget > 0:
        raise ConfigError(
            f"{given} must be a number of seconds > 0 (or null for no limit), but got {budget!r}; e.g. 300."
        )
    return float(budget)


def _check_count(value: object, what: str, one: str, example: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{what}: an int >= 1 {one}, but got {value!r}; e.g. {example}.")
    return value
