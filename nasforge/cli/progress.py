"""A one-line progress display: trials done, best so far, time left."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from nasforge.experiment import Callback
from nasforge.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from nasforge.experiment import Experiment


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class ProgressBar(Callback):
    """Redraws one line on a terminal; prints a line per trial otherwise (logs, CI)."""

    def __init__(self, stream: TextIO | None = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.failed = 0
        self.best: float | None = None
        self.total: int | None = None
        self._durations: list[float] = []
        self._first_step: int | None = None

    def on_run_start(self, experiment: Experiment) -> None:
        trials = experiment.trials
        self.done = sum(r.state.finished for r in trials)
        self.total = experiment.run_max_trials
        scores = [experiment.objective.value(r) for r in trials if r.state is TrialState.COMPLETE]
        valid = [s for s in scores if s is not None]
        if valid:
            self.best = max(valid) if experiment.objective.direction == "maximize" else min(valid)
        if self.done:
            self._write(f"resuming {experiment.name!r}: {self.done} finished trials kept", final=True)
        warm = experiment.warm_started
        if warm is not None and not self.done:
            how = (
                f"told its {warm['trials']} results to the strategy"
                if warm["mode"] == "tell"
                else f"its {warm['enqueued']} best archs are proposed first"
            )
            projected = f" ({warm['projected']} projected onto this space)" if warm["projected"] else ""
            self._write(f"warm start from {warm['source']!r}: {how}{projected}", final=True)

    def on_trial_end(self, experiment: Experiment, record: TrialRecord) -> None:
        self.done += 1
        if record.duration is not None:
            self._durations.append(record.duration)
        value = experiment.objective.value(record)
        if record.state is TrialState.FAILED:
            self.failed += 1
        elif value is not None and (
            self.best is None
            or (value > self.best if experiment.objective.direction == "maximize" else value < self.best)
        ):
            self.best = value
        elapsed = experiment.elapsed()
        left = self._time_left(experiment, elapsed)
        metric = experiment.objective.metric
        best = "-" if self.best is None else f"{self.best:.4f}"
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        bar = ""
        fractions = []
        if self.total:
            fractions.append(self.done / self.total)
        limit = experiment.search_limit
        if limit:
            fractions.append(elapsed / limit)
        if fractions:  # whichever limit comes first
            filled = int(self.width * min(1.0, max(fractions)))
            bar = "[" + "#" * filled + "-" * (self.width - filled) + "] "
        this = "FAILED" if record.state is TrialState.FAILED else (f"{value:.4f}" if value is not None else "-")
        line = (
            f"{bar}{count} trials | trial {record.number}: {this} | best {metric} {best} | "
            f"elapsed {_clock(elapsed)} | left {left}"
        )
        if self.failed:
            line += f" | {self.failed} failed"
        self._write(line, final=not self.tty)

    def on_search_progress(self, experiment: Experiment, step: int, metrics: Mapping[str, float]) -> None:
        total = int(metrics.get("epochs", 0))
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k not in ("epoch", "epochs"))
        count = f"{step}/{total}" if total else str(step)
        if self._first_step is None:  # a resumed search starts past epoch 1
            self._first_step = step - 1
        left = ""
        if total and step > self._first_step:
            per_epoch = experiment.elapsed() / (step - self._first_step)
            left = f" | left {_clock((total - step) * per_epoch)}"
        self._write(f"supernet epoch {count}: {shown} | elapsed {_clock(experiment.elapsed())}{left}", final=True)

    def _time_left(self, experiment: Experiment, elapsed: float) -> str:
        limits = []
        if experiment.search_limit is not None:
            limits.append(experiment.search_limit - elapsed)
        if self.total and self._durations:
            per = elapsed / max(1, len(self._durations))
            limits.append((self.total - self.done) * per)
        return _clock(min(limits)) if limits else "?"

    def on_run_end(self, experiment: Experiment) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, text: str, final: bool) -> None:
        if self.tty and not final:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
