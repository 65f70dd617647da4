"""An exported model predicts on raw inputs, for every domain the presets cover, with the accuracy its
`metrics.json` states on the held-out test split (the raw test inputs go through `nasforge.load`'s
preprocessing, not through the dataset's)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from nasforge.cli.main import main
from nasforge.errors import DataError
from tests.export.conftest import exported


def predictions(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return [row["prediction"] for row in csv.DictReader(f)]


def accuracy(predicted: list[str], truth: list[str]) -> float:
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


def test_images_as_raw_pixels_ensemble(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    from nasforge.data import Digits
    from nasforge.data.digits import MEAN, STD

    model, metrics, _ = exported(
        tmp_path,
        {
            "space": {"name": "cnn", "depths": [1], "widths": [[8], [8], [16]], "stem_widths": [8]},
            "dataset": {"name": "digits"},
        },
        ensemble_seeds=2,
    )
    test = Digits().load().test
    assert test is not None
    raw = np.rint(test.x.numpy()[:, 0] * STD + MEAN)  # back to the 0..16 pixels they were
    assert set(np.unique(raw)) <= set(np.unique(load_digits().images))
    predicted = model.predict(raw)  # (N, 8, 8) arrays of raw pixels
    assert accuracy(predicted, [str(int(y)) for y in test.y]) == pytest.approx(metrics["test_acc"], abs=1e-9)
    assert model.predict(list(raw[:3])) == predicted[:3] == model.predict(raw[:3, None])  # list, (N, 1, H, W)
    probs = model.predict_proba(raw[0])
    assert probs.shape == (1, 10) and probs.sum() == pytest.approx(1, abs=1e-5)
    with pytest.raises(DataError, match=r"model reads \(1, 8, 8\); give images of 8 x 8 pixels"):
        model.predict(np.zeros((2, 9, 9)))


def test_texts_as_strings(tmp_path: Path) -> None:
    from nasforge.data.text import RottenTomatoes

    config = {
        "space": {"name": "text", "embed_dims": [16], "depths": [0], "ngram_buckets": [0]},
        "dataset": {"name": "rotten_tomatoes", "max_length": 24},
    }
    model, metrics, folder = exported(tmp_path, config)
    parts = RottenTomatoes(max_length=24).parts()
    truth = [parts.classes[i] for i in parts.labels["test"]]
    predicted = model.predict(parts.texts["test"])
    assert set(predicted) <= {"fresh", "rotten"} and model.classes == list(parts.classes)
    assert accuracy(predicted, truth) == pytest.approx(metrics["test_acc"], abs=1e-9)
    # the command line: a CSV's text column in (some reviews hold line breaks), one row per text out
    with (tmp_path / "texts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["text"], *([t] for t in parts.texts["test"])])
    assert main(["predict", str(folder), str(tmp_path / "texts.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    assert predictions(tmp_path / "p.csv") == predicted
    (tmp_path / "lines.txt").write_text("a triumph\n\ndull and far too long\n")  # or one text per line
    assert main(["predict", str(folder), str(tmp_path / "lines.txt"), "--out", str(tmp_path / "q.csv")]) == 0
    assert predictions(tmp_path / "q.csv") == model.predict(["a triumph", "dull and far too long"])
    assert model.predict("a single text") == [model.predict(["a single text"])[0]]
    # texts themselves on the command line (an INPUT that is no file)
    assert main(["predict", str(folder), "a triumph", "dull", "--out", str(tmp_path / "r.csv")]) == 0
    assert predictions(tmp_path / "r.csv") == model.predict(["a triumph", "dull"])
    with pytest.raises(DataError, match=r"Inputs must be texts \(strings\), but input 1 is int"):
        model.predict(["fine", 3])


def write_table(path: Path, n: int, seed: int) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        age, colour = rng.integers(18, 80), str(rng.choice(["red", "green", "blue"]))
        good = (age > 45) ^ (colour == "blue")
        rows.append({"age": str(age), "colour": colour, "score": f"{rng.normal():.3f}", "y": "good" if good else "bad"})
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_table_rows_as_dicts_csv_and_dataframe(tmp_path: Path) -> None:
    write_table(tmp_path / "train.csv", 300, 0)
    test_rows = write_table(tmp_path / "test.csv", 100, 1)
    config = {
        "space": {"name": "mlp", "widths": [32], "depths": [1]},
        "dataset": {
            "name": "csv",
            "path": str(tmp_path / "train.csv"),
            "label": "y",
            "test_path": str(tmp_path / "test.csv"),
        },
        "evaluator": {"epochs": 5},
    }
    model, metrics, folder = exported(tmp_path, config, epochs=5)
    truth = [row["y"] for row in test_rows]
    predicted = model.predict(test_rows)  # the label column is ignored
    assert accuracy(predicted, truth) == pytest.approx(metrics["test_acc"], abs=1e-9)
    assert model.predict(str(tmp_path / "test.csv")) == predicted
    assert main(["predict", str(folder), str(tmp_path / "test.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    assert predictions(tmp_path / "p.csv") == predicted
    pandas = pytest.importorskip("pandas")
    assert model.predict(pandas.read_csv(tmp_path / "test.csv")) == predicted
    with pytest.raises(DataError, match=r"Row 0 to encode lacks columns \['colour'\]"):
        model.predict([{"age": 30, "score": 0.1}])


def test_speaker_utterances_as_lpc_frames(tmp_path: Path) -> None:
    from nasforge.data.japanese_vowels import TS_FILES, JapaneseVowels, read_ts

    model, metrics, _ = exported(tmp_path, {"space": {"name": "audio_cnn"}, "dataset": {"name": "japanese_vowels"}})
    test_file = next(JapaneseVowels().folder().glob(TS_FILES[1] + "*"))
    utterances, labels = read_ts(test_file)  # (frames, 12) arrays of 7 to 29 frames
    predicted = model.predict(utterances)
    truth = [f"speaker {y + 1}" for y in labels]
    assert accuracy(predicted, truth) == pytest.approx(metrics["test_acc"], abs=1e-9)
    with pytest.raises(DataError, match=r"utterances as \(frames, 12\) arrays"):
        model.predict([np.zeros((10, 5))])


@pytest.mark.slow  # synthesises a few voices with espeak-ng (scripts/setup.sh installs it) first
def test_spoken_digits_as_waveforms_and_wav_files(tmp_path: Path) -> None:
    import wave

    from nasforge.data.spoken_digits import SpokenDigits

    data = {
        "name": "spoken_digits",
        "cache_dir": str(tmp_path / "cache"),
        "n_voices": 6,
        "speeds": [170],
        "pitches": [50],
    }
    model, metrics, _ = exported(tmp_path, {"space": {"name": "audio_cnn"}, "dataset": data})
    waves, truth = SpokenDigits(**{k: v for k, v in data.items() if k != "name"}).waveforms("test")  # type: ignore[arg-type]
    predicted = model.predict(list(waves))
    assert accuracy(predicted, truth) == pytest.approx(metrics["test_acc"], abs=1e-9)
    with wave.open(str(tmp_path / "clip.wav"), "wb") as f:  # a WAV file goes through the same path
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes((np.clip(waves[0], -1, 1) * 32767).astype("<i2").tobytes())
    assert model.predict(str(tmp_path / "clip.wav")) == model.predict(
        [(np.clip(waves[0], -1, 1) * 32767).astype("<i2").astype(np.float32) / 32768]
    )
