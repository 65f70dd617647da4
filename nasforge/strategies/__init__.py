"""Search strategies: decide which arch to evaluate next (`ask`) and learn from results (`tell`)."""

from nasforge.registry import Registry
from nasforge.strategies.base import BaseStrategy
from nasforge.strategies.evolution import RegularizedEvolution
from nasforge.strategies.random_search import RandomSearch

STRATEGIES: Registry[BaseStrategy] = Registry("strategy")
STRATEGIES.register("random")(RandomSearch)
STRATEGIES.register("evolution")(RegularizedEvolution)

__all__ = ["STRATEGIES", "BaseStrategy", "RandomSearch", "RegularizedEvolution"]
