from __future__ import annotations

import numpy as np
import pytest
import torch

from nasforge.data import ArrayData, DataSplits, cached_load, clear_cache, stratified_split
from nasforge.data.split import check_optional_size, check_seed, check_size, resolve_size
from nasforge.errors import ConfigError, DataError


def part(n: int, classes: int = 2) -> ArrayData:
    return ArrayData(torch.arange(n * 3, dtype=torch.float32).reshape(n, 3), torch.arange(n) % classes)


def splits(**kwargs: object) -> DataSplits:
    args: dict[str, object] = dict(train=part(6), valid=part(4), test=None, num_classes=2, input_shape=(3,), name="toy")
    args.update(kwargs)
    return DataSplits(**args)  # type: ignore[arg-type]


class TestArrayData:
    def test_len_and_subset_by_numpy_torch_and_mask(self) -> None:
        data = part(5)
        assert len(data) == 5
        by_numpy = data.subset(np.array([4, 0]))
        assert torch.equal(by_numpy.y, torch.tensor([0, 0]))
        assert torch.equal(by_numpy.x[0], data.x[4])
        assert len(data.subset(torch.tensor([1, 2, 3], dtype=torch.int32))) == 3
        mask = np.array([True, False, True, False, False])
        assert torch.equal(data.subset(mask).x, data.x[[0, 2]])

    def test_subset_copies(self) -> None:
        data = part(3)
        sub = data.subset(np.array([0]))
        sub.x[0, 0] = 99.0
        assert data.x[0, 0] == 0.0

    @pytest.mark.parametrize(
        ("x", "y", "match"),
        [
            (torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, dtype=torch.int64), "float32"),
            (torch.zeros(3), torch.zeros(3, dtype=torch.int64), "at least 2 dimensions"),
            (torch.zeros(3, 2), torch.zeros(3, dtype=torch.int32), "int64"),
            (torch.zeros(3, 2), torch.zeros(4, dtype=torch.int64), "same number of samples, but got 3 and 4"),
            (np.zeros((3, 2), dtype=np.float32), torch.zeros(3, dtype=torch.int64), "torch tensors"),
        ],
    )
    def test_rejects_malformed_tensors(self, x: object, y: object, match: str) -> None:
        with pytest.raises(DataError, match=match):
            ArrayData(x, y)  # type: ignore[arg-type]


class TestDataSplits:
    def test_train_full_concatenates_train_then_valid(self) -> None:
        s = splits()
        full = s.train_full()
        assert len(full) == 10
        assert torch.equal(full.x[:6], s.train.x)
        assert torch.equal(full.y[6:], s.valid.y)

    def test_rejects_inconsistent_shapes_and_labels(self) -> None:
        with pytest.raises(DataError, match=r"shape \(4,\), but train has \(3,\)"):
            splits(input_shape=(4,))
        with pytest.raises(DataError, match=r"labels must lie in 0\.\.0, but valid"):
            splits(num_classes=1, train=ArrayData(torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64)))
        with pytest.raises(DataError, match="test"):
            splits(test=ArrayData(torch.zeros(2, 5), torch.zeros(2, dtype=torch.int64)))

    def test_repr_is_short(self) -> None:
        assert repr(splits()) == (
            "DataSplits(name='toy', train=6, valid=4, test=None, num_classes=2, input_shape=(3,))"
        )


class TestCache:
    def setup_method(self) -> None:
        clear_cache()

    def test_builds_once_per_key(self) -> None:
        calls: list[int] = []

        def build() -> DataSplits:
            calls.append(1)
            return splits()

        first = cached_load(("toy", 1), build)
        assert cached_load(("toy", 1), build) is first
        assert cached_load(("toy", 2), build) is not first
        assert len(calls) == 2
        clear_cache()
        cached_load(("toy", 1), build)
        assert len(calls) == 3

    def test_keeps_only_recent_entries(self) -> None:
        for i in range(10):
            cached_load(("toy", i), splits)
        calls: list[int] = []

        def build() -> DataSplits:
            calls.append(1)
            return splits()

        cached_load(("toy", 9), build)
        assert calls == []
        cached_load(("toy", 0), build)  # evicted by the newer ones
        assert calls == [1]


class TestStratifiedSplit:
    def test_exact_size_disjoint_cover_and_proportional(self) -> None:
        y = np.repeat(np.arange(4), [100, 50, 30, 20])
        keep, held = stratified_split(y, 40, np.random.default_rng(0))
        assert len(held) == 40 and len(keep) == 160
        assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(200))
        assert np.all(np.diff(held) > 0) and np.all(np.diff(keep) > 0)
        assert np.bincount(y[held]).tolist() == [20, 10, 6, 4]

    def test_rounds_by_largest_remainder(self) -> None:
        y = np.repeat(np.arange(3), [5, 5, 3])
        _, held = stratified_split(y, 4, np.random.default_rng(0))
        assert len(held) == 4
        assert np.bincount(y[held], minlength=3).tolist() in ([2, 1, 1], [1, 2, 1], [2, 2, 0])

    def test_deterministic_per_seed(self) -> None:
        y = np.arange(1000) % 7
        a = stratified_split(y, 100, np.random.default_rng(3))
        b = stratified_split(y, 100, np.random.default_rng(3))
        c = stratified_split(y, 100, np.random.default_rng(4))
        assert np.array_equal(a[1], b[1])
        assert not np.array_equal(a[1], c[1])


class TestArgumentChecks:
    @pytest.mark.parametrize("value", [0, -1, 0.0, 1.0, 1.5, True, "10", None])
    def test_bad_sizes(self, value: object) -> None:
        with pytest.raises(ConfigError, match=r"`valid_size` of Owner must be an int count >= 1 or a float"):
            check_size(value, "valid_size", "Owner")

    def test_good_sizes(self) -> None:
        assert check_size(np.int64(5), "valid_size", "Owner") == 5
        assert check_size(0.25, "valid_size", "Owner") == 0.25
        assert check_optional_size(None, "test_size", "Owner") is None
        with pytest.raises(ConfigError, match="None means no test split"):
            check_optional_size(2.0, "test_size", "Owner")

    def test_seed(self) -> None:
        assert check_seed(np.int32(7), "Owner") == 7
        with pytest.raises(ConfigError, match=r"`seed` of Owner must be an int, but got 0\.5"):
            check_seed(0.5, "Owner")

    def test_resolve_size(self) -> None:
        assert resolve_size(0.2, 101, "valid_size", "Owner") == 20
        assert resolve_size(0.001, 10, "valid_size", "Owner") == 1
        assert resolve_size(9, 10, "valid_size", "Owner") == 9
        with pytest.raises(ConfigError, match="at least one of the 10 samples"):
            resolve_size(10, 10, "valid_size", "Owner")
