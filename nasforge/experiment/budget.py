"""`JobBudget`: one wall-clock budget for a whole job, search, retrain and export together.

A user with 15 minutes does not care how they are split, only that the exported model is there when they
are up and as good as 15 minutes allow. The budget plans the split from the clock as the job goes:

- the search ends when what is left is what the retrain and the export need (`retrain_share` of the total,
  plus `export_reserve` seconds), and it starts no trial that would likely not finish before then (longer
  than the median trial of this run); a running trial is stopped at the search's deadline and kept as
  PRUNED (`nasforge.executors.Job.deadline`);
- the retrain gets the rest, whatever the search left, minus the export's reserve; it trains for that long
  (`ClassificationEvaluator.train_final` with a time budget), however fast the machine is today;
- `spent()` says where the time went.

>>> budget = JobBudget(900, retrain_share=0.5, export_reserve=30)
>>> budget.start(now=0.0)
>>> budget.search_deadline()
420.0
>>> budget.retrain_time(now=400.0)
470.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nasforge.errors import ConfigError


@dataclass
class JobBudget:
    """`total` seconds from the start of the search to the exported model (setup not counted)."""

    total: float
    #: the part of `total` kept for retraining the chosen arch (the search gets the rest, less the reserve)
    retrain_share: float = 0.5
    #: seconds kept for what follows the retrain: the test set, the export formats and their checks
    export_reserve: float = 30.0
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    #: when each phase started and ended, on `clock` (None until it happens)
    marks: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _number(self.total) or self.total <= 0:
            raise ConfigError(f"A job's `total_time` must be a number of seconds > 0, but got {self.total!r}.")
        if not _number(self.retrain_share) or not 0 < self.retrain_share < 1:
            raise ConfigError(
                f"`retrain_share` of a job budget must be a fraction in (0, 1) of the total time, but got "
                f"{self.retrain_share!r}."
            )
        if not _number(self.export_reserve) or self.export_reserve < 0:
            raise ConfigError(
                f"`export_reserve` of a job budget must be seconds >= 0, but got {self.export_reserve!r}."
            )
        if self.total * (1 - self.retrain_share) <= self.export_reserve:
            raise ConfigError(
                f"A job budget of {self.total:g} s leaves no time to search: the retrain's share "
                f"({self.retrain_share:g}) and the export's reserve ({self.export_reserve:g} s) take it all; give a "
                "longer total_time or a smaller retrain_share."
            )

    @classmethod
    def of(cls, value: JobBudget | float | int | None, **options: Any) -> JobBudget | None:
        """A budget from a number of seconds (with `options`), a budget as it is, or None."""
        if value is None or isinstance(value, JobBudget):
            return value
        if not _number(value):
            raise ConfigError(f"`total_time` must be a number of seconds > 0 or None, but got {value!r}.")
        return cls(float(value), **options)

    # --- the plan ----------------------------------------------------------------------------------------------
    def start(self, now: float | None = None) -> None:
        """Start the clock (again: a resumed job gets its whole budget anew)."""
        self.marks = {"start": self.clock() if now is None else now}

    @property
    def started(self) -> bool:
        return "start" in self.marks

    def deadline(self) -> float:
        """When the exported model must be there."""
        return self._at("start") + self.total

    def search_deadline(self) -> float:
        """When the search must have ended: what is left then is the retrain's share and the export's reserve."""
        return self.deadline() - self.export_reserve - self.retrain_share * self.total

    def search_over(self, now: float, typical_trial: float | None = None) -> bool:
        """True once no new trial should start: the search's deadline has come, or the time left to it is less
        than a typical trial of this run takes (it would be stopped unfinished)."""
        left = self.search_deadline() - now
        return left <= 0 or (typical_trial is not None and left < typical_trial)

    def retrain_time(self, now: float | None = None) -> float:
        """Seconds the retrain may take from `now`: the rest of the budget less the export's reserve (at least
        a tenth of the retrain's share, so that a search that overran still leaves a model)."""
        now = self.clock() if now is None else now
        floor = 0.1 * self.retrain_share * self.total
        return max(self.deadline() - self.export_reserve - now, floor)

    # --- the account -------------------------------------------------------------------------------------------
    def mark(self, event: str, now: float | None = None) -> None:
        """Note when `event` happened: `search_end`, `retrain_start`, `retrain_end`, `export_end`."""
        self.marks[event] = self.clock() if now is None else now

    def spent(self) -> dict[str, float]:
        """Seconds per phase so far: `job_search_time`, `job_retrain_time`, `job_export_time` (what follows
        the retrain), `job_time` (all of it) and `job_budget` (the total)."""
        m = self.marks
        out = {"job_budget": float(self.total)}
        if "search_end" in m:
            out["job_search_time"] = m["search_end"] - m["start"]
        if "retrain_start" in m and "retrain_end" in m:
            out["job_retrain_time"] = m["retrain_end"] - m["retrain_start"]
        if "retrain_end" in m and "export_end" in m:
            out["job_export_time"] = m["export_end"] - m["retrain_end"]
        if "start" in m:
            out["job_time"] = max(m.values()) - m["start"]
        return out

    def _at(self, event: str) -> float:
        if event not in self.marks:
            raise ConfigError("The job budget was not started; Experiment.run(total_time=...) starts it.")
        return self.marks[event]


def typical_duration(durations: list[float]) -> float | None:
    """The median of a run's finished trial durations (None before the first): what the next trial likely takes."""
    if not durations:
        return None
    ordered = sorted(durations)
    return ordered[len(ordered) // 2]


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
