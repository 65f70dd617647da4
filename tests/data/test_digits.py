from __future__ import annotations

import pickle
import sys

import pytest
import sklearn  # noqa: F401  (the `sklearn` extra, a dev dependency: missing, it fails instead of skipping)
import torch

from nasforge.data import Digits, clear_cache
from nasforge.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    clear_cache()


def test_shapes_sizes_and_labels() -> None:
    splits = Digits().load()
    assert splits.test is not None
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (1150, 288, 359)
    assert splits.input_shape == (1, 8, 8) and splits.num_classes == 10 and splits.name == "digits"
    assert splits.train.x.shape == (1150, 1, 8, 8) and splits.train.x.dtype == torch.float32
    for part in (splits.train, splits.valid, splits.test):
        assert part.y.dtype == torch.int64
        assert torch.bincount(part.y, minlength=10).min() > 0.08 * len(part)  # stratified, ~10% each


def test_scaled_to_zero_mean_unit_std() -> None:
    full = Digits(test_size=None).load().train_full()
    assert len(full) == 1797
    assert abs(float(full.x.mean())) < 0.01
    assert abs(float(full.x.std()) - 1.0) < 0.01


def test_sizes_as_counts_and_no_test_set() -> None:
    splits = Digits(valid_size=100, test_size=None).load()
    assert splits.test is None
    assert (len(splits.train), len(splits.valid)) == (1697, 100)
    assert len(Digits(valid_size=50, test_size=300).load().test or []) == 300


def test_deterministic_per_seed_and_disjoint() -> None:
    a = Digits(seed=1).load()
    clear_cache()
    b = Digits(seed=1).load()
    c = Digits(seed=2).load()
    assert a is not b
    assert a.test is not None and b.test is not None
    assert torch.equal(a.valid.x, b.valid.x) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.valid.x, c.valid.x)
    rows = [{tuple(r.tolist()) for r in part.x.reshape(len(part), -1)} for part in (a.train, a.valid, a.test)]
    # A handful of digit images occur twice in the data set, so allow a few coincidences.
    assert len(rows[0] & rows[1]) + len(rows[0] & rows[2]) + len(rows[1] & rows[2]) <= 5


def test_cached_and_picklable() -> None:
    dataset = Digits(seed=5)
    first = dataset.load()
    assert dataset.load() is first
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy.load() is first
    assert repr(copy) == "Digits(valid_size=0.2, test_size=0.2, seed=5)"


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match=r"`test_size` of Digits .* but got -1"):
        Digits(test_size=-1)
    with pytest.raises(ConfigError, match=r"`valid_size` of Digits .* but got 1\.0"):
        Digits(valid_size=1.0)
    with pytest.raises(ConfigError, match="valid_size=1500 asks for 1500"):
        Digits(valid_size=1500).load()


def test_missing_sklearn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(DataError, match=r"pip install 'nasforge\[sklearn\]'"):
        Digits().load()
