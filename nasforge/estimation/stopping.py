"""Learning-curve early stopping: rules that end a training trial whose curve shows it will not win.

A trial reports its metrics after each epoch (`EvalContext.report`). When the experiment has a stopping
rule, each report is checked against the curves of the trials that already completed, and a trial that
should stop ends at once as PRUNED, keeping its last reported metrics. Completed curves are compared step by
step, so only curves of the same kind count as peers: the same budget, and trained from scratch or from
inherited weights alike (`nasforge.estimation.tracking.curve_kind`).

- `MedianStopping` (Golovin et al. 2017, Google Vizier's median stopping rule; Optuna's `MedianPruner`
  compares the same way): stop at step t when the trial's best value so far is worse than the median (or
  another `percentile`) of the completed trials' best values up to step t.
- `CurveExtrapolation` (after Baker et al. 2018, "Accelerating Neural Architecture Search using Performance
  Prediction", and Domhan et al. 2015): predict the final value from the partial curve with a linear model
  fitted on the completed curves (final value against the value at step t and the last step's gain), and
  stop when even the optimistic end of the prediction interval (`z` standard errors above the prediction)
  stays below the best completed final value: the trial has little chance of becoming the best.

Neither rule stops before `min_step`, with fewer than `min_trials` completed peers, or at the peers' last
step (stopping there saves nothing). Values are scores, larger is better (the objective's sign applied).

>>> rule = MedianStopping(min_trials=2)
>>> peers = [[0.5, 0.7], [0.6, 0.8], [0.7, 0.9]]
>>> rule.should_stop([0.4], peers), rule.should_stop([0.65], peers)
(True, False)
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasforge.errors import ConfigError
from nasforge.registry import Registry

Curve = Sequence[float]  # the scores of steps 1, 2, ... of one trial


class BaseStopper(abc.ABC):
    """A stopping rule: `should_stop(curve, peers)` for a trial's partial curve and the completed peers."""

    min_trials: int
    min_step: int

    def should_stop(self, curve: Curve, peers: Sequence[Curve]) -> bool:
        t = len(curve)
        if t < self.min_step or not curve:
            return False
        full = [p for p in peers if len(p) > t]  # peers that ran beyond this step: stopping here saves work
        if len(full) < self.min_trials:
            return False
        if not all(math.isfinite(v) for v in curve):
            return True  # a non-finite score never recovers into a winner
        return self._stop(list(curve), [list(p) for p in full])

    @abc.abstractmethod
    def _stop(self, curve: list[float], peers: list[list[float]]) -> bool:
        """The rule itself, once enough peers ran beyond the trial's step."""


def _check(owner: str, min_trials: Any, min_step: Any) -> None:
    for name, value, low in (("min_trials", min_trials, 1), ("min_step", min_step, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"`{name}` of {owner} must be an int >= {low}, but got {value!r}.")


@dataclass(frozen=True)
class MedianStopping(BaseStopper):
    """Stop when the best score so far is below the `percentile` of the peers' best scores up to that step."""

    min_trials: int = 5
    min_step: int = 1
    percentile: float = 50.0

    def __post_init__(self) -> None:
        _check("MedianStopping", self.min_trials, self.min_step)
        p = self.percentile
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 < p < 100:
            raise ConfigError(f"`percentile` of MedianStopping must be in (0, 100), but got {p!r}.")

    def _stop(self, curve: list[float], peers: list[list[float]]) -> bool:
        t = len(curve)
        mine = max(curve)
        theirs = [max(_finite(p[:t])) for p in peers]
        return mine < float(np.percentile(theirs, self.percentile))


@dataclass(frozen=True)
class CurveExtrapolation(BaseStopper):
    """Stop when the prediction of the final score, `z` standard errors up, is below the best final score."""

    min_trials: int = 5
    min_step: int = 1
    z: float = 1.645  # one-sided 95 %: stop when the chance to end above the best is about 5 % or less

    def __post_init__(self) -> None:
        _check("CurveExtrapolation", self.min_trials, self.min_step)
        if not isinstance(self.z, (int, float)) or isinstance(self.z, bool) or not self.z >= 0:
            raise ConfigError(f"`z` of CurveExtrapolation must be a number >= 0, but got {self.z!r}.")

    def _stop(self, curve: list[float], peers: list[list[float]]) -> bool:
        t = len(curve)
        final = np.array([_last_finite(p) for p in peers])
        best = float(np.max(final))
        x_new = np.array(_features(curve))
        x = np.array([_features(_finite(p[:t])) for p in peers])
        design = np.column_stack([np.ones(len(x)), x])
        x0 = np.concatenate([[1.0], x_new])
        dof = len(final) - design.shape[1]
        if dof < 1:  # not enough peers for this many features: fall back to the value alone
            design, x0 = design[:, :2], x0[:2]
            dof = len(final) - 2
            if dof < 1:
                return False
        coef, *_ = np.linalg.lstsq(design, final, rcond=None)
        resid = final - design @ coef
        sigma2 = float(resid @ resid) / dof
        gram = np.linalg.pinv(design.T @ design)
        se = math.sqrt(max(sigma2 * (1.0 + float(x0 @ gram @ x0)), 0.0))
        predicted = float(x0 @ coef)
        return predicted + self.z * se < best


def _finite(curve: Sequence[float]) -> list[float]:
    out = [v if math.isfinite(v) else -1e300 for v in curve]
    return out or [-1e300]


def _last_finite(curve: Sequence[float]) -> float:
    return max(_finite(curve[-1:]))


def _features(curve: Sequence[float]) -> list[float]:
    """The value at the last step and the gain of the last step (0 at step 1)."""
    gain = curve[-1] - curve[-2] if len(curve) >= 2 else 0.0
    return [curve[-1], gain]


STOPPERS: Registry[BaseStopper] = Registry("early-stopping rule")
STOPPERS.add("median", MedianStopping)
STOPPERS.add("extrapolate", CurveExtrapolation)


def make_stopper(spec: str | Mapping[str, Any] | BaseStopper | None) -> BaseStopper | None:
    """`"median"`, `"extrapolate"`, `{name: median, min_trials: 8}`, a rule object, or None (no stopping)."""
    if spec is None or isinstance(spec, BaseStopper):
        return spec
    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        name = spec["name"]
    else:
        raise ConfigError(
            f"Early stopping is a rule name ({', '.join(STOPPERS)}) or a mapping with `name` and its options, "
            f"but got {spec!r}."
        )
    cls = STOPPERS.get(name)
    try:
        return cls(**kwargs)
    except TypeError:
        valid = sorted(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        raise ConfigError(f"Unknown option in {sorted(kwargs)} for early stopping {name!r}; valid: {valid}.") from None


@dataclass(frozen=True)
class StopCheck:
    """What a running trial carries to its worker: the rule, its objective and the completed peers' curves
    (a snapshot taken when the trial starts). Called with each report; True means stop now."""

    rule: BaseStopper
    metric: str
    sign: float
    peers: tuple[tuple[float, ...], ...]

    def __call__(self, history: Sequence[Mapping[str, float]]) -> bool:
        curve = [self.sign * float(m[self.metric]) if self.metric in m else -math.inf for m in history]
        if not curve or self.metric not in history[-1]:
            return False
        return self.rule.should_stop(curve, self.peers)
