"""Built-in search spaces, by name for the CLI and configs."""

from nasforge.registry import Registry
from nasforge.space import ModelSpace
from nasforge.zoo.cnn import SmallImageCNN

SPACES: Registry[ModelSpace] = Registry("space")
SPACES.register("cnn")(SmallImageCNN)

__all__ = ["SPACES", "SmallImageCNN"]
