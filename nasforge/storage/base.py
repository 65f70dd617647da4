"""`BaseStorage`: where experiments and their trials live. Every write is committed before it returns."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nasforge.trial import TrialRecord, TrialState


@dataclass(frozen=True)
class ExperimentRow:
    id: int
    name: str
    config: Mapping[str, Any]
    strategy_state: Mapping[str, Any] | None
    status: str
    created_at: float


class BaseStorage(abc.ABC):
    """The experiment loop's only persistence. Methods that take a strategy state write it in the same
    transaction as the trial change, so a crash never leaves one without the other."""

    @abc.abstractmethod
    def create_experiment(self, name: str, config: Mapping[str, Any]) -> ExperimentRow: ...

    @abc.abstractmethod
    def get_experiment(self, name: str) -> ExperimentRow | None: ...

    @abc.abstractmethod
    def list_experiments(self) -> list[ExperimentRow]: ...

    @abc.abstractmethod
    def delete_experiment(self, name: str) -> None: ...

    @abc.abstractmethod
    def set_status(self, experiment_id: int, status: str) -> None: ...

    @abc.abstractmethod
    def add_trial(self, experiment_id: int, record: TrialRecord, strategy_state: Mapping[str, Any]) -> None:
        """Insert a new trial and the strategy state after the ask that proposed it."""

    @abc.abstractmethod
    def update_trial(self, experiment_id: int, record: TrialRecord) -> None:
        """Write a trial's new state, metrics, error and times (its `told` flag is untouched)."""

    @abc.abstractmethod
    def mark_told(self, experiment_id: int, numbers: Sequence[int], strategy_state: Mapping[str, Any]) -> None:
        """Record that the strategy has been told these trials, with its state after the tells."""

    @abc.abstractmethod
    def add_report(self, experiment_id: int, number: int, step: int, metrics: Mapping[str, float]) -> None: ...

    @abc.abstractmethod
    def get_reports(self, experiment_id: int, number: int) -> list[tuple[int, dict[str, float]]]: ...

    @abc.abstractmethod
    def get_trials(self, experiment_id: int, states: Sequence[TrialState] | None = None) -> list[TrialRecord]: ...

    @abc.abstractmethod
    def untold_numbers(self, experiment_id: int) -> list[int]:
        """Finished trials whose result the strategy has not yet been told (a crash came in between)."""

    def exists(self) -> bool:
        """False while the storage is certainly empty and was never created (a SQLite file not yet written), so
        a lookup need not create it; True otherwise."""
        return True

    def close(self) -> None:
        return None
