"""The experiment loop and its callbacks."""

from nasforge.experiment.callbacks import Callback
from nasforge.experiment.experiment import Experiment, best_of

__all__ = ["Callback", "Experiment", "best_of"]
