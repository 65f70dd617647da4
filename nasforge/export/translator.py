"""`Translator`: an exported translation model (`nasforge run translation`) with its tokenizer, as a
function from strings to strings."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nasforge.data.placeholders import protect, restore
from nasforge.data.subword import EOS, SubwordTokenizer
from nasforge.data.tokenizer import tokenizer_from_dict
from nasforge.errors import NasforgeError

__all__ = ["Translator", "load_translator"]


class Translator:
    """Translates strings with `model` (a frozen `seq2seq` network) and the `tokenizer` it was trained with:
    placeholders protected, beam search with `beam` hypotheses (1: greedy decoding), placeholders put back.

    >>> translate = load_translator("nasforge-out/translation")  # doctest: +SKIP
    >>> translate("Cannot open %s")  # doctest: +SKIP
    "Impossible d'ouvrir %s"
    """

    def __init__(self, model: nn.Module, tokenizer: SubwordTokenizer, max_length: int, beam: int = 4) -> None:
        if not callable(getattr(model, "translate", None)):
            raise NasforgeError(
                f"A Translator needs a seq2seq network with `translate`, but got {type(model).__name__}."
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.beam = beam  # 1: greedy decoding

    def translate(self, texts: Sequence[str]) -> list[str]:
        """The translations of `texts`; a source longer than `max_length` tokens is cut there."""
        protected = [protect(" ".join(t.split())) for t in texts]
        ids = np.zeros((len(texts), self.max_length), dtype=np.int64)
        for i, (src, _) in enumerate(protected):
            row = [*self.tokenizer.encode(src)[: self.max_length - 1], EOS]
            ids[i, : len(row)] = row
        batch = torch.from_numpy(ids)
        if self.beam > 1 and callable(getattr(self.model, "beam_search", None)):
            out = self.model.beam_search(batch, beam=self.beam)  # type: ignore[operator]
        else:
            out = self.model.translate(batch)  # type: ignore[operator]
        return [
            restore(self.tokenizer.decode(row.tolist()), slots) for row, (_, slots) in zip(out, protected, strict=True)
        ]

    def __call__(self, text: str) -> str:
        return self.translate([text])[0]


def load_translator(path: str | os.PathLike[str]) -> Translator:
    """The `Translator` of an export folder: `weights.pt`, `arch.json`, `space.json` and the tokenizer in
    `preprocessing.json`."""
    from nasforge.export.exporter import load_model

    folder = Path(path)
    prep_file = folder / "preprocessing.json"
    if not prep_file.is_file():
        raise NasforgeError(f"{str(prep_file)!r} is missing; `path` must be a folder that a translation run exported.")
    prep = json.loads(prep_file.read_text())
    if prep.get("task") != "translation":
        raise NasforgeError(
            f"{str(folder)!r} holds a model for {prep.get('task', 'classification')!r}, not translation."
        )
    tokenizer = tokenizer_from_dict(prep["tokenizer"])
    if not isinstance(tokenizer, SubwordTokenizer):
        raise NasforgeError(f"A translation export must carry a subword tokenizer, but {prep_file} has {tokenizer!r}.")
    return Translator(load_model(folder), tokenizer, int(prep["max_length"]))
