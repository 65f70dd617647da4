"""Pretrained word vectors: reading word2vec / GloVe text files (plain or compressed) into one row per
vocabulary id, the errors for bad files, and a text dataset passing them on to a config-built space."""

from __future__ import annotations

import bz2
import csv
import gzip
from pathlib import Path

import pytest
import torch

from nasforge import config as configs
from nasforge.data.text import TextCSV
from nasforge.data.vectors import aligned_vectors
from nasforge.errors import ConfigError, DataError

VOCAB = {"good": 2, "bad": 3, "film": 4, "plot": 5}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rows_follow_the_vocabulary_ids_and_missing_words_are_drawn(tmp_path: Path) -> None:
    file = write(
        tmp_path / "v.txt",
        ["4 3", "Good 1 2 3", "good 9 9 9", "bad -1 -2 -3", "film 0.5 0.5 0.5", "unrelated 7 7 7"],
    )
    matrix, found = aligned_vectors(file, VOCAB, 6, seed=0)
    assert matrix.shape == (6, 3) and found == 3
    # "Good" comes first and matches the lower-cased vocabulary word; the later "good" line does not replace it
    torch.testing.assert_close(matrix[2], torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(matrix[3], torch.tensor([-1.0, -2.0, -3.0]))
    assert float(matrix[0].abs().sum()) == 0.0  # padding
    assert float(matrix[5].abs().sum()) > 0.0 and float(matrix[1].abs().sum()) > 0.0  # "plot" and unknown drawn
    again, _ = aligned_vectors(file, VOCAB, 6, seed=0)
    torch.testing.assert_close(matrix, again)


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_compressed_files_and_words_with_spaces(tmp_path: Path, suffix: str) -> None:
    text = "film 1 0\nnew york 2 2\nbad 0 1\n"
    file = tmp_path / f"v.txt{suffix}"
    file.write_bytes((gzip.compress if suffix == ".gz" else bz2.compress)(text.encode()))
    matrix, found = aligned_vectors(file, {"film": 2, "new york": 3, "bad": 4}, 5)
    assert found == 3
    torch.testing.assert_close(matrix[3], torch.tensor([2.0, 2.0]))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["good 1 2 3", "bad 1 2"], r"Line 2 .* 2 numbers after its word, but the lines before it have 3"),
        (["good 1 x 3"], r"Line 1 .* is not `word number number \.\.\.`"),
        (["good"], r"Line 1 .* is not `word number"),
        (["chat 1 2", "chien 3 4"], r"None of the 4 vocabulary words \(e\.g\. good, bad, film, plot\)"),
        ([""], r"holds no vectors"),
    ],
)
def test_bad_files_say_what_must_hold(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        aligned_vectors(write(tmp_path / "v.txt", lines), VOCAB, 6)


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        aligned_vectors(tmp_path / "none.txt", VOCAB, 6)
    bad = tmp_path / "v.txt"
    bad.write_bytes(b"good 1 2\n\xff\xfe 1 2\n")
    with pytest.raises(DataError, match="as UTF-8 text"):
        aligned_vectors(bad, VOCAB, 6)


def reviews(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    words = {"pos": ["good", "great", "fine"], "neg": ["bad", "awful", "dull"]}
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(120):
            label = ("pos", "neg")[i % 2]
            writer.writerow([f"a {words[label][i % 3]} film number {i}", label])
    return path


def csv_config(tmp_path: Path, path: str, **dataset: object) -> dict[str, object]:
    """A small random search of the text space over the CSV at `path` (8 ids per text, every word kept)."""
    return {
        "storage": str(tmp_path / "nas.db"),
        "space": {"name": "text", "embed_dims": [8], "depths": [0]},
        "dataset": {"name": "text_csv", "path": path, "min_freq": 1, "max_length": 8, **dataset},
        "strategy": {"name": "random"},
        "evaluator": {"epochs": 1},
    }


def test_a_dataset_hands_its_vectors_to_a_config_built_space(tmp_path: Path) -> None:
    vectors = write(tmp_path / "v.txt", ["good 1 1 1 1", "great 1 1 1 0", "bad -1 -1 -1 -1", "film 0 0 1 0"])
    data = TextCSV(reviews(tmp_path), vectors=vectors, min_freq=1, max_length=8)
    splits = data.load()
    tok_vocab = splits.info["preprocessing"]["tokenizer"]["vocab"]
    good = tok_vocab.index("good") + 2 if isinstance(tok_vocab, list) else tok_vocab["good"]
    assert splits.info["vectors"].shape == (splits.info["vocab_size"], 4) and splits.info["vectors_found"] == 4
    torch.testing.assert_close(splits.info["vectors"][good], torch.ones(4))
    experiment = configs.build_experiment(csv_config(tmp_path, data.path, vectors=str(vectors)))
    assert experiment.space.decision("vectors").values == ("finetune", "frozen")
    arch = dict(experiment.space.default_arch())
    frozen = experiment.space.freeze({**arch, "vectors": "frozen"})
    assert not frozen.embed.tokens.weight.requires_grad and frozen.embed.project is not None  # 4-d -> 8-d
    torch.testing.assert_close(frozen.embed.tokens.weight[good].detach(), torch.ones(4))
    experiment.run(max_trials=2)
    assert all(t.state.name == "COMPLETE" for t in experiment.trials)


def test_vectors_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="`vectors` of TextCSV must be the path of a word-vectors file"):
        TextCSV(reviews(tmp_path), vectors=tmp_path / "none.txt")
    vectors = write(tmp_path / "v.txt", ["good 1 1"])
    with pytest.raises(ConfigError, match="needs tokenizer='builtin'"):
        TextCSV(reviews(tmp_path), vectors=vectors, tokenizer="sentencepiece")
