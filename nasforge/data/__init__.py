"""Datasets: built-in offline sets and the user's own data, loaded as tensors split for search.

A dataset object is a cheap, picklable description; `load()` returns `DataSplits` (train / valid /
test `ArrayData`) and is cached per process.

>>> from nasforge.data import Digits
>>> splits = Digits().load()
>>> len(splits.train) + len(splits.valid) + len(splits.test)
1797
"""

from __future__ import annotations

from nasforge.data.base import ArrayData, BaseDataset, DataSplits, cached_load, clear_cache
from nasforge.data.digits import Digits
from nasforge.data.fashion_mnist import FashionMNIST, download_fashion_mnist, fashion_mnist_search_dirs
from nasforge.data.idx import read_idx
from nasforge.data.japanese_vowels import JapaneseVowels
from nasforge.data.registry import DATASETS, get_dataset
from nasforge.data.split import stratified_split
from nasforge.data.spoken_digits import SpokenDigits
from nasforge.data.table import CSVDataset
from nasforge.data.table_encoding import encode_rows
from nasforge.data.text import RottenTomatoes, TextCSV
from nasforge.data.tokenizer import Tokenizer
from nasforge.data.translation import GettextCorpus, ParallelText
from nasforge.data.user import ArrayDataset, TorchDataset

__all__ = [
    "DATASETS",
    "ArrayData",
    "ArrayDataset",
    "BaseDataset",
    "CSVDataset",
    "DataSplits",
    "Digits",
    "FashionMNIST",
    "GettextCorpus",
    "JapaneseVowels",
    "ParallelText",
    "RottenTomatoes",
    "SpokenDigits",
    "TextCSV",
    "Tokenizer",
    "TorchDataset",
    "cached_load",
    "clear_cache",
    "download_fashion_mnist",
    "encode_rows",
    "fashion_mnist_search_dirs",
    "get_dataset",
    "read_idx",
    "stratified_split",
]
