"""Search strategies: decide which arch to evaluate next (`ask`) and learn from results (`tell`)."""

from nasforge.registry import Registry
from nasforge.strategies.base import BaseStrategy
from nasforge.strategies.bayesian import BANANAS, BayesianOptimization
from nasforge.strategies.bohb import BOHB
from nasforge.strategies.evolution import RegularizedEvolution
from nasforge.strategies.grid import GridSearch
from nasforge.strategies.local_search import LocalSearch
from nasforge.strategies.middleware import (
    BudgetLimit,
    ConstraintFilter,
    Deduplicate,
    Retry,
    StrategyMiddleware,
    ZeroCostFilter,
    ZeroCostWarmup,
)
from nasforge.strategies.mo_asha import MOASHA
from nasforge.strategies.mo_evolution import MORegularizedEvolution
from nasforge.strategies.multifidelity import ASHA, Hyperband, SuccessiveHalving
from nasforge.strategies.nsga2 import NSGA2
from nasforge.strategies.parego import ParEGO
from nasforge.strategies.random_search import RandomSearch
from nasforge.strategies.reinforce import REINFORCE

STRATEGIES: Registry[BaseStrategy] = Registry("strategy")
STRATEGIES.register("random")(RandomSearch)
STRATEGIES.register("evolution")(RegularizedEvolution)
STRATEGIES.register("grid")(GridSearch)
STRATEGIES.register("local_search")(LocalSearch)
STRATEGIES.register("reinforce")(REINFORCE)
STRATEGIES.register("successive_halving")(SuccessiveHalving)
STRATEGIES.register("hyperband")(Hyperband)
STRATEGIES.register("asha")(ASHA)
STRATEGIES.register("bohb")(BOHB)
STRATEGIES.register("bo")(BayesianOptimization)
STRATEGIES.register("bananas")(BANANAS)
STRATEGIES.register("nsga2")(NSGA2)
STRATEGIES.register("mo_evolution")(MORegularizedEvolution)
STRATEGIES.register("parego")(ParEGO)
STRATEGIES.register("mo_asha")(MOASHA)
# One-shot methods (darts, drnas, spos, ... and `oneshot`) register themselves here from
# nasforge.oneshot.strategy, which sits above this package; `import nasforge` imports it.

#: What `nasforge run` uses when a config names no strategy: the best measured on NAS-Bench-201 (README,
#: "NAS-Bench-201"), ahead of local search, evolution and Optuna's TPE on all three datasets.
DEFAULT_STRATEGY = "bo"


def multi_objective_names() -> list[str]:
    """Registered strategies that optimise several objectives (or, like random search, ignore scores)."""
    return [n for n in STRATEGIES.names() if getattr(STRATEGIES.get(n), "multi_objective", False) is True]


__all__ = [
    "ASHA",
    "BANANAS",
    "BOHB",
    "DEFAULT_STRATEGY",
    "MOASHA",
    "NSGA2",
    "REINFORCE",
    "STRATEGIES",
    "BaseStrategy",
    "BayesianOptimization",
    "BudgetLimit",
    "ConstraintFilter",
    "Deduplicate",
    "GridSearch",
    "Hyperband",
    "LocalSearch",
    "MORegularizedEvolution",
    "ParEGO",
    "RandomSearch",
    "RegularizedEvolution",
    "Retry",
    "StrategyMiddleware",
    "SuccessiveHalving",
    "ZeroCostFilter",
    "ZeroCostWarmup",
    "multi_objective_names",
]
