"""Search spaces: choice primitives, `ModelSpace`, `Arch` and the operations on them."""

from nasforge.space.arch import Arch
from nasforge.space.decision import Condition, Decision
from nasforge.space.entangle import Switch, Widest, optional
from nasforge.space.mode import BaseMode, DiscoverMode, FreezeMode, label_scope
from nasforge.space.model_space import ModelSpace
from nasforge.space.primitives import ChosenInputs, InputChoice, LayerChoice, Repeat, choice, hparam

__all__ = [
    "Arch",
    "BaseMode",
    "ChosenInputs",
    "Condition",
    "Decision",
    "DiscoverMode",
    "FreezeMode",
    "InputChoice",
    "LayerChoice",
    "ModelSpace",
    "Repeat",
    "Switch",
    "Widest",
    "choice",
    "hparam",
    "label_scope",
    "optional",
]
