"""`BaseStorage`: where experiments and their trials live. Every write is committed before it returns."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nasforge.errors import StorageError, suggest
from nasforge.trial import TrialRecord, TrialState


@dataclass(frozen=True)
class ExperimentRow:
    id: int
    name: str
    config: Mapping[str, Any]
    strategy_state: Mapping[str, Any] | None
    status: str
    created_at: float
    state_version: int = 0  # counts the writes of `strategy_state`


@dataclass(frozen=True)
class Turn:
    """What `BaseStorage.begin_turn` answers: whether the turn at the strategy is `owner`'s now, who holds it
    (`holder`), the version of the strategy state stored and the number of trials the experiment holds."""

    granted: bool
    holder: str | None
    version: int
    n_trials: int


class BaseStorage(abc.ABC):
    """The experiment loop's only persistence. Methods that take a strategy state write it in the same
    transaction as the trial change, so a crash never leaves one without the other."""

    @abc.abstractmethod
    def create_experiment(self, name: str, config: Mapping[str, Any]) -> ExperimentRow: ...

    @abc.abstractmethod
    def get_experiment(self, name: str) -> ExperimentRow | None: ...

    @abc.abstractmethod
    def list_experiments(self) -> list[ExperimentRow]: ...

    def require_experiment(self, name: str) -> ExperimentRow:
        """The experiment `name`, or a `StorageError` that suggests the closest name and lists those here."""
        row = self.get_experiment(name)
        if row is None:
            names = [r.name for r in self.list_experiments()]
            listing = ", ".join(map(repr, names)) or "none"
            raise StorageError(
                f"No experiment named {name!r} in {self}.{suggest(name, names)} Experiments there: {listing}."
            )
        return row

    @abc.abstractmethod
    def delete_experiment(self, name: str) -> None: ...

    @abc.abstractmethod
    def set_status(self, experiment_id: int, status: str) -> None: ...

    @abc.abstractmethod
    def add_trial(
        self, experiment_id: int, record: TrialRecord, strategy_state: Mapping[str, Any], owner: str | None = None
    ) -> None:
        """Insert a new trial under its own number, and the strategy state after the ask that proposed it.
        `owner` names the driver running it (see `claim_trials`)."""

    @abc.abstractmethod
    def append_trial(
        self, experiment_id: int, record: TrialRecord, strategy_state: Mapping[str, Any], owner: str | None = None
    ) -> TrialRecord:
        """Insert a new trial under the next free number, chosen atomically (concurrent writers never collide),
        with the strategy state; return the record with its number."""

    @abc.abstractmethod
    def heartbeat(self, experiment_id: int, numbers: Sequence[int], owner: str, at: float) -> None:
        """Stamp `owner`'s running trials `numbers` as alive at `at` (seconds since the epoch)."""

    @abc.abstractmethod
    def running_owners(self, experiment_id: int) -> dict[str | None, float | None]:
        """The owners of the experiment's unfinished trials, each with its latest heartbeat."""

    @abc.abstractmethod
    def claim_trials(
        self, experiment_id: int, owner: str, stale_before: float, dead_owners: Sequence[str] = ()
    ) -> list[int]:
        """Atomically take over the unfinished trials that have no owner, are `owner`'s already, belong to one of
        `dead_owners`, or whose heartbeat is older than `stale_before`; return their numbers, in order. Two
        drivers claiming at once never both get a trial."""

    @abc.abstractmethod
    def begin_turn(self, experiment_id: int, owner: str, until: float, dead: str | None = None) -> Turn:
        """Give `owner` the experiment's strategy until it calls `end_turn` or `until` (seconds since the epoch)
        passes: granted when no driver holds it, `owner` does, its holder's turn lapsed or its holder is `dead`.
        Drivers sharing one experiment take turns so that one strategy state, loaded when another driver
        changed it (`Turn.version`), asks and tells for all of them."""

    @abc.abstractmethod
    def end_turn(self, experiment_id: int, owner: str) -> None:
        """End `owner`'s turn at the strategy (nothing, if the turn is not `owner`'s)."""

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
