"""`ConstraintGate`: constraints checked before a proposal is trained, where the metric needs no training.

A constraint on parameters, FLOPs or measured latency is known from the arch alone: a proposal that breaks
one is refused before it costs a trial (nothing is stored), and the strategy hears of it as a failed
synthetic record, so that it learns to avoid such archs. A search whose strategy keeps proposing such archs
stops with `ConstraintsUnmet`, saying how close it came.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

from nasforge.cost import LatencyMeter
from nasforge.errors import ConfigError
from nasforge.evaluators.base import BaseEvaluator
from nasforge.multiobjective.objectives import Constraint
from nasforge.space import Arch, ModelSpace
from nasforge.strategies import BaseStrategy
from nasforge.strategies.middleware import SYNTHETIC
from nasforge.trial import Proposal, TrialRecord, TrialState

__all__ = ["MAX_REJECTIONS_IN_A_ROW", "ConstraintGate", "ConstraintsUnmet"]

#: proposals refused by the constraints one after another before the run gives up (`ConstraintsUnmet`)
MAX_REJECTIONS_IN_A_ROW = 1000


class ConstraintsUnmet(ConfigError):
    """The strategy keeps proposing archs that break the constraints: the search cannot go on."""


class ConstraintGate:
    """The metrics of an arch known before training (`static_metrics`), and the refusal of proposals that
    break a constraint on them, counted over one run (`rejected`)."""

    def __init__(
        self,
        name: str,
        space: ModelSpace,
        evaluator: BaseEvaluator,
        strategy: BaseStrategy,
        constraints: Sequence[Constraint],
        latency: LatencyMeter | None,
    ) -> None:
        self.name = name
        self.space = space
        self.evaluator = evaluator
        self.strategy = strategy
        self.constraints = tuple(constraints)
        self.latency = latency
        #: proposals refused by a constraint before training, in this run (the strategy hears of each)
        self.rejected = 0
        self.rejected_in_a_row = 0
        self.closest: dict[str, float] = {}  # per constraint, the value seen closest to meeting it

    def static_metrics(self, arch: Arch) -> dict[str, float]:
        """What can be known of `arch` without training it and is needed: the constrained metrics the evaluator
        can give (`static_metrics`), and the measured latency when the experiment measures it."""
        names = {c.metric for c in self.constraints}
        out = self.evaluator.static_metrics(self.space, arch, names) if names else {}
        if self.latency is not None:
            out["latency_ms"] = self.latency(self.space, arch)
        return out

    def admits(self, proposal: Proposal, arch: Arch, static: Mapping[str, float]) -> bool:
        """True when `arch` breaks no constraint it can be checked against now; otherwise the proposal is
        refused: the strategy is told, and after too many refusals in a row the search stops."""
        broken = [c for c in self.constraints if c.check(static) is False]
        if not broken:
            self.rejected_in_a_row = 0
            return True
        self._reject(proposal, arch, static, broken)
        return False

    def _reject(
        self, proposal: Proposal, arch: Arch, static: Mapping[str, float], broken: Sequence[Constraint]
    ) -> None:
        self.rejected += 1
        self.rejected_in_a_row += 1
        for c in broken:
            seen = self.closest.get(str(c))
            value = float(static[c.metric])
            if seen is None or (value < seen if c.op == "<=" else value > seen):
                self.closest[str(c)] = value
        shown = ", ".join(f"{c.metric} = {static[c.metric]:g}, not {c.op} {c.bound:g}" for c in broken)
        self.strategy.tell(
            TrialRecord(
                SYNTHETIC,
                arch,
                proposal.budget,
                TrialState.FAILED,
                metrics=dict(static),
                error=f"ConstraintViolated: {shown}",
                info={**proposal.info, "rejected": True},
            )
        )
        if self.rejected_in_a_row >= MAX_REJECTIONS_IN_A_ROW:
            closest = "; ".join(f"{c}: closest {v:g}" for c, v in self.closest.items())
            raise ConstraintsUnmet(
                f"Experiment {self.name!r}: {self.rejected_in_a_row} proposals in a row broke the constraints before "
                f"training ({closest}); the space seems to hold few archs that meet them on this machine. Loosen the "
                "constraints, or shrink the space towards smaller networks."
            )
        if self.rejected % 1000 == 0:
            warnings.warn(
                f"Experiment {self.name!r}: {self.rejected} proposals broke the constraints "
                f"({', '.join(map(str, self.constraints))}) before training; loosen them if few archs can meet "
                "them.",
                stacklevel=6,  # Experiment.run's caller: run -> TrialLoop.run -> _fill -> admits -> _reject
            )
