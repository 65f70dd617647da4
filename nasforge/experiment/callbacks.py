"""Hooks into the experiment loop (progress bars, logging, dashboards). All methods are optional no-ops."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nasforge.trial import TrialRecord

if TYPE_CHECKING:
    from nasforge.experiment.experiment import Experiment


class Callback:
    def on_run_start(self, experiment: Experiment) -> None:
        return None

    def on_trial_start(self, experiment: Experiment, record: TrialRecord) -> None:
        return None

    def on_report(self, experiment: Experiment, number: int, step: int, metrics: Mapping[str, float]) -> None:
        return None

    def on_trial_end(self, experiment: Experiment, record: TrialRecord) -> None:
        return None

    def on_search_progress(self, experiment: Experiment, step: int, metrics: Mapping[str, float]) -> None:
        """Progress of work the strategy does in the driver (a one-shot strategy's supernet epochs)."""
        return None

    def on_run_end(self, experiment: Experiment) -> None:
        return None
