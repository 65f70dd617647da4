"""JapaneseVowels from the UEA .ts files that ship with nasforge (or $NASFORGE_DATA's), and UCI's format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge import datafiles
from nasforge.data.japanese_vowels import JapaneseVowels, read_ts
from nasforge.data.registry import get_dataset
from nasforge.errors import ConfigError, DataError


def bundled_folder() -> Path:
    return datafiles.BUNDLED / "audio" / "japanese_vowels"


def test_splits_as_the_files_give_them() -> None:
    splits = JapaneseVowels(valid_size=0.2, seed=0).load()
    assert splits.input_shape == (13, 29) and splits.num_classes == 9
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (216, 54, 370)
    assert torch.bincount(splits.valid.y).tolist() == [6] * 9  # stratified: 30 per speaker in the file
    assert torch.bincount(splits.test.y).tolist() == [31, 35, 88, 44, 29, 24, 40, 50, 29]


def test_padding_is_zero_and_marked_by_the_mask_channel() -> None:
    splits = JapaneseVowels().load()
    x = torch.cat([splits.train.x, splits.valid.x])
    mask = x[:, 12]
    lengths = mask.sum(1)
    assert lengths.min() == 7 and lengths.max() == 26  # the training file; the test file reaches 29
    assert splits.test.x[:, 12].sum(1).max() == 29
    assert (mask[:, :-1] >= mask[:, 1:]).all()  # frames first, padding after
    assert (x[:, :12] * (1 - mask[:, None])).abs().max() == 0
    # coefficients normalised with the training frames
    frames = x[:, :12].permute(0, 2, 1)[mask.bool()]
    assert frames.mean(0).abs().max() < 1e-4 and (frames.std(0) - 1).abs().max() < 1e-2


def test_read_ts_parses_dimensions_and_labels() -> None:
    series, labels = read_ts(bundled_folder() / "JapaneseVowels_TRAIN.ts.xz")
    assert len(series) == 270 and all(s.shape[1] == 12 for s in series)
    assert labels.tolist() == np.repeat(np.arange(9), 30).tolist()


def test_read_ts_reads_plain_and_compressed_files_alike(tmp_path: Path) -> None:
    import lzma

    plain = tmp_path / "JapaneseVowels_TEST.ts"
    plain.write_bytes(lzma.decompress((bundled_folder() / "JapaneseVowels_TEST.ts.xz").read_bytes()))
    series, labels = read_ts(plain)
    series_xz, labels_xz = read_ts(bundled_folder() / "JapaneseVowels_TEST.ts.xz")
    assert labels.tolist() == labels_xz.tolist() and len(series) == 370
    assert all(np.array_equal(a, b) for a, b in zip(series, series_xz))


def test_uci_format_is_read_too(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name, counts in (("ae.train", [30] * 9), ("ae.test", [31, 35, 88, 44, 29, 24, 40, 50, 29])):
        blocks = ["\n".join(" ".join(f"{v:.4f}" for v in row) for row in rng.normal(size=(8, 12)))] * sum(counts)
        (tmp_path / name).write_text("\n\n".join(blocks) + "\n\n")
    splits = JapaneseVowels(root=tmp_path).load()
    assert len(splits.train) + len(splits.valid) == 270 and len(splits.test) == 370


def test_missing_files_name_the_folder_and_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match=f"{tmp_path}.*NASFORGE_DATA"):
        JapaneseVowels(root=tmp_path).load()
    # an install without the bundled copy (a packager left it out) and nothing in the environment or cache
    monkeypatch.delenv("NASFORGE_DATA", raising=False)
    monkeypatch.setattr(datafiles, "BUNDLED", tmp_path / "bundled")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DataError, match=r"reinstall nasforge, set NASFORGE_DATA.*`root`") as info:
        JapaneseVowels().load()
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="valid_size"):
        JapaneseVowels(valid_size=0)


def test_registered() -> None:
    assert isinstance(get_dataset("japanese_vowels", valid_size=30), JapaneseVowels)
