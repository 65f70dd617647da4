"""Evaluators: turn an arch into metrics."""

from nasforge.evaluators.base import BaseEvaluator, EvalContext, TrialError
from nasforge.evaluators.classification import ClassificationEvaluator
from nasforge.evaluators.proxy import ProxyEvaluator
from nasforge.evaluators.training import TrainConfig, evaluate_model, fit

__all__ = [
    "BaseEvaluator",
    "ClassificationEvaluator",
    "EvalContext",
    "ProxyEvaluator",
    "TrainConfig",
    "TrialError",
    "evaluate_model",
    "fit",
]
