from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from nasforge.data import ArrayDataset, TorchDataset, clear_cache
from nasforge.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    clear_cache()


def blobs(n: int = 120, features: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return rng.normal(loc=y[:, None] * 2.0 + 10.0, scale=3.0, size=(n, features)), y


class TestArrayDataset:
    def test_vectors_split_and_normalised_on_train_only(self) -> None:
        x, y = blobs()
        splits = ArrayDataset(x, y).load()
        assert (len(splits.train), len(splits.valid)) == (96, 24)
        assert splits.input_shape == (5,) and splits.num_classes == 3 and splits.test is None
        assert splits.train.x.dtype == torch.float32 and splits.train.y.dtype == torch.int64
        torch.testing.assert_close(splits.train.x.mean(0), torch.zeros(5), atol=1e-5, rtol=0)
        torch.testing.assert_close(splits.train.x.std(0, correction=0), torch.ones(5), atol=1e-5, rtol=0)
        assert torch.bincount(splits.valid.y).tolist() == [8, 8, 8]
        assert float(splits.valid.x.mean(0).abs().max()) > 1e-3  # valid is not used for statistics

    def test_labels_mapped_to_0_k_minus_1(self) -> None:
        x, y = blobs()
        labels = np.array([3, 7, 42])[y].astype(np.float64)  # integral floats are accepted
        dataset = ArrayDataset(x, labels, x_test=x[:9], y_test=np.array([42, 3, 7] * 3))
        assert dataset.classes == (3, 7, 42)
        splits = dataset.load()
        assert splits.num_classes == 3
        assert splits.test is not None and splits.test.y.tolist() == [2, 0, 1] * 3
        assert torch.equal(splits.train_full().y.sort().values, torch.from_numpy(np.sort(y)))

    def test_images_get_a_channel_axis_and_per_channel_statistics(self) -> None:
        rng = np.random.default_rng(0)
        gray = ArrayDataset(rng.random((40, 6, 6)), np.arange(40) % 2).load()
        assert gray.input_shape == (1, 6, 6) and gray.train.x.shape == (32, 1, 6, 6)
        rgb = torch.rand(40, 3, 4, 4) * torch.tensor([1.0, 10.0, 100.0]).view(1, 3, 1, 1)
        splits = ArrayDataset(rgb, torch.arange(40) % 2).load()  # tensors work as well as arrays
        assert splits.input_shape == (3, 4, 4)
        std, mean = torch.std_mean(splits.train.x, dim=(0, 2, 3), correction=0)
        torch.testing.assert_close(mean, torch.zeros(3), atol=1e-5, rtol=0)
        torch.testing.assert_close(std, torch.ones(3), atol=1e-5, rtol=0)

    def test_without_normalisation_values_are_kept(self) -> None:
        x = np.arange(20, dtype=np.uint8).reshape(10, 2)
        splits = ArrayDataset(x, np.arange(10) % 2, valid_size=2, normalize=False).load()
        assert sorted(splits.train_full().x[:, 0].tolist()) == list(range(0, 20, 2))

    def test_constant_feature_stays_finite(self) -> None:
        x = np.ones((10, 2))
        x[:, 1] = np.arange(10)
        splits = ArrayDataset(x, np.arange(10) % 2).load()
        assert torch.isfinite(splits.train.x).all()
        assert torch.equal(splits.train.x[:, 0], torch.zeros(8))

    def test_deterministic_split_and_seed_matters(self) -> None:
        x, y = blobs()
        a = ArrayDataset(x, y, seed=1).load()
        b = ArrayDataset(x, y, seed=1).load()
        c = ArrayDataset(x, y, seed=2).load()
        assert a is not b and torch.equal(a.valid.x, b.valid.x)
        assert not torch.equal(a.valid.x, c.valid.x)

    def test_pickled_copy_shares_the_cache(self) -> None:
        x, y = blobs()
        dataset = ArrayDataset(x, y, name="blobs")
        first = dataset.load()
        assert dataset.load() is first
        assert pickle.loads(pickle.dumps(dataset)).load() is first
        assert first.name == "blobs"
        assert repr(dataset).startswith("ArrayDataset(name='blobs', n=120, sample_shape=(5,)")

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            (
                {"x": np.zeros((5, 2)), "y": np.zeros(4)},
                r"`y` of ArrayDataset must hold one label per sample \(5\)",
            ),
            ({"x": np.zeros(5), "y": np.zeros(5)}, r"`x` of ArrayDataset must have shape \(N, features\)"),
            ({"x": np.array([[0.0], [np.nan], [np.inf]]), "y": [0, 1, 0]}, "2 NaN or infinite entries"),
            ({"x": np.array([["a"], ["b"]]), "y": [0, 1]}, "must hold real numbers, but has dtype <U1"),
            ({"x": np.zeros((3, 2)), "y": [0, 1.5, 1]}, r"integer class labels, but entry 1 is 1\.5"),
            ({"x": np.zeros((3, 2)), "y": ["cat", "dog", "cat"]}, "integer class labels, but has dtype <U3"),
            (
                {"x": np.zeros((3, 2)), "y": np.zeros((3, 2))},
                r"1-D array of class labels, but has shape \(3, 2\)",
            ),
            ({"x": np.zeros((3, 2)), "y": [4, 4, 4]}, r"at least 2 distinct labels .* only \[4\]"),
            (
                {"x": np.zeros((4, 2)), "y": [0, 1, 0, 1], "x_test": np.zeros((2, 2))},
                "both `x_test` and `y_test`",
            ),
            (
                {"x": np.zeros((4, 2)), "y": [0, 1, 0, 1], "x_test": np.zeros((2, 3)), "y_test": [0, 1]},
                r"same shape as `x`, \(2,\), but has \(3,\)",
            ),
            (
                {"x": np.zeros((4, 2)), "y": [0, 1, 0, 1], "x_test": np.zeros((2, 2)), "y_test": [0, 5]},
                r"`y_test` of ArrayDataset has labels \[5\] that the training labels \[0, 1\] lack",
            ),
            ({"x": np.zeros((4, 2)), "y": [0, 1, 0, 1], "valid_size": 0}, "`valid_size` of ArrayDataset"),
            (
                {"x": np.zeros((4, 2)), "y": [0, 1, 0, 1], "name": ""},
                "`name` of ArrayDataset must be a non-empty",
            ),
            ({"x": np.zeros((4, 2)), "y": [0, 1, 0, 1], "normalize": "yes"}, "`normalize` of ArrayDataset"),
        ],
    )
    def test_rejects_bad_input(self, kwargs: dict[str, Any], match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            ArrayDataset(**kwargs)

    def test_valid_size_must_leave_training_samples(self) -> None:
        dataset = ArrayDataset(np.zeros((4, 2)), [0, 1, 0, 1], valid_size=4)
        with pytest.raises(ConfigError, match="valid_size=4 asks for 4"):
            dataset.load()


class Pairs(Dataset):
    """A map-style dataset returning whatever items it was given."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.items[i]


class TestTorchDataset:
    def test_wraps_a_tensor_dataset(self) -> None:
        x = torch.randn(50, 1, 4, 4)
        y = torch.arange(50) % 5
        splits = TorchDataset(TensorDataset(x, y), test=TensorDataset(x[:10], y[:10]), valid_size=10).load()
        assert (len(splits.train), len(splits.valid), len(splits.test or [])) == (40, 10, 10)
        assert splits.input_shape == (1, 4, 4) and splits.num_classes == 5 and splits.name == "torch"
        assert splits.test is not None
        assert torch.equal(splits.test.x, x[:10]) and torch.equal(splits.test.y, y[:10])
        assert torch.bincount(splits.valid.y).tolist() == [2] * 5

    def test_numpy_items_and_remapped_labels(self) -> None:
        items = [(np.full((2, 2), i, dtype=np.float64), np.int64(10 + i % 2)) for i in range(10)]
        splits = TorchDataset(Pairs(items), valid_size=2, normalize=True).load()
        assert splits.input_shape == (1, 2, 2) and splits.num_classes == 2
        assert set(splits.train_full().y.tolist()) == {0, 1}
        assert abs(float(splits.train.x.mean())) < 1e-5

    def test_cached_and_picklable(self) -> None:
        dataset = TorchDataset(Pairs([(torch.zeros(3), i % 2) for i in range(10)]), name="pairs")
        first = dataset.load()
        assert dataset.load() is first
        assert pickle.loads(pickle.dumps(dataset)).load() is first
        assert repr(dataset).startswith("TorchDataset(name='pairs', train=Pairs")

    @pytest.mark.parametrize(
        ("items", "match"),
        [
            (
                [torch.zeros(3)] * 4,
                r"Item 0 of `train` of TorchDataset must be an \(x, label\) pair, but is Tensor",
            ),
            ([(torch.zeros(3), 0, "extra")] * 4, "pair, but is tuple of length 3"),
            ([("text", 0)] * 4, r"must be a \(tensor, int label\) pair, but its sample is a str"),
            ([(torch.zeros(3), 0.5)] * 4, r"integer class label, but has 0\.5 \(float\)"),
            ([(torch.zeros(3), torch.tensor(1.0))] * 4, "integer class label, but has 1.0"),
            ([(torch.zeros(3), True)] * 4, "integer class label, but has True"),
            ([(torch.zeros(3), 0), (torch.zeros(4), 1)], r"item 0 has \(3,\) and item 1 has \(4,\)"),
            ([(torch.tensor([float("nan")] * 2), 0), (torch.zeros(2), 1)], "NaN or infinite"),
            ([], "is empty"),
        ],
    )
    def test_rejects_malformed_items_at_load(self, items: list[Any], match: str) -> None:
        dataset = TorchDataset(Pairs(items))  # the constructor reads nothing
        with pytest.raises(DataError, match=match):
            dataset.load()

    def test_test_set_must_match_train(self) -> None:
        train = Pairs([(torch.zeros(3), i % 2) for i in range(10)])
        with pytest.raises(DataError, match=r"same shape as `train`, \(3,\), but has \(4,\)"):
            TorchDataset(train, test=Pairs([(torch.zeros(4), 0)])).load()
        with pytest.raises(DataError, match=r"`test` of TorchDataset has labels \[7\]"):
            TorchDataset(train, test=Pairs([(torch.zeros(3), 7)])).load()

    def test_rejects_non_map_style_datasets(self) -> None:
        with pytest.raises(ConfigError, match="`train` of TorchDataset must be a map-style dataset"):
            TorchDataset(iter([(torch.zeros(3), 0)]))
        with pytest.raises(
            ConfigError,
            match=r"`test` of TorchDataset must be a map-style dataset \(with __len__ and __getitem__\), but "
            r"got int",
        ):
            TorchDataset(Pairs([]), test=3)
        with pytest.raises(ConfigError, match="`valid_size` of TorchDataset"):
            TorchDataset(Pairs([]), valid_size=-0.5)
