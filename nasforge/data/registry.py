"""String names for the built-in datasets, for the CLI and YAML configs.

Python users pass dataset objects; configs name them: ``get_dataset("digits", seed=1)``.
"""

from __future__ import annotations

from typing import Any

from nasforge.data.base import BaseDataset
from nasforge.data.digits import Digits
from nasforge.data.fashion_mnist import FashionMNIST
from nasforge.data.japanese_vowels import JapaneseVowels
from nasforge.data.spoken_digits import SpokenDigits
from nasforge.data.table import CSVDataset
from nasforge.data.text import RottenTomatoes, TextCSV
from nasforge.data.translation import GettextCorpus, ParallelText
from nasforge.registry import Registry

__all__ = ["DATASETS", "get_dataset"]

DATASETS = Registry[BaseDataset]("dataset")
# Registered here rather than by decorating the classes, which would hide their types from mypy.
DATASETS.register("fashion_mnist")(FashionMNIST)
DATASETS.register("rotten_tomatoes")(RottenTomatoes)
DATASETS.register("text_csv")(TextCSV)
DATASETS.register("digits")(Digits)
DATASETS.register("spoken_digits")(SpokenDigits)
DATASETS.register("japanese_vowels")(JapaneseVowels)
DATASETS.register("csv")(CSVDataset)
DATASETS.register("gettext")(GettextCorpus)
DATASETS.register("parallel_text")(ParallelText)


def get_dataset(name: str, **kwargs: Any) -> BaseDataset:
    """Build the dataset registered as `name`; unknown names and options raise `ConfigError`.

    >>> get_dataset("digits", valid_size=0.25)
    Digits(valid_size=0.25, test_size=0.2, seed=0)
    """
    return DATASETS.create(name, **kwargs)
