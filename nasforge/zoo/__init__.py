"""Built-in search spaces, by name for the CLI and configs."""

from nasforge.registry import Registry
from nasforge.space import ModelSpace
from nasforge.zoo.audio import AudioCNN
from nasforge.zoo.cnn import SmallImageCNN
from nasforge.zoo.mlp import MLPSpace
from nasforge.zoo.nb201 import NB201Space
from nasforge.zoo.seq2seq import Seq2SeqSpace
from nasforge.zoo.text import TextClassifierSpace

SPACES: Registry[ModelSpace] = Registry("space")
SPACES.register("cnn")(SmallImageCNN)
SPACES.register("nb201")(NB201Space)
SPACES.register("text")(TextClassifierSpace)
SPACES.register("audio_cnn")(AudioCNN)
SPACES.register("mlp")(MLPSpace)
SPACES.register("seq2seq")(Seq2SeqSpace)

__all__ = ["SPACES", "AudioCNN", "MLPSpace", "NB201Space", "Seq2SeqSpace", "SmallImageCNN", "TextClassifierSpace"]
