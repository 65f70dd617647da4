"""Sentiment lexicons: reading `word<TAB>score` files (plain or compressed) and the VADER lexicon into one
score per vocabulary id, the errors for bad files, a text dataset passing the scores to a config-built
space whose lexicon term learns from them, and the exported network keeping them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from nasforge import config as configs
from nasforge.data import lexicon as lexicons
from nasforge.data.lexicon import aligned_lexicon, read_lexicon
from nasforge.data.text import TextCSV
from nasforge.errors import ConfigError, DataError, SpaceError
from nasforge.export import export_model, load_model
from nasforge.zoo.text import TextClassifierSpace
from tests.data.test_vectors import csv_config, reviews, write

VOCAB = {"good": 2, "bad": 3, "film": 4, "plot": 5}


def test_scores_follow_the_vocabulary_ids_scaled_to_one(tmp_path: Path) -> None:
    # VADER's layout: word, mean score, standard deviation, the raters' scores
    file = write(
        tmp_path / "lex.txt",
        ["# a comment", "Good\t2.0\t0.5\t[2, 2]", "good\t-3.0\t0.1\t[-3]", "bad\t-4.0", "", "dull -1.0", "meh 0"],
    )
    assert read_lexicon(file) == {"good": 2.0, "bad": -4.0, "dull": -1.0, "meh": 0.0}
    scores, found = aligned_lexicon(file, {**VOCAB, "dull": 6}, 7)
    # the first line of a word wins, case aside; scores are divided by the largest absolute one (4)
    torch.testing.assert_close(scores, torch.tensor([0.0, 0.0, 0.5, -1.0, 0.0, 0.0, -0.25]))
    assert found == 3


def test_compressed_files_are_read_as_they_are(tmp_path: Path) -> None:
    file = tmp_path / "lex.txt.gz"
    file.write_bytes(gzip.compress(b"film\t1.0\nplot\t-0.5\n"))
    scores, found = aligned_lexicon(file, VOCAB, 6)
    assert found == 2 and scores[4] == 1.0 and scores[5] == -0.5


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["good\t1", "bad"], r"Line 2 of the lexicon .* must hold a word and its score, but holds 'bad'"),
        (["good\tvery"], r"Line 1 of the lexicon .* must have a number after the word, but has 'very'"),
        (["good\tnan"], r"Line 1 .* not finite"),
        (["# only a comment"], r"has no entries; it needs `word<TAB>score` lines"),
        (["chat\t1", "chien\t-1"], r"None of the 4 vocabulary words is in the lexicon .* \(2 entries\)"),
    ],
)
def test_bad_files_say_what_must_hold(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        aligned_lexicon(write(tmp_path / "lex.txt", lines), VOCAB, 6)


def test_the_vader_lexicon_comes_from_its_package_and_a_missing_one_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scores, found = aligned_lexicon("vader", {"good": 2, "awful": 3, "film": 4}, 5)
    # VADER rates "good" 1.9 and "awful" -2.0 on its -4..+4 scale, and leaves "film" out
    assert found == 2 and scores[2] > 0.4 and scores[3] < -0.4 and scores[4] == 0.0
    monkeypatch.setitem(lexicons.BUILTIN_LEXICONS, "vader", ("no_such_package_here", "lexicon.txt"))
    with pytest.raises(
        ConfigError, match=r"'no_such_package_here', which is not installed; run `pip install nasforge\[text\]`"
    ):
        aligned_lexicon("vader", VOCAB, 6)


def test_a_dataset_hands_its_lexicon_to_a_config_built_space(tmp_path: Path) -> None:
    lexicon = write(tmp_path / "lex.txt", ["good\t2", "great\t3", "bad\t-2", "awful\t-3", "dull\t-1", "fine\t1"])
    data = TextCSV(reviews(tmp_path), lexicon=lexicon, min_freq=1, max_length=8)
    splits = data.load()
    vocab = splits.info["preprocessing"]["tokenizer"]["vocab"]
    ids = {w: (vocab.index(w) + 2 if isinstance(vocab, list) else vocab[w]) for w in ("great", "awful", "film")}
    assert splits.info["lexicon"].shape == (splits.info["vocab_size"],) and splits.info["lexicon_found"] == 6
    assert splits.info["lexicon"][ids["great"]] == 1.0 and splits.info["lexicon"][ids["awful"]] == -1.0
    assert splits.info["lexicon"][ids["film"]] == 0.0
    experiment = configs.build_experiment(csv_config(tmp_path, data.path, lexicon=str(lexicon)))
    assert experiment.space.decision("lexicon").values == ("on", "off")
    net = experiment.space.freeze({**experiment.space.default_arch(), "lexicon": "on"})
    assert net.lexicon is not None
    torch.testing.assert_close(net.lexicon.scores[:, 0], splits.info["lexicon"])
    assert experiment.space.freeze({**experiment.space.default_arch(), "lexicon": "off"}).lexicon is None
    experiment.run(max_trials=2)
    assert all(t.state.name == "COMPLETE" for t in experiment.trials)


def test_lexicon_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"`lexicon` of TextCSV must be 'vader' or the path of a lexicon file"):
        TextCSV(reviews(tmp_path), lexicon=tmp_path / "none.txt")
    lexicon = write(tmp_path / "lex.txt", ["good\t1"])
    with pytest.raises(ConfigError, match="`lexicon` of TextCSV needs tokenizer='builtin'"):
        TextCSV(reviews(tmp_path), lexicon=lexicon, tokenizer="sentencepiece")
    with pytest.raises(SpaceError, match=r"\(vocab_size,\) = \(50,\) or \(vocab_size, k\) tensor .* got \(40,\)"):
        TextClassifierSpace(vocab_size=50, lexicon=torch.zeros(40))
    assert "lexicon" not in {d.label for d in TextClassifierSpace(vocab_size=50).decisions}


def test_the_lexicon_term_starts_silent_learns_and_is_exported_with_its_scores(tmp_path: Path) -> None:
    scores = torch.zeros(50)
    scores[2:10] = 1.0
    scores[10:18] = -1.0
    space = TextClassifierSpace(input_shape=(6,), vocab_size=50, embed_dims=(8,), lexicon=scores)
    arch = space.validate({**space.default_arch(), "blocks": 0, "lexicon": "on"})
    torch.manual_seed(0)
    net = space.freeze(arch)
    x = torch.cat([torch.randint(2, 10, (32, 6)), torch.randint(10, 18, (32, 6))]).float()
    y = torch.cat([torch.ones(32), torch.zeros(32)]).long()
    assert float(net.lexicon(x.long()).abs().sum()) == 0.0  # silent at the start
    opt = torch.optim.SGD(net.lexicon.parameters(), lr=1.0)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    weight = net.lexicon.weight.weight.detach()[:, 0]
    assert weight[1] > 0 > weight[0]  # positive scores push towards class 1
    assert not net.lexicon.scores.requires_grad
    folder = export_model(net.eval(), space, arch, str(tmp_path / "out"), {}, (6,), None, ("pt", "torchscript"), x[:4])
    assert json.loads((folder / "space.json").read_text())["kwargs"]["lexicon"] == {
        "__tensor__": {"shape": [50], "dtype": "float32"}
    }
    again = load_model(folder)
    with torch.no_grad():
        torch.testing.assert_close(again(x), net(x))
        torch.testing.assert_close(torch.jit.load(str(folder / "model.torchscript.pt"))(x), net(x))
