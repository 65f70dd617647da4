"""A translation export through the shared machinery: `nasforge.load(...).predict`, `nasforge predict` on text
files and texts, `nasforge serve` (its answers and its request schema) and the export folder's README."""

from __future__ import annotations

import csv
import io
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import nasforge
from nasforge.cli.main import main
from nasforge.config import build_experiment
from nasforge.errors import DataError, NasforgeError
from nasforge.export import TranslationInputs, TranslationOutputs, Translator, load_translator
from nasforge.export.serve import make_server
from tests.export.test_predict_cli import post

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "parallel_sample.tsv"
#: a tiny encoder-decoder on 60 made-up pairs, searched for one 5-step trial and retrained for one epoch
TINY = {
    "name": "tiny-translation",
    "strategy": {"name": "random"},
    "objective": "max:val_bleu",
    "space": {
        "name": "seq2seq",
        "embed_dims": [16],
        "encoder_depths": [1],
        "decoder_depths": [1],
        "ffn_mults": [1],
        "heads": [2],
        "batch_sizes": [16],
    },
    "dataset": {"name": "parallel_text", "path": str(SAMPLE), "vocab_size": 64, "max_length": 24},
    "evaluator": {"name": "translation", "steps": 5, "valid_limit": 4, "test_beam": 1},
}
MESSAGES = ["Cannot open %s", "File not found", "copy {src} to {dest}"]


@pytest.fixture(scope="module")
def translation_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("translation")
    experiment = build_experiment(TINY, storage=str(tmp / "t.db"))
    experiment.run(max_trials=1)
    folder, _ = experiment.export(str(tmp / "out"), epochs=1, formats=["pt", "torchscript"])
    return Path(folder)


def test_load_gives_a_translator_that_answers_strings(translation_export: Path) -> None:
    model = nasforge.load(translation_export)
    assert isinstance(model.inputs, TranslationInputs) and isinstance(model.outputs, TranslationOutputs)
    assert model.classes is None
    out = model.predict(MESSAGES)
    assert len(out) == 3 and all(isinstance(t, str) and "⟪" not in t for t in out)
    assert out == load_translator(translation_export).translate(MESSAGES)  # the same beam search
    # one string, as the text kind takes it (a batch of another size may differ in the last bits of a logit, so
    # an untrained model's words are not compared here: the copying network in test_translator.py checks batching)
    single = model.predict("Cannot open %s")
    assert len(single) == 1 and isinstance(single[0], str)
    assert len(model.predict(MESSAGES, batch_size=2)) == 3
    assert isinstance(model.outputs, TranslationOutputs)
    model.outputs.beam = 1  # greedy decoding
    greedy = Translator(model.network, model.inputs.tokenizer, model.inputs.max_length, beam=1)
    assert model.predict(MESSAGES) == greedy.translate(MESSAGES)
    with pytest.raises(NasforgeError, match="answers translations, not classes"):
        model.predict_proba(MESSAGES)
    with pytest.raises(DataError, match=r"Inputs must be texts \(strings\) to translate, but input 1 is int"):
        model.predict(["fine", 3])


def test_predict_command_translates_lines_csv_columns_and_texts(
    translation_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = nasforge.load(translation_export)
    (tmp_path / "messages.txt").write_text("Cannot open %s\n\nFile not found\n")
    with (tmp_path / "messages.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["id", "source"], ["1", "copy {src} to {dest}"]])
    args = [str(tmp_path / "messages.txt"), str(tmp_path / "messages.csv"), "Quit now", "%s"]
    assert main(["predict", str(translation_export), *args, "--out", str(tmp_path / "t.csv")]) == 0
    assert "5 predictions written to" in capsys.readouterr().out
    with (tmp_path / "t.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    sources = ["Cannot open %s", "File not found", "copy {src} to {dest}", "Quit now", "%s"]
    assert rows[0] == ["source", "translation"] and [r[0] for r in rows[1:]] == sources
    assert [r[1] for r in rows[1:]] == model.predict(sources)
    assert main(["predict", str(translation_export), "File not found"]) == 0  # printed without --out
    printed = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert printed == [["source", "translation"], ["File not found", *model.predict(["File not found"])]]
    assert main(["predict", str(translation_export), str(tmp_path / "missing.txt")]) == 2  # a path, mistyped
    assert "neither a file nor a folder; give files of inputs or texts" in capsys.readouterr().err


@pytest.fixture
def server(translation_export: Path) -> Iterator[str]:
    httpd = make_server(nasforge.load(translation_export), port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    yield f"http://{host!s}:{port}"
    httpd.shutdown()
    httpd.server_close()


def test_the_server_translates_and_publishes_its_request_schema(server: str, translation_export: Path) -> None:
    import jsonschema

    with urllib.request.urlopen(server + "/schema", timeout=30) as response:
        schema = json.loads(response.read())
    assert schema["properties"]["inputs"]["items"]["type"] == "string"
    jsonschema.validate({"inputs": MESSAGES}, schema)
    for bad in ({"inputs": []}, {"inputs": [3]}, {"texts": MESSAGES}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    status, answer = post(server + "/predict", {"inputs": MESSAGES})
    assert status == 200 and answer == {"predictions": nasforge.load(translation_export).predict(MESSAGES)}
    status, answer = post(server + "/predict", {"inputs": ["fine", 3]})
    assert status == 400 and "input 1 is int" in answer["error"]
    with urllib.request.urlopen(server + "/health", timeout=30) as response:
        health = json.loads(response.read())
    assert health["classes"] is None and "to translate" in health["accepts"]


def test_the_export_folder_readme_shows_how_to_translate(translation_export: Path) -> None:
    readme = (translation_export / "README.md").read_text()
    assert "a translation model found by nasforge" in readme and "held-out test part: BLEU" in readme
    for file in translation_export.iterdir():
        assert f"- `{file.name}`: " in readme
    assert f'nasforge.load("{translation_export}")' in readme and "model.predict([" in readme
    assert f"nasforge predict {translation_export} messages.txt --out translations.csv" in readme
    assert "predict_proba" not in readme and "classifier" not in readme


def test_an_export_without_the_translation_kind_says_to_export_again(translation_export: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(translation_export, old)
    prep = json.loads((old / "preprocessing.json").read_text())
    del prep["kind"]  # as exports written before the kind existed
    (old / "preprocessing.json").write_text(json.dumps(prep))
    with pytest.raises(NasforgeError, match="export it again"):
        nasforge.load(old).predict(MESSAGES)
