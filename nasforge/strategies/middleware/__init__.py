"""Middleware: behaviour written once and wrapped around any strategy (NNI 3.0's idea).

- `Deduplicate` never evaluates the same arch (at the same budget) twice: a repeat proposal is answered
  from the earlier result, or waits for it if it is still running;
- `Retry` proposes a failed arch again, up to `max_retries` times, before the strategy hears of the failure;
- `ConstraintFilter` rejects archs that violate a constraint checked before any training (the strategy is
  told they failed) and asks again;
- `BudgetLimit` adds up what the finished trials cost (a metric such as "cost", else their wall time) and
  stops proposing once `max_cost` is spent;
- `ZeroCostWarmup` serves the strategy's random proposals from the top of a proxy-ranked pool, and
  `ZeroCostFilter` trains only archs whose proxy score passes a threshold.

>>> from nasforge.strategies import RegularizedEvolution
>>> strategy = BudgetLimit(Retry(Deduplicate(RegularizedEvolution()), max_retries=1), max_cost=3600)
"""

from nasforge.strategies.middleware.base import SYNTHETIC, StrategyMiddleware
from nasforge.strategies.middleware.limits import BudgetLimit, ConstraintFilter
from nasforge.strategies.middleware.repeats import Deduplicate, Retry
from nasforge.strategies.middleware.zero_cost import ZeroCostFilter, ZeroCostWarmup

__all__ = [
    "SYNTHETIC",
    "BudgetLimit",
    "ConstraintFilter",
    "Deduplicate",
    "Retry",
    "StrategyMiddleware",
    "ZeroCostFilter",
    "ZeroCostWarmup",
]
