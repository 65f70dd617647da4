"""Trials as every layer sees them: `Proposal` (what to evaluate), `TrialRecord` (what happened), `Objective`."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from nasforge.errors import ConfigError
from nasforge.space.arch import Arch


class TrialState(str, enum.Enum):
    PENDING = "PENDING"  # asked and stored, not started (or requeued after a crash)
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    PRUNED = "PRUNED"  # stopped early on purpose; its last intermediate metrics stand

    @property
    def finished(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)


@dataclass(frozen=True)
class Proposal:
    """What a strategy asks to evaluate: an arch and optionally a budget (epochs, fidelity, ...)."""

    arch: Arch
    budget: float | None = None
    info: Mapping[str, Any] = field(default_factory=dict)  # strategy's own bookkeeping, stored as JSON


@dataclass(frozen=True)
class TrialRecord:
    """One evaluation of one arch at one budget, frozen once stored."""

    number: int
    arch: Arch
    budget: float | None = None
    state: TrialState = TrialState.PENDING
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def with_(self, **changes: Any) -> TrialRecord:
        return replace(self, **changes)


@dataclass(frozen=True)
class Objective:
    """The metric to optimise and its direction."""

    metric: str = "val_acc"
    direction: str = "maximize"

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"An objective's metric must be a non-empty string, but got {self.metric!r}.")
        if self.direction not in ("maximize", "minimize"):
            raise ConfigError(f"An objective's direction must be 'maximize' or 'minimize', but got {self.direction!r}.")

    @property
    def sign(self) -> float:
        return 1.0 if self.direction == "maximize" else -1.0

    def value(self, record: TrialRecord) -> float | None:
        """The raw metric of a finished trial, or None if it has none (failed, or not reported)."""
        if record.state not in (TrialState.COMPLETE, TrialState.PRUNED):
            return None
        v = record.metrics.get(self.metric)
        if v is None or not math.isfinite(float(v)):
            return None
        return float(v)

    def score(self, record: TrialRecord) -> float | None:
        """The metric signed so that larger is better (what strategies compare)."""
        v = self.value(record)
        return None if v is None else self.sign * v

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | Objective) -> Objective:
        """`"val_acc"`, `"max:val_acc"`, `"min:val_loss"`, or a mapping with metric and direction."""
        if isinstance(spec, Objective):
            return spec
        if isinstance(spec, Mapping):
            return cls(**spec)
        if not isinstance(spec, str):
            raise ConfigError(f"An objective is written 'max:metric' or 'min:metric', but got {spec!r}.")
        if ":" in spec:
            head, metric = spec.split(":", 1)
            directions = {
                "max": "maximize",
                "min": "minimize",
                "maximize": "maximize",
                "minimize": "minimize",
            }
            if head not in directions:
                raise ConfigError(f"An objective is written 'max:metric' or 'min:metric', but got {spec!r}.")
            return cls(metric, directions[head])
        return cls(spec, "minimize" if "loss" in spec or "error" in spec else "maximize")
