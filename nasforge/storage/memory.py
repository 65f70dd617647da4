"""`InMemoryStorage`: the storage contract without a database, for simulations and tests.

Nothing survives the process; use `SQLStorage` for anything that must resume after a crash.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nasforge.errors import StorageError
from nasforge.storage.base import BaseStorage, ExperimentRow, Turn
from nasforge.trial import TrialRecord, TrialState


@dataclass
class _Experiment:
    row: ExperimentRow
    trials: dict[int, TrialRecord] = field(default_factory=dict)
    told: set[int] = field(default_factory=set)
    reports: dict[int, list[tuple[int, dict[str, float]]]] = field(default_factory=dict)
    owners: dict[int, tuple[str | None, float | None]] = field(default_factory=dict)  # number -> (owner, heartbeat)
    next_number: int = 0
    lease: tuple[str, float] | None = None  # (owner, until): whose turn it is at the strategy


class InMemoryStorage(BaseStorage):
    def __init__(self) -> None:
        self._by_name: dict[str, _Experiment] = {}
        self._by_id: dict[int, _Experiment] = {}

    def _exp(self, experiment_id: int) -> _Experiment:
        try:
            return self._by_id[experiment_id]
        except KeyError:
            raise StorageError(f"No experiment with id {experiment_id} in memory.") from None

    def create_experiment(self, name: str, config: Mapping[str, Any]) -> ExperimentRow:
        if name in self._by_name:
            raise StorageError(f"An experiment named {name!r} already exists in memory.")
        row = ExperimentRow(len(self._by_id) + 1, name, copy.deepcopy(dict(config)), None, "created", time.time())
        exp = _Experiment(row)
        self._by_name[name] = self._by_id[row.id] = exp
        return row

    def get_experiment(self, name: str) -> ExperimentRow | None:
        exp = self._by_name.get(name)
        return None if exp is None else exp.row

    def list_experiments(self) -> list[ExperimentRow]:
        return [e.row for e in self._by_id.values()]

    def delete_experiment(self, name: str) -> None:
        exp = self._by_name.pop(name, None)
        if exp is None:
            raise StorageError(f"No experiment named {name!r} in memory.")
        del self._by_id[exp.row.id]

    def set_status(self, experiment_id: int, status: str) -> None:
        exp = self._exp(experiment_id)
        exp.row = dataclasses.replace(exp.row, status=status)

    def _set_state(self, exp: _Experiment, strategy_state: Mapping[str, Any]) -> None:
        exp.row = dataclasses.replace(exp.row, strategy_state=strategy_state, state_version=exp.row.state_version + 1)

    def begin_turn(self, experiment_id: int, owner: str, until: float, dead: str | None = None) -> Turn:
        exp = self._exp(experiment_id)
        if exp.lease is None or exp.lease[0] in (owner, dead) or exp.lease[1] < time.time():
            exp.lease = (owner, until)
        return Turn(exp.lease[0] == owner, exp.lease[0], exp.row.state_version, exp.next_number)

    def end_turn(self, experiment_id: int, owner: str) -> None:
        exp = self._exp(experiment_id)
        if exp.lease is not None and exp.lease[0] == owner:
            exp.lease = None

    def add_trial(
        self, experiment_id: int, record: TrialRecord, strategy_state: Mapping[str, Any], owner: str | None = None
    ) -> None:
        exp = self._exp(experiment_id)
        if record.number in exp.trials:
            raise StorageError(f"Trial {record.number} of experiment {experiment_id} exists already.")
        exp.trials[record.number] = record
        exp.next_number = max(exp.next_number, record.number + 1)
        exp.owners[record.number] = (owner, time.time() if owner is not None else None)
        self._set_state(exp, strategy_state)

    def append_trial(
        self, experiment_id: int, record: TrialRecord, strategy_state: Mapping[str, Any], owner: str | None = None
    ) -> TrialRecord:
        exp = self._exp(experiment_id)
        numbered = record.with_(number=exp.next_number)
        self.add_trial(experiment_id, numbered, strategy_state, owner)
        return numbered

    def heartbeat(self, experiment_id: int, numbers: Sequence[int], owner: str, at: float) -> None:
        exp = self._exp(experiment_id)
        for n in numbers:
            if exp.owners.get(n, (None, None))[0] == owner:
                exp.owners[n] = (owner, at)

    def running_owners(self, experiment_id: int) -> dict[str | None, float | None]:
        exp = self._exp(experiment_id)
        out: dict[str | None, float | None] = {}
        for n, r in exp.trials.items():
            if not r.state.finished:
                who, beat = exp.owners.get(n, (None, None))
                prev = out.get(who)
                out[who] = beat if prev is None or (beat is not None and beat > prev) else prev
        return out

    def claim_trials(
        self, experiment_id: int, owner: str, stale_before: float, dead_owners: Sequence[str] = ()
    ) -> list[int]:
        exp = self._exp(experiment_id)
        claimed = []
        for n in sorted(exp.trials):
            who, beat = exp.owners.get(n, (None, None))
            takeable = who is None or who == owner or who in dead_owners or beat is None or beat < stale_before
            if not exp.trials[n].state.finished and takeable:
                exp.owners[n] = (owner, time.time())
                claimed.append(n)
        return claimed

    def update_trial(self, experiment_id: int, record: TrialRecord) -> None:
        exp = self._exp(experiment_id)
        if record.number not in exp.trials:
            raise StorageError(f"Trial {record.number} of experiment {experiment_id} is not in the storage.")
        exp.trials[record.number] = record

    def mark_told(self, experiment_id: int, numbers: Sequence[int], strategy_state: Mapping[str, Any]) -> None:
        exp = self._exp(experiment_id)
        exp.told.update(numbers)
        self._set_state(exp, strategy_state)

    def add_report(self, experiment_id: int, number: int, step: int, metrics: Mapping[str, float]) -> None:
        self._exp(experiment_id).reports.setdefault(number, []).append((step, dict(metrics)))

    def get_reports(self, experiment_id: int, number: int) -> list[tuple[int, dict[str, float]]]:
        return list(self._exp(experiment_id).reports.get(number, []))

    def get_trials(self, experiment_id: int, states: Sequence[TrialState] | None = None) -> list[TrialRecord]:
        records = sorted(self._exp(experiment_id).trials.values(), key=lambda r: r.number)
        return records if states is None else [r for r in records if r.state in states]

    def untold_numbers(self, experiment_id: int) -> list[int]:
        exp = self._exp(experiment_id)
        untold = [r for r in exp.trials.values() if r.state.finished and r.number not in exp.told]
        return [r.number for r in sorted(untold, key=lambda r: (r.finished_at or 0.0, r.number))]

    def __repr__(self) -> str:
        return "InMemoryStorage()"
