"""`nasforge predict` on files and folders of raw inputs, and `nasforge serve` answering a real HTTP client."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nasforge
from nasforge.cli.main import main
from nasforge.errors import ConfigError
from nasforge.export.serve import make_server

Export = tuple[nasforge.Predictor, dict[str, float], Path]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    from sklearn.datasets import load_digits

    return np.asarray(load_digits().images[:6], dtype=np.float32)


def test_predict_writes_one_row_per_input_with_the_class_probabilities(
    digits_export: Export, images: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, _, folder = digits_export
    np.save(tmp_path / "batch.npy", images[:4])
    (tmp_path / "more").mkdir()
    np.save(tmp_path / "more" / "one.npy", images[4])
    np.save(tmp_path / "more" / "two.npy", images[5])
    assert (
        main(
            [
                "predict",
                str(folder),
                str(tmp_path / "batch.npy"),
                str(tmp_path / "more"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    assert "6 predictions written to" in capsys.readouterr().out
    with (tmp_path / "p.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["input"] for r in rows] == [
        *(f"{tmp_path / 'batch.npy'}:{i}" for i in range(1, 5)),
        str(tmp_path / "more" / "one.npy"),
        str(tmp_path / "more" / "two.npy"),
    ]
    assert [r["prediction"] for r in rows] == model.predict(images)
    probs = np.array([[float(r[f"p_{c}"]) for c in model.classes or []] for r in rows])
    np.testing.assert_allclose(probs, model.predict_proba(images), atol=1e-6)
    # printed when no --out is given
    assert main(["predict", str(folder), str(tmp_path / "more" / "one.npy")]) == 0
    assert (
        capsys.readouterr().out.splitlines()[1].startswith(f"{tmp_path / 'more' / 'one.npy'},{rows[4]['prediction']},")
    )


def test_predict_answers_bad_inputs_with_one_line(
    digits_export: Export, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = digits_export[2]
    (tmp_path / "notes.txt").write_text("not an image")
    cases = [
        ([str(tmp_path / "missing.npy")], "is neither a file nor a folder"),
        ([str(tmp_path / "notes.txt")], "Cannot read .* as an image"),
    ]
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5, 5)))
    cases.append(([str(tmp_path / "wrong.npy")], r"model reads \(1, 8, 8\); give images of 8 x 8 pixels"))
    for inputs, message in cases:
        assert main(["predict", str(folder), *inputs]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("nasforge: error:")
        assert re.search(message, err), err
    assert main(["predict", str(tmp_path), str(tmp_path / "wrong.npy")]) == 2
    assert "must be a folder written by `nasforge export`" in capsys.readouterr().err


@pytest.fixture
def server(digits_export: Export) -> Iterator[str]:
    httpd = make_server(digits_export[0], port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    yield f"http://{host!s}:{port}"
    httpd.shutdown()
    httpd.server_close()


def post(url: str, body: bytes | dict[str, Any]) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_server_predicts_batches_and_answers_bad_requests_with_400(
    server: str, digits_export: Export, images: np.ndarray
) -> None:
    model = digits_export[0]
    with urllib.request.urlopen(server + "/health", timeout=30) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["classes"] == model.classes
    status, answer = post(server + "/predict", {"inputs": images.tolist()})
    assert status == 200 and answer["predictions"] == model.predict(images) and answer["classes"] == model.classes
    np.testing.assert_allclose(answer["probabilities"], model.predict_proba(images), atol=1e-5)
    for body, message in [
        (b"{not json", "not JSON"),
        ({"rows": []}, 'must be a JSON object {"inputs": \\[...\\]}'),
        ({"inputs": [[[1, 2], [3]]]}, "nested list of numbers"),
        ({"inputs": [np.zeros((5, 5)).tolist()]}, r"model reads \(1, 8, 8\)"),
    ]:
        status, answer = post(server + "/predict", body)  # type: ignore[arg-type]
        assert status == 400 and "\n" not in answer["error"]
        assert re.search(message, answer["error"]), answer
    assert post(server + "/other", {"inputs": [1]})[0] == 404
    assert post(server + "/predict", {"inputs": images[:1].tolist(), "extra": 1})[0] == 400


def test_the_server_publishes_the_json_schema_its_requests_follow(server: str, images: np.ndarray) -> None:
    with urllib.request.urlopen(server + "/schema", timeout=30) as response:
        schema = json.loads(response.read())
    assert schema["required"] == ["inputs"] and schema["additionalProperties"] is False
    items = schema["properties"]["inputs"]
    assert items["type"] == "array" and items["minItems"] == 1 and items["items"]["type"] == "array"
    import jsonschema  # a real validator agrees (a dev dependency)

    jsonschema.validate({"inputs": images[:2].tolist()}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"inputs": []}, schema)


def test_serve_command_listens_on_loopback_at_a_free_port(digits_export: Export, images: np.ndarray) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "nasforge", "serve", str(digits_export[2]), "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving ") and "http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else line
        url = line.split()[3]
        status, answer = post(url + "/predict", {"inputs": images[:2].tolist()})
        assert status == 200 and answer["predictions"] == digits_export[0].predict(images[:2])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_port_in_use_or_out_of_range_is_a_config_error(server: str, digits_export: Export) -> None:
    port = int(server.rsplit(":", 1)[1])
    with pytest.raises(ConfigError, match=f"Cannot listen on 127.0.0.1:{port} .* choose another --port"):
        make_server(digits_export[0], port=port)
    with pytest.raises(ConfigError, match=r"port must be an int in 0..65535 .* got 70000"):
        make_server(digits_export[0], port=70000)


def test_the_export_folder_says_what_each_file_is_and_how_to_use_it(digits_export: Export) -> None:
    folder = digits_export[2]
    readme = (folder / "README.md").read_text()
    for file in folder.iterdir():
        assert f"- `{file.name}`: " in readme
    assert f'nasforge.load("{folder}")' in readme and f"nasforge predict {folder} images.npy" in readme
    assert "an ensemble of 2 networks" in readme and 'torch.jit.load("model.torchscript.pt")' in readme
    assert f"{100 * digits_export[1]['test_acc']:.2f} %" in readme


def test_image_files_are_read_as_raw_pixels(digits_export: Export, images: np.ndarray, tmp_path: Path) -> None:
    from PIL import Image

    model = digits_export[0]
    for i, image in enumerate(images[:3]):  # 0..16 pixels stored as 0..255 grey levels
        Image.fromarray(np.rint(image * 255 / 16).astype(np.uint8)).save(tmp_path / f"{i}.png")
    files = [str(tmp_path / f"{i}.png") for i in range(3)]
    np.testing.assert_allclose(model.predict_proba(files), model.predict_proba(images[:3]), atol=0.02)


def test_an_export_without_preprocessing_reads_arrays_of_its_input_shape(tmp_path: Path) -> None:
    import torch

    from nasforge.export import export_model
    from nasforge.zoo import SmallImageCNN

    space = SmallImageCNN(input_shape=(1, 8, 8), num_classes=3)
    arch = space.random(0)
    export_model(space.freeze(arch), space, arch, tmp_path, None, (1, 8, 8))
    model = nasforge.load(tmp_path)
    x = np.random.default_rng(0).normal(size=(4, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        want = torch.softmax(model.network(torch.from_numpy(x)), -1).numpy()
    np.testing.assert_allclose(model.predict_proba(x), want, atol=1e-6)
    assert model.classes is None and set(model.predict(x)) <= {"0", "1", "2"}
    with pytest.raises(nasforge.DataError, match=r"arrays of shape \(1, 8, 8\)"):
        model.predict(np.zeros((4, 8, 8)))
