"""JapaneseVowels (Kudo et al., 1999): nine male speakers saying /ae/, 12 LPC cepstrum coefficients per
frame, 7 to 29 frames. The class is the speaker; 270 training and 370 test utterances.

Read from the `.ts` files of the UEA archive (`JapaneseVowels_TRAIN.ts`, `JapaneseVowels_TEST.ts`, as
sktime and aeon ship them; plain or compressed with xz, gzip or bzip2) or from the original UCI files
(`ae.train`, `ae.test`), in `root`, else in `$NASFORGE_DATA/audio/japanese_vowels` if it holds them, else
in the copy that ships with nasforge (see `nasforge.datafiles`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from nasforge.data.base import ArrayData, BaseDataset, DataSplits, cached_load
from nasforge.data.split import check_seed, check_size, resolve_size, stratified_split
from nasforge.datafiles import ENV_DATA, data_dirs, find_file, open_text
from nasforge.errors import ConfigError, DataError

__all__ = ["JapaneseVowels", "read_ts"]

AREA = "audio/japanese_vowels"
TS_FILES = ("JapaneseVowels_TRAIN.ts", "JapaneseVowels_TEST.ts")
UCI_FILES = ("ae.train", "ae.test")
N_COEFFS = 12
MAX_FRAMES = 29
#: utterances per speaker in the UCI test file (its blocks are in speaker order, unlabelled)
UCI_TEST_COUNTS = (31, 35, 88, 44, 29, 24, 40, 50, 29)
UCI_TRAIN_PER_SPEAKER = 30


class JapaneseVowels(BaseDataset):
    """Utterances as (13, 29) float32: 12 coefficients normalised with training statistics, then a mask
    channel (1 on real frames); shorter utterances are padded with zeros at the end.

    `valid_size` (a count or fraction) is carved out of the training file, stratified by speaker; the test
    file is the test split.

    >>> splits = JapaneseVowels().load()  # doctest: +SKIP
    >>> splits.input_shape, splits.num_classes, len(splits.test)  # doctest: +SKIP
    ((13, 29), 9, 370)
    """

    name = "japanese_vowels"

    def __init__(
        self, root: str | os.PathLike[str] | None = None, valid_size: int | float = 0.2, seed: int = 0
    ) -> None:
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise ConfigError(f"`root` of JapaneseVowels must be a folder path or None, but got {root!r}.")
        self.root = os.fspath(root) if root is not None else None
        self.valid_size = check_size(valid_size, "valid_size", "JapaneseVowels")
        self.seed = check_seed(seed, "JapaneseVowels")

    def __repr__(self) -> str:
        return f"JapaneseVowels(root={self.root!r}, valid_size={self.valid_size!r}, seed={self.seed})"

    def folder(self) -> Path:
        """`root`, else the first of `$NASFORGE_DATA/audio/japanese_vowels`, the bundled copy and the cache
        that holds the files."""
        if self.root is not None:
            return Path(self.root).expanduser()
        searched = data_dirs(AREA)
        for folder in searched:
            if _files(folder) is not None:
                return folder
        raise DataError(
            f"JapaneseVowels cannot find {TS_FILES[0]} and {TS_FILES[1]} (or UCI's ae.train and ae.test) in "
            f"any of {[str(d) for d in searched]}, and the copy that ships with nasforge is missing: reinstall "
            f"nasforge, set {ENV_DATA} to a folder holding {AREA}/, or pass `root`."
        )

    def load(self) -> DataSplits:
        folder = self.folder().resolve()
        return cached_load(("japanese_vowels", str(folder), self.valid_size, self.seed), lambda: self._build(folder))

    def _build(self, folder: Path) -> DataSplits:
        files = _files(folder)
        if files is None:
            raise DataError(
                f"JapaneseVowels files not found in `root`={str(folder)!r}: it must hold {TS_FILES[0]} and "
                f"{TS_FILES[1]} (UEA archive, as in aeon; plain, .xz, .gz or .bz2) or UCI's ae.train and "
                f"ae.test. Pass another `root`, or leave it out to use ${ENV_DATA}/{AREA} or the bundled copy."
            )
        (train_path, test_path), uci = files
        if not uci:
            train, y_train = read_ts(train_path)
            test, y_test = read_ts(test_path)
        else:
            train = _read_uci(train_path)
            y_train = np.repeat(np.arange(9), UCI_TRAIN_PER_SPEAKER)
            test = _read_uci(test_path)
            y_test = np.repeat(np.arange(9), UCI_TEST_COUNTS)
            _check_count(train_path, len(train), len(y_train))
            _check_count(test_path, len(test), len(y_test))
        # Normalise each coefficient with the training frames only, then pad: padding stays exactly 0.
        frames = np.concatenate(train)
        mean, std = frames.mean(0), frames.std(0) + 1e-8
        n_valid = resolve_size(self.valid_size, len(y_train), "valid_size", "JapaneseVowels")
        keep, held = stratified_split(y_train, n_valid, np.random.default_rng(self.seed))
        everything = ArrayData(_pad([(u - mean) / std for u in train]), torch.from_numpy(y_train.astype(np.int64)))
        return DataSplits(
            train=everything.subset(keep),
            valid=everything.subset(held),
            test=ArrayData(_pad([(u - mean) / std for u in test]), torch.from_numpy(y_test.astype(np.int64))),
            num_classes=9,
            input_shape=(N_COEFFS + 1, MAX_FRAMES),
            name=self.name,
            info={
                "preprocessing": {
                    "kind": "lpc_frames",
                    "classes": [f"speaker {i}" for i in range(1, 10)],
                    "mean": mean.tolist(),
                    "std": std.tolist(),
                    "max_frames": MAX_FRAMES,
                    "layout": "12 normalised LPC cepstrum channels + 1 mask channel, zero-padded at the end",
                }
            },
        )


def _files(folder: Path) -> tuple[tuple[Path, Path], bool] | None:
    """The training and test files in `folder` and whether they are UCI's; None if it lacks a pair."""
    train, test = (find_file(folder, name) for name in TS_FILES)
    if train is not None and test is not None:
        return (train, test), False
    train, test = (find_file(folder, name) for name in UCI_FILES)
    if train is not None and test is not None:
        return (train, test), True
    return None


def read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Utterances (frames x dimensions float32 arrays) and 0-based labels from an sktime/aeon `.ts` file,
    plain or compressed (`.xz`, `.gz`, `.bz2`)."""
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    with open_text(path, newline=None) as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            *dims, label = line.split(":")
            try:
                values = np.array([[float(v) for v in d.split(",")] for d in dims], dtype=np.float32)
            except ValueError as exc:
                raise DataError(
                    f"{path}, line {number}: every dimension must be comma-separated numbers ({exc})."
                ) from exc
            if values.shape[0] != N_COEFFS:
                raise DataError(f"{path}, line {number}: expected {N_COEFFS} dimensions, but got {values.shape[0]}.")
            series.append(values.T)
            labels.append(label.strip())
    if not series:
        raise DataError(f"{path} holds no utterances: a .ts file needs an @data line followed by one line each.")
    classes = sorted(set(labels), key=lambda s: (len(s), s))  # '1'..'9' in numeric order
    if len(classes) != 9:
        raise DataError(f"{path} must label the 9 speakers, but has {len(classes)} labels: {classes}.")
    return series, np.array([classes.index(label) for label in labels], dtype=np.int64)


def _read_uci(path: Path) -> list[np.ndarray]:
    """UCI's format: one line of 12 numbers per frame, a blank line after each utterance."""
    blocks: list[np.ndarray] = []
    current: list[list[float]] = []
    with open_text(path, newline=None) as handle:
        for line in handle:
            if line.strip():
                current.append([float(v) for v in line.split()])
            elif current:
                blocks.append(np.array(current, dtype=np.float32))
                current = []
    if current:
        blocks.append(np.array(current, dtype=np.float32))
    return blocks


def _check_count(path: Path, got: int, want: int) -> None:
    if got != want:
        raise DataError(f"{path} must hold {want} utterances (blocks separated by blank lines), but holds {got}.")


def _pad(utterances: list[np.ndarray]) -> torch.Tensor:
    out = np.zeros((len(utterances), N_COEFFS + 1, MAX_FRAMES), dtype=np.float32)
    for i, u in enumerate(utterances):
        t = min(len(u), MAX_FRAMES)
        out[i, :N_COEFFS, :t] = u[:t].T
        out[i, N_COEFFS, :t] = 1.0
    return torch.from_numpy(out)
