"""`StrategyTurns`: several drivers of one experiment share one strategy by taking turns at it.

Every driver (a `nasforge run` process, an `Experiment.run` call, on any machine that reaches the storage) holds
its own copy of the strategy. Before it asks or tells, it takes the experiment's turn in the storage (a lease
on the experiment's row, `BaseStorage.begin_turn`); if another driver wrote the strategy's state since this
one last did (the stored version moved), it loads that state first. Its asks and tells then write the new state
in the same transaction as the trial they concern (`append_trial`, `mark_told`), and it ends its turn. So the
drivers' asks and tells form one sequence, as if one strategy served every worker of every driver: every
strategy whose state resumes (the conformance suite checks that it does) cooperates with no code of its own.

A driver that dies during its turn holds it until the turn lapses (`lease` seconds) or, on the same host, until
its death is seen; the others wait meanwhile. Waiting is polling the storage, a few times a second at most.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from nasforge.errors import StorageError
from nasforge.experiment.driver import is_dead
from nasforge.storage import BaseStorage, Turn

if TYPE_CHECKING:
    from nasforge.strategies.base import BaseStrategy

__all__ = ["StrategyTurns"]

# seconds between two attempts at a turn another driver holds: short enough that a waiting driver is there
# when the turn is free (a driver that polls slowly loses every turn to one that takes its next turn at once)
_POLL_MIN, _POLL_MAX = 0.001, 0.02


class StrategyTurns:
    """The turns of driver `owner` at experiment `name`'s strategy (its copy: `strategy`) in `storage`."""

    def __init__(
        self, storage: BaseStorage, name: str, experiment_id: int, owner: str, strategy: BaseStrategy, lease: float
    ) -> None:
        self.storage, self.name, self.exp_id, self.owner = storage, name, experiment_id, owner
        self.strategy = strategy
        self.lease = float(lease)
        self.version: int | None = None  # of the stored state this driver's strategy holds; None: not yet loaded
        self.writes = 0  # of the strategy's state, by this driver (`wrote`)
        self.waited = 0.0  # seconds spent waiting for other drivers' turns
        self.loads = 0  # states loaded because another driver wrote one

    @contextlib.contextmanager
    def turn(self) -> Iterator[Turn]:
        """This driver's turn, with the strategy brought up to date; every state write inside it counts."""
        granted = self._begin()
        before, ok = self.writes, False
        try:
            if granted.version != self.version:
                self._load(first=self.version is None)
            yield granted
            ok = True
        finally:
            # each write of this turn moved the version by one, and no other driver wrote meanwhile; after an
            # error the strategy may hold what was never written: the next turn loads the stored state again
            self.version = granted.version + (self.writes - before) if ok else None
            self.storage.end_turn(self.exp_id, self.owner)

    def wrote(self) -> None:
        """Count one write of the strategy's state made in this turn (`append_trial`, `mark_told`)."""
        self.writes += 1

    def _begin(self) -> Turn:
        pause, started, dead = _POLL_MIN, time.monotonic(), None
        while True:
            granted = self.storage.begin_turn(self.exp_id, self.owner, time.time() + self.lease, dead)
            if granted.granted:
                self.waited += time.monotonic() - started
                return granted
            holder = granted.holder
            dead = holder if holder is not None and is_dead(holder) else None
            if dead is None:
                time.sleep(pause)
                pause = min(_POLL_MAX, pause * 2)

    def _load(self, first: bool) -> None:
        row = self.storage.get_experiment(self.name)
        if row is None or not row.strategy_state:
            return
        try:
            self.strategy.load_state_dict(row.strategy_state)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StorageError(
                f"Experiment {self.name!r} was saved by strategy {row.config.get('strategy')}, whose state "
                f"{self.strategy!r} cannot resume ({type(exc).__name__}: {exc}); resume with the same "
                "strategy and middleware, or give this search a new experiment name."
            ) from exc
        if not first:
            self.loads += 1
