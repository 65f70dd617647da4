"""`SearchContext`: what a strategy's `prepare` may use of the experiment that runs it.

The experiment satisfies it structurally; strategies never import the experiment (it sits above them), and
a test may pass any object with these members.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from nasforge.evaluators.base import BaseEvaluator
from nasforge.space import ModelSpace

__all__ = ["SearchContext"]


class SearchContext(Protocol):
    """The driver-side view of a run, for work done before the first ask (a one-shot supernet's training,
    a zero-cost warm-up's data)."""

    @property
    def space(self) -> ModelSpace: ...

    @property
    def evaluator(self) -> BaseEvaluator:
        """Where a strategy takes data or input shapes from (a supernet's training data, a proxy's batch)."""
        ...

    @property
    def checkpoint_dir(self) -> Path:
        """This experiment's folder for files that make work in `prepare` resumable."""
        ...

    def should_stop(self) -> bool:
        """True once the run was asked to stop or its timeout has passed: `prepare` returns False then."""
        ...

    def search_progress(self, step: int, metrics: Mapping[str, float]) -> None:
        """Store the strategy's state and tell the callbacks of a step of work done in `prepare`."""
        ...

    def save_strategy_state(self) -> None: ...
