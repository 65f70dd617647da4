"""SpokenDigits: espeak-ng generation into a cache, split by voice, augmentation fixed by the seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from nasforge.data import clear_cache
from nasforge.data.registry import get_dataset
from nasforge.data.spoken_digits import VARIANTS, WHISPER, SpokenDigits
from nasforge.errors import ConfigError, DataError

# espeak-ng is a Debian package that scripts/setup.sh installs; without it these tests fail, they do not skip


def small(cache: Path, **kwargs: object) -> SpokenDigits:
    settings: dict[str, object] = {"n_voices": 5, "speeds": (160,), "pitches": (50,), "test_voices": 2}
    settings.update(kwargs)
    settings["valid_voices"] = settings.get("valid_voices", 1)
    return SpokenDigits(cache_dir=cache, **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five voices saying each digit once, generated once for the module (about a second)."""
    folder = tmp_path_factory.mktemp("spoken")
    assert shutil.which("espeak-ng"), "the spoken-digit tests need espeak-ng: apt-get install espeak-ng (setup.sh does)"
    small(folder).generate()
    return folder


def test_splits_are_by_voice_and_hold_every_digit(cache: Path) -> None:
    splits = small(cache).load()
    assert splits.input_shape == (40, 63) and splits.num_classes == 10
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (20, 10, 20)
    voices = splits.info["voices"]
    assert (len(voices["train"]), len(voices["valid"]), len(voices["test"])) == (2, 1, 2)
    assert not set(voices["train"]) & (set(voices["valid"]) | set(voices["test"]))
    assert not set(voices["valid"]) & set(voices["test"])
    for part in (splits.train, splits.valid, splits.test):
        assert sorted(set(part.y.tolist())) == list(range(10)) and torch.isfinite(part.x).all()
    # normalised per mel band with training statistics
    assert splits.train.x.mean(dim=(0, 2)).abs().max() < 1e-4
    assert splits.info["preprocessing"]["n_mels"] == 40 and len(splits.info["preprocessing"]["mean"]) == 40


def test_augmentation_is_fixed_by_the_seed(cache: Path) -> None:
    first = small(cache, seed=3).load()
    clear_cache()
    again = small(cache, seed=3).load()
    other = small(cache, seed=4).load()
    assert torch.equal(first.train.x, again.train.x) and torch.equal(first.test.y, again.test.y)
    assert first.info["voices"] != other.info["voices"] or not torch.equal(first.train.x, other.train.x)


def test_noise_and_reverberation_change_the_features(cache: Path) -> None:
    clean = small(cache, snr_db=(100.0, 100.0), reverb_prob=0.0, max_shift=0.0).load()
    noisy = small(cache, snr_db=(0.0, 0.0), reverb_prob=1.0).load()
    assert not torch.allclose(clean.train.x, noisy.train.x, atol=0.1)
    assert clean.info["voices"] == noisy.info["voices"]  # augmentation settings never move the split


def test_the_cache_is_reused_without_espeak(cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    clear_cache()
    assert len(small(cache).load().train) == 20


def test_a_missing_espeak_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="apt-get install espeak-ng"):
        small(tmp_path / "cache").load()


def test_the_cache_key_follows_the_generation_settings(tmp_path: Path) -> None:
    base = small(tmp_path).cache_path()
    assert small(tmp_path, seed=5, snr_db=(1.0, 2.0)).cache_path() == base  # augmentation: same waveforms
    assert small(tmp_path, speeds=(150,)).cache_path() != base
    assert small(tmp_path, n_voices=6).cache_path() != base


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NASFORGE_CACHE", str(tmp_path))
    assert SpokenDigits().cache_path().parent == tmp_path / "spoken_digits"


def test_voices_have_distinct_variants() -> None:
    voices = SpokenDigits(n_voices=len(VARIANTS)).voices()
    assert len({variant for _, variant in voices}) == len(VARIANTS)
    assert not set(WHISPER) & set(VARIANTS)  # opt-in only
    with_whisper = SpokenDigits(n_voices=len(VARIANTS) + 2, variants=VARIANTS + WHISPER).voices()
    assert {"whisper", "whisperf"} <= {variant for _, variant in with_whisper}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_voices": 2}, "n_voices"),
        ({"variants": ["m3", "m3"]}, "variants"),
        ({"variants": ["m3; rm -rf /"]}, "variants"),
        ({"variants": ["m1", "m2", "m3"], "n_voices": 4}, "n_voices"),
        ({"speeds": []}, "speeds"),
        ({"pitches": [120]}, "pitches"),
        ({"snr_db": [20, 0]}, "snr_db"),
        ({"reverb_prob": 1.5}, "reverb_prob"),
        ({"test_voices": 0}, "test_voices"),
        ({"n_mels": 4}, "n_mels"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SpokenDigits(**kwargs)  # type: ignore[arg-type]


def test_registered() -> None:
    assert isinstance(get_dataset("spoken_digits", n_voices=10), SpokenDigits)
