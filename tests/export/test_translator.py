"""An exported translation model translates strings, and placeholders survive the round trip."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from torch import nn

from nasforge.data.subword import SubwordTokenizer
from nasforge.errors import NasforgeError
from nasforge.export import Translator, export_model, load_translator
from nasforge.zoo import Seq2SeqSpace

TEXTS = ["Cannot open ⟪1⟫: ⟪2⟫", "Impossible d'ouvrir ⟪1⟫ : ⟪2⟫", "copy ⟪1⟫ to ⟪2⟫", "File not found"] * 20


class CopySource(nn.Module):
    """A 'translation' that copies its source: what comes out is what the placeholders became going in."""

    def translate(self, src: torch.Tensor, max_steps: int | None = None) -> torch.Tensor:
        return src.clone()


def test_placeholders_survive_translation() -> None:
    tok = SubwordTokenizer(vocab_size=64).fit(TEXTS)
    translate = Translator(CopySource(), tok, max_length=40)
    assert translate("Cannot open %s: %d") == "Cannot open %s: %d"
    assert translate("copy {src} to {dest}") == "copy {src} to {dest}"
    assert translate.translate(["Cannot open %2$s: %1$lu", "File not found"]) == [
        "Cannot open %2$s: %1$lu",
        "File not found",
    ]


def test_placeholders_survive_predict_and_serve() -> None:
    """The same round trip through `nasforge.load`'s path: the `translation` input and output kinds."""
    from nasforge import Predictor
    from nasforge.export import TranslationInputs, TranslationOutputs
    from nasforge.export.serve import make_server
    from tests.export.test_predict_cli import post

    tok = SubwordTokenizer(vocab_size=64).fit(TEXTS)
    prep = {"kind": "translation", "task": "translation", "tokenizer": tok.to_dict(), "max_length": 40}
    model = Predictor(CopySource(), TranslationInputs(prep, (2, 40)), outputs=TranslationOutputs(prep))
    messages = ["Cannot open %s: %d", "copy {src} to {dest}", "Cannot open %2$s: %1$lu", "File not found"]
    assert model.predict(messages) == messages
    assert model.predict(messages, batch_size=3) == messages
    server = make_server(model, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert post(f"http://{host!s}:{port}/predict", {"inputs": messages}) == (200, {"predictions": messages})
    finally:
        server.shutdown()
        server.server_close()


def test_an_export_folder_translates_strings(tmp_path: Path) -> None:
    tok = SubwordTokenizer(vocab_size=64).fit(TEXTS)
    space = Seq2SeqSpace(vocab_size=tok.vocab_size, max_length=16, embed_dims=(16,))
    arch = space.default_arch()
    prep = {"task": "translation", "tokenizer": tok.to_dict(), "max_length": 16}
    export_model(space.freeze(arch), space, arch, tmp_path / "out", preprocessing=prep, formats=["pt"])
    translate = load_translator(tmp_path / "out")
    out = translate.translate(["Cannot open %s: %s", "File not found"])
    assert len(out) == 2 and all(isinstance(t, str) for t in out)


def test_a_classifier_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "preprocessing.json").write_text('{"max_length": 8}')
    with pytest.raises(NasforgeError, match="not translation"):
        load_translator(tmp_path)
