"""Evaluators: turn an arch into metrics."""

from nasforge.evaluators.base import BaseEvaluator, EvalContext, RetrainableEvaluator, TrialError
from nasforge.evaluators.classification import ClassificationEvaluator
from nasforge.evaluators.proxy import ProxyEvaluator
from nasforge.evaluators.training import TrainConfig, evaluate_model, fit
from nasforge.evaluators.translation import TranslationEvaluator
from nasforge.registry import Registry

#: a configuration's `evaluator.name`; each is built with the configuration's dataset as `dataset`
EVALUATORS: Registry[BaseEvaluator] = Registry("evaluator")
EVALUATORS.add("train", ClassificationEvaluator, "Train each arch on the dataset (the default).")
EVALUATORS.add("proxy", ProxyEvaluator, "Score each arch by zero-cost proxies, without training.")
EVALUATORS.add_lazy(
    "federated",
    "nasforge.federated.evaluator:FederatedEvaluator",
    "Train each arch over a federation of clients with Flower (FedAvg / FedProx); the `federated` extra.",
)
EVALUATORS.add("translation", TranslationEvaluator, "Train an encoder-decoder on parallel data; score BLEU and chrF.")

__all__ = [
    "EVALUATORS",
    "BaseEvaluator",
    "ClassificationEvaluator",
    "EvalContext",
    "ProxyEvaluator",
    "RetrainableEvaluator",
    "TrainConfig",
    "TranslationEvaluator",
    "TrialError",
    "evaluate_model",
    "fit",
]
