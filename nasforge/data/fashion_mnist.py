"""Fashion-MNIST (Xiao et al., 2017) from its original IDX files: 60,000 training and 10,000 test images.

The files are looked for, in order, in `$NASFORGE_FASHION_MNIST`, `$NASFORGE_DATA/fashion-mnist`,
`~/.cache/nasforge/fashion-mnist` and `/usr/share/datasets/fashion-mnist` (Debian's
`dataset-fashion-mnist` package). `download=True` fetches them when none of those has them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch

from nasforge.data.base import ArrayData, BaseDataset, DataSplits, cached_load, image_preprocessing
from nasforge.data.idx import read_idx
from nasforge.data.split import check_seed, check_size, resolve_size, stratified_split
from nasforge.errors import ConfigError, DataError

__all__ = ["FashionMNIST", "download_fashion_mnist", "fashion_mnist_search_dirs"]

# Pixel statistics of the training images scaled to [0, 1].
MEAN = 0.2860
STD = 0.3530
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# MD5 of the official gzipped files. Debian recompresses them, so these only check fresh downloads.
MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# S3 website endpoints serve plain HTTP only; the checksum above guards that download.
MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
ENV_DIR = "NASFORGE_FASHION_MNIST"
ENV_DATA = "NASFORGE_DATA"
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def cache_dir() -> Path:
    return Path.home() / ".cache" / "nasforge" / "fashion-mnist"


def fashion_mnist_search_dirs() -> list[Path]:
    """The folders searched for the IDX files when no `root` is given, in order."""
    dirs = []
    if os.environ.get(ENV_DIR):
        dirs.append(Path(os.environ[ENV_DIR]).expanduser())
    if os.environ.get(ENV_DATA):
        dirs.append(Path(os.environ[ENV_DATA]).expanduser() / "fashion-mnist")
    dirs.extend([cache_dir(), SYSTEM_DIR])
    return dirs


def find_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Map each part to its file in `folder` (gzipped or not); also return the base names missing."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for part, base in FILES.items():
        for candidate in (folder / f"{base}.gz", folder / base):
            if candidate.is_file():
                found[part] = candidate
                break
        else:
            missing.append(base)
    return found, missing


class FashionMNIST(BaseDataset):
    """Fashion-MNIST as (N, 1, 28, 28) float32 images normalised with mean 0.2860 and std 0.3530.

    `valid_size` samples (a count, or a fraction of the 60,000) are held out of the training set,
    stratified by class, for the search signal; the official test set is kept for the final model.

    `dev_test` (a count, 0 by default) holds out that many more training images, stratified and disjoint
    from the validation part, as the test split in place of the official test set, which is then not read:
    for choosing a job's settings by what its final model scores, without touching the test set
    (`benchmarks/mainjob_peers.py --select`).

    >>> splits = FashionMNIST(valid_size=10_000).load()  # doctest: +SKIP
    >>> len(splits.train), len(splits.valid), len(splits.test)  # doctest: +SKIP
    (50000, 10000, 10000)
    """

    name = "fashion_mnist"

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        valid_size: int | float = 10_000,
        seed: int = 0,
        download: bool = False,
        dev_test: int = 0,
    ) -> None:
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise ConfigError(f"`root` of FashionMNIST must be a folder path or None, but got {type(root).__name__}.")
        if not isinstance(download, bool):
            raise ConfigError(f"`download` of FashionMNIST must be True or False, but got {download!r}.")
        self.root = os.fspath(root) if root is not None else None
        self.valid_size = check_size(valid_size, "valid_size", "FashionMNIST")
        self.seed = check_seed(seed, "FashionMNIST")
        self.download = download
        if isinstance(dev_test, bool) or not isinstance(dev_test, int) or not 0 <= dev_test < 50_000:
            raise ConfigError(
                f"`dev_test` of FashionMNIST must be a count of training images in [0, 50000) to hold out as the "
                f"test split (0: the official test set), but got {dev_test!r}."
            )
        self.dev_test = dev_test

    def __repr__(self) -> str:
        return (
            f"FashionMNIST(root={self.root!r}, valid_size={self.valid_size!r}, seed={self.seed}, "
            f"download={self.download}, dev_test={self.dev_test})"
        )

    def load(self) -> DataSplits:
        files = self.locate()
        folder = files["train_images"].parent.resolve()
        key = ("fashion_mnist", str(folder), self.valid_size, self.seed, self.dev_test)
        return cached_load(key, lambda: self._build(files))

    def locate(self) -> dict[str, Path]:
        """Find the four IDX files (downloading them if allowed); raise `DataError` if they are nowhere."""
        dirs = [Path(self.root).expanduser()] if self.root is not None else fashion_mnist_search_dirs()
        partial = []
        for folder in dirs:
            found, missing = find_files(folder)
            if not missing:
                return found
            if found:
                partial.append(f"{folder} lacks {', '.join(missing)}")
        if self.download:
            target = dirs[0] if self.root is not None else cache_dir()
            download_fashion_mnist(target)
            found, missing = find_files(target)
            if not missing:
                return found
        searched = ", ".join(str(d) for d in dirs)
        detail = f" ({'; '.join(partial)})" if partial else ""
        raise DataError(
            f"Fashion-MNIST IDX files not found. Searched: {searched}{detail}. Each folder must hold "
            f"{', '.join(FILES.values())} (plain or .gz). To get them: on Debian/Ubuntu run "
            f"`apt-get install dataset-fashion-mnist`; or set {ENV_DIR} to a folder holding the IDX "
            "files; or pass download=True to fetch them."
        )

    def _build(self, files: dict[str, Path]) -> DataSplits:
        train_x = _images(files["train_images"])
        train_y = _labels(files["train_labels"], len(train_x), files["train_images"])
        n_valid = resolve_size(self.valid_size, len(train_y), "valid_size", "FashionMNIST")
        rng = np.random.default_rng(self.seed)
        keep, held = stratified_split(train_y, n_valid, rng)
        train = ArrayData(_normalise(train_x), torch.from_numpy(train_y.astype(np.int64)))
        if self.dev_test >= len(keep):
            raise ConfigError(
                f"`dev_test` of FashionMNIST must leave training images: {len(keep)} remain after the validation "
                f"part, but dev_test is {self.dev_test}; lower it or `valid_size`."
            )
        if self.dev_test:  # a development test split from the training images; the official one stays unread
            rest, dev = stratified_split(train_y[keep], self.dev_test, np.random.default_rng(self.seed + 1))
            test = train.subset(keep[dev])
            keep = keep[rest]
        else:
            test_x = _images(files["test_images"])
            test_y = _labels(files["test_labels"], len(test_x), files["test_images"])
            test = ArrayData(_normalise(test_x), torch.from_numpy(test_y.astype(np.int64)))
        return DataSplits(
            train=train.subset(keep),
            valid=train.subset(held),
            test=test,
            num_classes=10,
            input_shape=(1, 28, 28),
            name=self.name,
            info={"preprocessing": image_preprocessing((1, 28, 28), 255, 1.0 / (255.0 * STD), MEAN / STD, CLASSES)},
        )


def _images(path: Path) -> np.ndarray:
    images = read_idx(path, ndim=3)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{path} must hold uint8 images of 28 x 28 pixels, but holds {images.dtype} of shape "
            f"{images.shape[1:]}. Check that the folder really holds Fashion-MNIST."
        )
    return images


def _labels(path: Path, count: int, images_path: Path) -> np.ndarray:
    labels = read_idx(path, ndim=1)
    if len(labels) != count:
        raise DataError(
            f"{path} must hold one label per image of {images_path} ({count}), but holds {len(labels)}. "
            "One of the two files is from another dataset or truncated; fetch both again."
        )
    if len(labels) and int(labels.max()) > 9:
        raise DataError(f"{path} must hold labels 0..9, but holds {int(labels.max())}.")
    return labels


def _normalise(images: np.ndarray) -> torch.Tensor:
    x = images.astype(np.float32)[:, None]
    # One scale and one shift in place: (x / 255 - MEAN) / STD without temporaries.
    x *= np.float32(1.0 / (255.0 * STD))
    x -= np.float32(MEAN / STD)
    return torch.from_numpy(x)


def download_fashion_mnist(target: str | os.PathLike[str], *, timeout: float = 60.0) -> Path:
    """Fetch the four gzipped IDX files into `target` (skipping those present); return the folder."""
    folder = Path(target).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"Cannot create {folder} to download Fashion-MNIST into: {exc}.") from exc
    for filename, md5 in MD5.items():
        dest = folder / filename
        if dest.is_file():
            continue
        errors = []
        for mirror in MIRRORS:
            url = mirror + filename
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    payload = response.read()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            digest = hashlib.md5(payload, usedforsecurity=False).hexdigest()
            if digest != md5:
                errors.append(f"{url}: MD5 {digest} instead of {md5}")
                continue
            _write_atomically(dest, payload)
            break
        else:
            raise DataError(
                f"Could not download {filename} of Fashion-MNIST: {'; '.join(errors)}. Check the network, "
                f"or fetch the files by hand into {folder} (on Debian/Ubuntu: "
                "`apt-get install dataset-fashion-mnist`)."
            )
    return folder


def _write_atomically(dest: Path, payload: bytes) -> None:
    # A unique temporary name, then a rename: concurrent downloads never see a half-written file.
    handle, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
