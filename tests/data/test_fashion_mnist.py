from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.data import (
    DataSplits,
    FashionMNIST,
    clear_cache,
    download_fashion_mnist,
    fashion_mnist_search_dirs,
    read_idx,
)
from nasforge.data import fashion_mnist as fm
from nasforge.errors import ConfigError, DataError

SYSTEM = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake(folder: Path, n_train: int = 60, n_test: int = 20, gz: bool = True, seed: int = 0) -> None:
    """Write the four IDX files of a tiny Fashion-MNIST look-alike (labels cycle through 0..9)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for name, array in arrays.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
        else:
            (folder / name).write_bytes(idx_bytes(array))


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the caller's environment, home cache or a stale per-process cache."""
    monkeypatch.delenv("NASFORGE_FASHION_MNIST", raising=False)
    monkeypatch.delenv("NASFORGE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(scope="module")
def real() -> DataSplits:
    clear_cache()
    return FashionMNIST(root=str(SYSTEM), valid_size=10_000, seed=0).load()


class TestRealFiles:
    def test_shapes_dtypes_and_labels(self, real: DataSplits) -> None:
        assert isinstance(real, DataSplits)
        assert (len(real.train), len(real.valid), len(real.test or [])) == (50_000, 10_000, 10_000)
        assert real.train.x.shape == (50_000, 1, 28, 28) and real.train.x.dtype == torch.float32
        assert real.valid.y.dtype == torch.int64
        assert real.num_classes == 10 and real.input_shape == (1, 28, 28) and real.name == "fashion_mnist"
        assert int(real.train.y.min()) == 0 and int(real.train.y.max()) == 9
        assert torch.bincount(real.valid.y).tolist() == [1000] * 10  # stratified

    def test_normalised(self, real: DataSplits) -> None:
        full = real.train_full()
        assert abs(float(full.x.mean())) < 0.01
        assert abs(float(full.x.std()) - 1.0) < 0.01
        assert real.test is not None and abs(float(real.test.x.mean())) < 0.05

    def test_train_and_valid_partition_the_training_file(self, real: DataSplits) -> None:
        # Compare multisets of random projections: equal iff (almost surely) the same images.
        raw = torch.from_numpy(read_idx(SYSTEM / "train-images-idx3-ubyte.gz").reshape(60_000, -1).astype(np.float32))
        direction = torch.randn(784, generator=torch.Generator().manual_seed(0))
        expected = (raw @ direction) / (255 * 0.3530) - direction.sum() * 0.2860 / 0.3530
        parts = [real.train.x, real.valid.x]
        got = torch.cat([p.reshape(len(p), -1) @ direction for p in parts])
        torch.testing.assert_close(got.sort().values, expected.sort().values, atol=1e-2, rtol=0)

    def test_deterministic_for_a_seed(self, real: DataSplits) -> None:
        clear_cache()
        again = FashionMNIST(root=str(SYSTEM), seed=0).load()
        assert again is not real
        assert torch.equal(again.valid.y, real.valid.y)
        assert torch.equal(again.valid.x[:100], real.valid.x[:100])
        other = FashionMNIST(root=str(SYSTEM), seed=1).load()
        assert not torch.equal(other.valid.x[:100], real.valid.x[:100])

    def test_search_finds_the_system_folder(self) -> None:
        assert fashion_mnist_search_dirs()[-1] == SYSTEM
        assert FashionMNIST().locate()["train_images"].parent == SYSTEM

    def test_second_load_is_cached(self) -> None:
        dataset = FashionMNIST(root=str(SYSTEM))
        start = time.perf_counter()
        first = dataset.load()
        cold = time.perf_counter() - start
        assert cold < 5.0, "loading 70,000 images should take about a second"
        start = time.perf_counter()
        assert dataset.load() is first
        assert pickle.loads(pickle.dumps(dataset)).load() is first
        assert time.perf_counter() - start < 0.05


class TestSyntheticFiles:
    @pytest.mark.parametrize("gz", [True, False])
    def test_reads_gzipped_and_plain(self, tmp_path: Path, gz: bool) -> None:
        write_fake(tmp_path, gz=gz)
        splits = FashionMNIST(root=tmp_path, valid_size=10).load()
        assert (len(splits.train), len(splits.valid), len(splits.test or [])) == (50, 10, 20)
        assert torch.bincount(splits.valid.y).tolist() == [1] * 10
        assert splits.test is not None and splits.test.y.tolist() == [i % 10 for i in range(20)]

    def test_pixels_scaled_with_the_published_statistics(self, tmp_path: Path) -> None:
        write_fake(tmp_path)
        raw = read_idx(tmp_path / "t10k-images-idx3-ubyte.gz")
        splits = FashionMNIST(root=tmp_path, valid_size=0.5).load()
        assert splits.test is not None
        expected = (raw.astype(np.float32) / 255 - 0.2860) / 0.3530
        np.testing.assert_allclose(splits.test.x[:, 0].numpy(), expected, atol=1e-5)

    def test_fraction_valid_size(self, tmp_path: Path) -> None:
        write_fake(tmp_path, n_train=100)
        assert len(FashionMNIST(root=tmp_path, valid_size=0.3).load().valid) == 30

    def test_dev_test_holds_out_training_images_and_never_reads_the_test_files(self, tmp_path: Path) -> None:
        write_fake(tmp_path, n_train=100)
        (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not read")  # a read would fail
        splits = FashionMNIST(root=tmp_path, valid_size=20, dev_test=30).load()
        assert (len(splits.train), len(splits.valid), len(splits.test)) == (50, 20, 30)
        rows = {tuple(x.flatten()[:40].tolist()) for part in (splits.train, splits.valid, splits.test) for x in part.x}
        assert len(rows) == 100  # disjoint: every training image lands in exactly one part
        assert sorted(np.bincount(splits.test.y.numpy(), minlength=10).tolist()) == [3] * 10  # stratified
        with pytest.raises(ConfigError, match="`dev_test` of FashionMNIST must leave training images"):
            FashionMNIST(root=tmp_path, valid_size=20, dev_test=80).load()

    def test_valid_size_larger_than_the_training_set(self, tmp_path: Path) -> None:
        write_fake(tmp_path)
        with pytest.raises(ConfigError, match="valid_size=10000 asks for 10000"):
            FashionMNIST(root=tmp_path).load()

    def test_environment_variables_in_order(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        write_fake(tmp_path / "explicit", n_train=30)
        write_fake(tmp_path / "data" / "fashion-mnist", n_train=40)
        monkeypatch.setenv("NASFORGE_DATA", str(tmp_path / "data"))
        assert len(FashionMNIST(valid_size=10).load().train) == 30
        monkeypatch.setenv("NASFORGE_FASHION_MNIST", str(tmp_path / "explicit"))
        assert len(FashionMNIST(valid_size=10).load().train) == 20
        assert fashion_mnist_search_dirs()[:2] == [tmp_path / "explicit", tmp_path / "data" / "fashion-mnist"]

    def test_home_cache_before_system_folder(self, tmp_path: Path) -> None:
        write_fake(tmp_path / "home" / ".cache" / "nasforge" / "fashion-mnist", n_train=30)
        assert len(FashionMNIST(valid_size=10).load().train) == 20

    def test_pickles_and_caches(self, tmp_path: Path) -> None:
        write_fake(tmp_path)
        dataset = FashionMNIST(root=tmp_path, valid_size=10, seed=3)
        copy = pickle.loads(pickle.dumps(dataset))
        assert repr(copy) == repr(dataset)
        assert copy.load() is dataset.load()
        assert FashionMNIST(root=tmp_path, valid_size=10, seed=4).load() is not dataset.load()


class TestMissingAndCorruptFiles:
    def test_missing_root(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="not found") as info:
            FashionMNIST(root=tmp_path).load()
        message = str(info.value)
        advice = ["apt-get install dataset-fashion-mnist", "NASFORGE_FASHION_MNIST", "download=True"]
        for needle in [str(tmp_path), "train-images-idx3-ubyte", *advice]:
            assert needle in message

    def test_missing_everywhere_lists_the_searched_folders(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "system")
        monkeypatch.setenv("NASFORGE_FASHION_MNIST", str(tmp_path / "env"))
        monkeypatch.setenv("NASFORGE_DATA", str(tmp_path / "data"))
        with pytest.raises(DataError) as info:
            FashionMNIST().load()
        home_cache = tmp_path / "home" / ".cache" / "nasforge" / "fashion-mnist"
        searched = [tmp_path / "env", tmp_path / "data" / "fashion-mnist", home_cache, tmp_path / "system"]
        positions = [str(info.value).index(str(folder)) for folder in searched]
        assert positions == sorted(positions)

    def test_incomplete_folder_names_the_missing_files(self, tmp_path: Path) -> None:
        write_fake(tmp_path)
        (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte"):
            FashionMNIST(root=tmp_path).load()

    def test_truncated_gzip(self, tmp_path: Path) -> None:
        write_fake(tmp_path)
        path = tmp_path / "train-images-idx3-ubyte.gz"
        path.write_bytes(path.read_bytes()[:-100])
        with pytest.raises(DataError, match=r"Cannot read IDX file .*train-images-idx3-ubyte\.gz"):
            FashionMNIST(root=tmp_path, valid_size=10).load()

    def test_truncated_plain_file(self, tmp_path: Path) -> None:
        write_fake(tmp_path, gz=False)
        path = tmp_path / "t10k-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:-1])
        with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte is corrupt or truncated: the header"):
            FashionMNIST(root=tmp_path, valid_size=10).load()

    def test_bad_magic_number(self, tmp_path: Path) -> None:
        write_fake(tmp_path, gz=False)
        (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x12\x34\x56\x78" + bytes(60))
        with pytest.raises(DataError, match=r"train-labels-idx1-ubyte is corrupt .*bad magic number 0x12345678"):
            FashionMNIST(root=tmp_path, valid_size=10).load()

    def test_labels_and_images_disagree(self, tmp_path: Path) -> None:
        write_fake(tmp_path, gz=False)
        (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(59)))
        with pytest.raises(DataError, match=r"one label per image .* \(60\), but holds 59"):
            FashionMNIST(root=tmp_path, valid_size=10).load()

    def test_images_of_the_wrong_size(self, tmp_path: Path) -> None:
        write_fake(tmp_path, gz=False)
        (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((20, 32, 32))))
        with pytest.raises(DataError, match="28 x 28"):
            FashionMNIST(root=tmp_path, valid_size=10).load()

    def test_wrong_number_of_dimensions(self, tmp_path: Path) -> None:
        write_fake(tmp_path, gz=False)
        (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((20, 784))))
        with pytest.raises(DataError, match="has 2 dimensions, but 3 were expected"):
            FashionMNIST(root=tmp_path, valid_size=10).load()


class TestDownload:
    def test_network_failure_is_a_data_error(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        urls: list[str] = []

        def offline(url: str, timeout: float) -> object:
            urls.append(url)
            raise urllib.error.URLError("no route to host")

        monkeypatch.setattr(urllib.request, "urlopen", offline)
        with pytest.raises(DataError, match=r"Could not download train-images-idx3-ubyte\.gz .*no route to host"):
            FashionMNIST(root=tmp_path / "target", download=True).load()
        assert len(urls) == len(fm.MIRRORS) and urls[0].startswith("https://")
        assert not list((tmp_path / "target").iterdir())

    def test_downloads_into_the_home_cache_and_checks_md5(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        source = tmp_path / "mirror"
        write_fake(source)
        served = {p.name: p.read_bytes() for p in source.iterdir()}
        md5 = {name: hashlib.md5(served[name]).hexdigest() for name in fm.MD5}  # download order
        md5["t10k-labels-idx1-ubyte.gz"] = "0" * 32  # the first mirror serves a damaged copy of this one
        monkeypatch.setattr(fm, "MD5", md5)
        monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "system")
        requests: list[str] = []

        def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
            requests.append(url)
            return io.BytesIO(served[url.rsplit("/", 1)[1]])

        monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
        with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz.*MD5 [0-9a-f]{32} instead of 0{32}"):
            FashionMNIST(download=True, valid_size=10).load()
        md5["t10k-labels-idx1-ubyte.gz"] = hashlib.md5(served["t10k-labels-idx1-ubyte.gz"]).hexdigest()
        requests.clear()
        splits = FashionMNIST(download=True, valid_size=10).load()
        assert len(splits.train) == 50
        assert requests == [fm.MIRRORS[0] + "t10k-labels-idx1-ubyte.gz"]  # the others were kept
        cache = tmp_path / "home" / ".cache" / "nasforge" / "fashion-mnist"
        assert sorted(p.name for p in cache.iterdir()) == sorted(served)
        assert download_fashion_mnist(cache) == cache


class TestConstructor:
    def test_validates_and_does_no_io(self, tmp_path: Path) -> None:
        FashionMNIST(root=tmp_path / "does-not-exist")  # no error until load()
        with pytest.raises(ConfigError, match="`valid_size` of FashionMNIST must be"):
            FashionMNIST(valid_size=0)
        with pytest.raises(ConfigError, match="`root` of FashionMNIST must be a folder path"):
            FashionMNIST(root=3)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="`download` of FashionMNIST must be True or False"):
            FashionMNIST(download="yes")  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="`seed`"):
            FashionMNIST(seed=None)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="`dev_test` of FashionMNIST must be a count"):
            FashionMNIST(dev_test=-1)

    def test_repr(self) -> None:
        assert repr(FashionMNIST()) == "FashionMNIST(root=None, valid_size=10000, seed=0, download=False, dev_test=0)"
