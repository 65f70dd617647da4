"""nasforge: Neural Architecture Search on PyTorch, one search-space definition for every strategy."""

from typing import Any

from nasforge.config import load_experiment
from nasforge.cost import LatencyMeter, LatencySetting
from nasforge.data import ArrayDataset, Digits, FashionMNIST, TorchDataset
from nasforge.errors import ArchError, ConfigError, DataError, NasforgeError, SpaceError, StorageError
from nasforge.evaluators import BaseEvaluator, ClassificationEvaluator, EvalContext, TrialError
from nasforge.executors import LocalPoolExecutor, SequentialExecutor
from nasforge.experiment import Callback, Experiment
from nasforge.export import Predictor, export_model, load, load_model
from nasforge.multiobjective import Constraint
from nasforge.oneshot import OneShotStrategy
from nasforge.space import Arch, InputChoice, LayerChoice, ModelSpace, Repeat, choice, hparam, label_scope
from nasforge.storage import SQLStorage
from nasforge.strategies import NSGA2, BaseStrategy, ParEGO, RandomSearch, RegularizedEvolution
from nasforge.trial import Objective, Proposal, TrialRecord, TrialState

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":  # imported on first use: `import nasforge` never imports ray
        from nasforge.executors import executor_class

        return executor_class("ray")
    raise AttributeError(f"module 'nasforge' has no attribute {name!r}")


__all__ = [
    "NSGA2",
    "Arch",
    "ArchError",
    "ArrayDataset",
    "BaseEvaluator",
    "BaseStrategy",
    "Callback",
    "ClassificationEvaluator",
    "ConfigError",
    "Constraint",
    "DataError",
    "Digits",
    "EvalContext",
    "Experiment",
    "FashionMNIST",
    "InputChoice",
    "LatencyMeter",
    "LatencySetting",
    "LayerChoice",
    "LocalPoolExecutor",
    "ModelSpace",
    "NasforgeError",
    "Objective",
    "OneShotStrategy",
    "ParEGO",
    "Predictor",
    "Proposal",
    "RandomSearch",
    "RayExecutor",
    "RegularizedEvolution",
    "Repeat",
    "SQLStorage",
    "SequentialExecutor",
    "SpaceError",
    "StorageError",
    "TorchDataset",
    "TrialError",
    "TrialRecord",
    "TrialState",
    "choice",
    "export_model",
    "hparam",
    "label_scope",
    "load",
    "load_experiment",
    "load_model",
]
