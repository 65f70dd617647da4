"""Text data: the built-in tokenizer and its optional backends, user CSVs, and the Rotten Tomatoes movie split."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nasforge import datafiles
from nasforge.data import get_dataset
from nasforge.data.text import RottenTomatoes, TextCSV, group_split
from nasforge.data.tokenizer import (
    PAD,
    UNK,
    HFTokenizer,
    SentencePieceTokenizer,
    Tokenizer,
    make_tokenizer,
    tokenizer_from_dict,
)
from nasforge.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def rt() -> RottenTomatoes:
    return RottenTomatoes(seed=0)


@pytest.fixture(scope="module")
def snippets(rt: RottenTomatoes) -> list[str]:
    return rt.parts().texts["train"][:400]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# -- tokenizer ------------------------------------------------------------------------------------------------


def test_tokenizer_splits_words_and_punctuation_and_lowercases() -> None:
    tok = Tokenizer(min_freq=1)
    assert tok.tokenize("It's a WELL-made, gripping film!") == ["it's", "a", "well-made", ",", "gripping", "film", "!"]


def test_vocabulary_comes_from_the_fitted_texts_with_min_freq_and_max_size() -> None:
    tok = Tokenizer(min_freq=2).fit(["good good film", "bad film", "good"])
    assert set(tok.vocab) == {"good", "film"}  # "bad" is seen once
    assert tok.vocab["good"] == 2 and tok.vocab["film"] == 3  # most frequent first; 0 and 1 are reserved
    assert tok.encode("good bad unseen film") == [2, UNK, UNK, 3]
    assert Tokenizer(min_freq=1, max_size=1).fit(["good good film"]).vocab_size == 3
    ids = tok.encode_batch(["good film good film", "bad"], max_length=3)
    assert ids.tolist() == [[2, 3, 2], [UNK, PAD, PAD]]


def test_tokenizer_round_trips_through_json(snippets: list[str]) -> None:
    tok = Tokenizer(min_freq=2).fit(snippets)
    again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert again.vocab_size == tok.vocab_size
    for text in snippets[:50]:
        assert again.encode(text) == tok.encode(text)


def test_tokenizer_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="min_freq"):
        Tokenizer(min_freq=0)
    with pytest.raises(DataError, match="fit"):
        Tokenizer().encode("not fitted")
    with pytest.raises(ConfigError, match="Did you mean 'sentencepiece'"):
        make_tokenizer("sentencepeice", "TextCSV")


@pytest.mark.parametrize("cls", [SentencePieceTokenizer, HFTokenizer])  # both in the dev extra
def test_optional_backends_train_encode_and_round_trip(cls: type, snippets: list[str]) -> None:
    tok = cls(vocab_size=500).fit(snippets)
    ids = tok.encode(snippets[0])
    assert ids and all(0 < i < tok.vocab_size for i in ids)  # no padding id inside a text
    assert tok.encode_batch(["good"], max_length=8)[0, -1] == PAD
    again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert again.encode(snippets[1]) == tok.encode(snippets[1])


def test_a_missing_backend_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # import now raises ImportError
    with pytest.raises(ConfigError, match="pip install sentencepiece"):
        SentencePieceTokenizer().fit(["a text"])


# -- Rotten Tomatoes -------------------------------------------------------------------------------------------


def test_rotten_tomatoes_is_split_by_movie_without_plots(rt: RottenTomatoes) -> None:
    parts = rt.parts()
    assert parts.classes == ("rotten", "fresh") and parts.groups is not None
    assert sum(len(t) for t in parts.texts.values()) == 12808  # 13,905 rows less 1,097 plot summaries
    movies = {k: set(v) for k, v in parts.groups.items()}
    assert not movies["train"] & movies["valid"]
    assert not movies["train"] & movies["test"]
    assert not movies["valid"] & movies["test"]
    assert 0.15 < len(parts.texts["test"]) / 12808 < 0.25


def test_rotten_tomatoes_loads_token_ids_with_info(rt: RottenTomatoes) -> None:
    splits = rt.load()
    assert splits.input_shape == (64,) and splits.num_classes == 2
    assert splits.train.x.dtype.is_floating_point and float(splits.train.x.max()) < splits.info["vocab_size"]
    prep = json.loads(json.dumps(splits.info["preprocessing"]))
    assert prep["classes"] == ["rotten", "fresh"] and prep["max_length"] == 64
    tok = tokenizer_from_dict(prep["tokenizer"])
    assert tok.vocab_size == splits.info["vocab_size"]
    # the vocabulary is the training part's: a word only the test part has is unknown
    parts = rt.parts()
    train_words = {w for t in parts.texts["train"] for w in Tokenizer().tokenize(t)}
    test_only = next(w for t in parts.texts["test"] for w in Tokenizer().tokenize(t) if w not in train_words)
    assert tok.encode(test_only) == [UNK]
    first = tok.encode_batch(parts.texts["valid"][:1], 64)[0]
    assert splits.valid.x[0].long().tolist() == first.tolist()


def test_the_refitted_split_knows_the_validation_words(rt: RottenTomatoes) -> None:
    """The final retrain's tokenizer is fitted on train + valid: a word only the validation movies have gets
    its own id; the samples, labels and the training words' ids stay as they were."""
    search, final = rt.load(), rt.load_refitted()
    assert rt.load_refitted() is final  # cached like load()
    assert final.info["vocab_size"] > search.info["vocab_size"]
    parts = rt.parts()
    train_words = {w for t in parts.texts["train"] for w in Tokenizer().tokenize(t)}
    in_valid = Counter(w for t in parts.texts["valid"] for w in Tokenizer().tokenize(t))
    valid_only = sorted(w for w, n in in_valid.items() if n >= 2 and w not in train_words)[0]  # min_freq 2
    searched = tokenizer_from_dict(search.info["preprocessing"]["tokenizer"])
    refitted = tokenizer_from_dict(final.info["preprocessing"]["tokenizer"])
    assert searched.encode(valid_only) == [UNK] and refitted.encode(valid_only) != [UNK]
    assert refitted.vocab_size == final.info["vocab_size"]
    assert final.input_shape == search.input_shape
    for part in ("train", "valid", "test"):
        a, b = getattr(search, part), getattr(final, part)
        assert b.y.tolist() == a.y.tolist()
        ids = refitted.encode_batch(parts.texts[part][:5], 64)
        assert b.x[:5].long().tolist() == ids.tolist()
    assert float(final.valid.x.eq(UNK).float().mean()) < float(search.valid.x.eq(UNK).float().mean())


def test_rotten_tomatoes_missing_file_names_the_path_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DataError, match=r"rotten_tomatoes\.csv\.bz2.*NASFORGE_DATA"):
        RottenTomatoes(root=tmp_path).load()
    # an install without the bundled copy (a packager left it out) and nothing in the environment or cache
    monkeypatch.delenv("NASFORGE_DATA", raising=False)
    monkeypatch.setattr(datafiles, "BUNDLED", tmp_path / "bundled")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DataError, match=r"reinstall nasforge, set NASFORGE_DATA") as info:
        RottenTomatoes().load()
    assert str(tmp_path / "bundled" / "text") in str(info.value) and "\n" not in str(info.value)


def test_registry_names() -> None:
    assert isinstance(get_dataset("rotten_tomatoes", max_length=32), RottenTomatoes)
    assert isinstance(get_dataset("text_csv", path="x.csv"), TextCSV)


# -- any CSV ---------------------------------------------------------------------------------------------------


def test_text_csv_splits_by_group_or_stratified(tmp_path: Path, rt: RottenTomatoes) -> None:
    parts = rt.parts()
    assert parts.groups is not None
    rows = [
        {"review": t, "verdict": ("rotten", "fresh")[int(y)], "film": g}
        for t, y, g in zip(parts.texts["train"][:600], parts.labels["train"][:600], parts.groups["train"][:600])
    ]
    path = write_csv(tmp_path / "reviews.csv", rows)
    grouped = TextCSV(path, "review", "verdict", group_column="film", max_length=16, seed=1)
    gparts = grouped.parts()
    assert gparts.groups is not None and not set(gparts.groups["train"]) & set(gparts.groups["test"])
    splits = grouped.load()
    assert splits.input_shape == (16,) and splits.info["preprocessing"]["classes"] == ["fresh", "rotten"]
    stratified = TextCSV(path, "review", "verdict", test_size=None, valid_size=0.25).load()
    assert splits.test is not None and stratified.test is None
    assert len(stratified.valid) == 150
    assert abs(float(stratified.valid.y.float().mean()) - float(stratified.train.y.float().mean())) < 0.02


def test_bad_csv_inputs_give_clear_errors(tmp_path: Path) -> None:
    good = [{"text": "fine", "label": "a"}, {"text": "poor", "label": "b"}] * 5
    path = write_csv(tmp_path / "t.csv", good)
    with pytest.raises(DataError, match=r"does not exist"):
        TextCSV(tmp_path / "nope.csv").load()
    with pytest.raises(DataError, match=r"lacks the column\(s\) \['sentence'\].*\['text', 'label'\]"):
        TextCSV(path, text_column="sentence").load()
    with pytest.raises(DataError, match=r"lacks the column\(s\) \['movie'\]"):
        TextCSV(path, group_column="movie").load()
    no_group = write_csv(tmp_path / "nogroup.csv", [{"text": "fine", "label": "a", "movie": ""}, *good])
    with pytest.raises(DataError, match=r"Line 2 .* no value in the group column 'movie'"):
        TextCSV(no_group, group_column="movie").load()
    one_class = write_csv(tmp_path / "one.csv", [{"text": "fine", "label": "a"}] * 4)
    with pytest.raises(DataError, match="at least 2 classes"):
        TextCSV(one_class).load()
    no_label = write_csv(tmp_path / "nolabel.csv", [*good, {"text": "x", "label": ""}])
    with pytest.raises(DataError, match=r"Line 12 .* no value in the label column"):
        TextCSV(no_label).load()
    with pytest.raises(ConfigError, match="max_length"):
        TextCSV(path, max_length=0)
    with pytest.raises(ConfigError, match="valid_size"):
        TextCSV(path, valid_size=1.5)
    with pytest.raises(ConfigError, match="Unknown tokenizer"):
        TextCSV(path, tokenizer="bpe")


def test_group_split_holds_out_whole_groups() -> None:
    groups = np.array(list("aabbbcdddd"))
    keep, held = group_split(groups, 3, np.random.default_rng(0))
    assert len(keep) + len(held) == 10 and len(held) >= 3
    assert not set(groups[keep]) & set(groups[held])
    with pytest.raises(DataError, match="2 distinct groups"):
        group_split(np.array(["a", "a"]), 1, np.random.default_rng(0))
