"""REINFORCE (Williams 1992) over the space's decisions, as in Zoph & Le (ICLR 2017) and the REINFORCE
baseline of NAS-Bench-201: a policy of independent categorical distributions, one per decision, trained
by policy gradient with an exponential-moving-average baseline."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nasforge.errors import ConfigError
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy
from nasforge.trial import Proposal, TrialRecord


class REINFORCE(BaseStrategy):
    """Sample archs from a factorised softmax policy; after each result, step its logits along
    `(reward - baseline) * grad log p(arch)`.

    Decisions are sampled top-down, so a decision that is inactive in an arch is neither sampled nor
    updated. The reward is the objective, signed so that larger is better; failed trials are skipped.
    `learning_rate` applies to rewards in the objective's own units (e.g. accuracy in percent on
    NAS-Bench-201); `baseline_decay` is the moving average's decay. Asynchronous: a result updates the
    current policy whenever it arrives.
    """

    accepts_history = True

    def __init__(self, learning_rate: float = 0.02, baseline_decay: float = 0.9, entropy_weight: float = 0.0) -> None:
        for name, value, ok in (
            ("learning_rate", learning_rate, isinstance(learning_rate, (int, float)) and learning_rate > 0),
            ("baseline_decay", baseline_decay, isinstance(baseline_decay, (int, float)) and 0 <= baseline_decay < 1),
            ("entropy_weight", entropy_weight, isinstance(entropy_weight, (int, float)) and entropy_weight >= 0),
        ):
            if not ok or isinstance(value, bool) or not math.isfinite(float(value)):
                raise ConfigError(f"`{name}` of REINFORCE must be a finite number {_RANGES[name]}, but got {value!r}.")
        self.learning_rate = float(learning_rate)
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = float(entropy_weight)
        self._logits: list[np.ndarray] = []
        self._baseline: float | None = None

    def _setup(self) -> None:
        self._logits = [np.zeros(len(d.values)) for d in self.decisions]

    def probabilities(self) -> dict[str, list[float]]:
        """The policy: per decision label, the probability of each value."""
        return {d.label: _softmax(z).tolist() for d, z in zip(self.decisions, self._logits)}

    def _ask(self) -> Proposal:
        values: dict[str, Any] = {}
        for d, z in zip(self.decisions, self._logits):
            if d.is_active(values):
                values[d.label] = d.values[int(self.rng.choice(len(d.values), p=_softmax(z)))]
        return Proposal(Arch(values))

    def _tell(self, record: TrialRecord) -> None:
        reward = self.score(record)
        if reward is None:
            return
        if self._baseline is None:
            self._baseline = reward
        advantage = reward - self._baseline
        self._baseline = self.baseline_decay * self._baseline + (1 - self.baseline_decay) * reward
        for d, z in zip(self.decisions, self._logits):
            if d.label not in record.arch:
                continue
            p = _softmax(z)
            grad = -p
            grad[d.index(record.arch[d.label])] += 1.0
            z += self.learning_rate * advantage * grad
            if self.entropy_weight:
                logp = np.log(p + 1e-12)
                z -= self.learning_rate * self.entropy_weight * p * (logp - float(np.dot(p, logp)))

    def _state_dict(self) -> dict[str, Any]:
        return {"logits": [z.tolist() for z in self._logits], "baseline": self._baseline}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._logits = [np.asarray(z, dtype=np.float64) for z in state["logits"]]
        self._baseline = state["baseline"]

    def __repr__(self) -> str:
        return f"REINFORCE(learning_rate={self.learning_rate}, baseline_decay={self.baseline_decay})"


_RANGES = {"learning_rate": "> 0", "baseline_decay": "in [0, 1)", "entropy_weight": ">= 0"}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()
