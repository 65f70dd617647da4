"""Built-in search spaces, by name for the CLI and configs."""

from nasforge.registry import Registry
from nasforge.space import ModelSpace
from nasforge.zoo.cnn import SmallImageCNN
from nasforge.zoo.nb201 import NB201Space

SPACES: Registry[ModelSpace] = Registry("space")
SPACES.register("cnn")(SmallImageCNN)
SPACES.register("nb201")(NB201Space)

__all__ = ["SPACES", "NB201Space", "SmallImageCNN"]
