"""Translation exports (`nasforge run translation`): `Translator`, a function from strings to strings, and the
input and output kinds `translation` through which `nasforge.load`, `nasforge predict` and `nasforge serve`
translate.

Placeholders (`%s`, `%1$s`, `{name}`) become the tokens the model was trained to copy before tokenizing
(`nasforge.data.placeholders.protect`) and are put back in the output (`restore`), as they went in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasforge.data.placeholders import protect, restore
from nasforge.data.subword import EOS, SubwordTokenizer
from nasforge.data.tokenizer import tokenizer_from_dict
from nasforge.errors import NasforgeError
from nasforge.export.inputs import INPUT_KINDS, BaseInputs, TextInputs
from nasforge.export.outputs import OUTPUT_KINDS, BaseOutputs

__all__ = ["TranslationInputs", "TranslationOutputs", "Translator", "load_translator", "source_ids"]

#: the beam width of exported translators (1: greedy decoding)
DEFAULT_BEAM = 4


def source_ids(
    tokenizer: SubwordTokenizer, texts: Sequence[str], max_length: int
) -> tuple[np.ndarray, list[dict[int, str]]]:
    """The source rows (N, `max_length`) of `texts` as the model was trained on them (whitespace runs as one
    space, placeholders as tokens, cut to `max_length` - 1 pieces, then the end id) and each text's
    placeholders (token number -> original spelling), for `restore`."""
    protected = [protect(" ".join(t.split())) for t in texts]
    ids = np.zeros((len(texts), max_length), dtype=np.int64)
    for i, (src, _) in enumerate(protected):
        row = [*tokenizer.encode(src)[: max_length - 1], EOS]
        ids[i, : len(row)] = row
    return ids, [slots for _, slots in protected]


class Translator:
    """Translates strings with `model` (a frozen `seq2seq` network) and the `tokenizer` it was trained with:
    placeholders protected, beam search with `beam` hypotheses (1: greedy decoding), placeholders put back.

    >>> translate = load_translator("nasforge-out/translation")  # doctest: +SKIP
    >>> translate("Cannot open %s")  # doctest: +SKIP
    "Impossible d'ouvrir %s"
    """

    def __init__(
        self, model: nn.Module, tokenizer: SubwordTokenizer, max_length: int, beam: int = DEFAULT_BEAM
    ) -> None:
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
        ids, slots = source_ids(self.tokenizer, texts, self.max_length)
        return self.decode(torch.from_numpy(ids), slots)

    def decode(self, src: torch.Tensor, slots: Sequence[Mapping[int, str]]) -> list[str]:
        """The translations of the source rows `src` (N, `max_length`) of `source_ids`, with `slots` put back."""
        if self.beam > 1 and callable(getattr(self.model, "beam_search", None)):
            out = self.model.beam_search(src, beam=self.beam)  # type: ignore[operator]
        else:
            out = self.model.translate(src)  # type: ignore[operator]
        return [restore(self.tokenizer.decode(row.tolist()), dict(s)) for row, s in zip(out, slots, strict=True)]

    def __call__(self, text: str) -> str:
        return self.translate([text])[0]


@INPUT_KINDS.register("translation")
class TranslationInputs(TextInputs):
    """Source texts (strings) for a translation model, as `source_ids` makes them, in the network's (N, 2,
    `max_length`) pairs with an empty target row; a file holds one text per line, a .csv its `source` column."""

    accepts = "texts (strings) to translate"
    column = "source"

    @property
    def max_length(self) -> int:
        return int(self.preprocessing["max_length"])

    @property
    def tokenizer(self) -> SubwordTokenizer:
        """The exported subword tokenizer (read once)."""
        if self._tokenizer is None:
            tokenizer = tokenizer_from_dict(self.preprocessing["tokenizer"])
            if not isinstance(tokenizer, SubwordTokenizer):
                raise NasforgeError(
                    f"A translation export must carry a subword tokenizer, but its preprocessing has {tokenizer!r}."
                )
            self._tokenizer = tokenizer
        return self._tokenizer

    def sources(self, inputs: Any) -> tuple[torch.Tensor, list[dict[int, str]]]:
        """The batch (N, 2, `max_length`) for `inputs` (one text or many) and each text's placeholders."""
        ids, slots = source_ids(self.tokenizer, self.texts(inputs), self.max_length)
        batch = np.zeros((len(ids), 2, self.max_length), dtype=np.float32)
        batch[:, 0] = ids
        return torch.from_numpy(batch), slots

    def _encode(self, inputs: Any) -> torch.Tensor:
        return self.sources(inputs)[0]


@OUTPUT_KINDS.register("translation")
class TranslationOutputs(BaseOutputs):
    """Translations: the network's beam search with `beam` hypotheses (1: greedy decoding) on the sources of a
    `TranslationInputs`, detokenised, placeholders put back as they went in."""

    answers = "translations"

    def __init__(self, preprocessing: Mapping[str, Any], beam: int = DEFAULT_BEAM) -> None:
        super().__init__(preprocessing)
        if not isinstance(beam, int) or isinstance(beam, bool) or beam < 1:
            raise NasforgeError(f"`beam` of TranslationOutputs must be an int >= 1 (1: greedy), but got {beam!r}.")
        self.beam = beam

    def answer(self, network: nn.Module, inputs: BaseInputs, raw: Any, batch_size: int) -> dict[str, Any]:
        if not isinstance(inputs, TranslationInputs):
            raise NasforgeError(
                f"A translation model reads its inputs as `translation` texts, but this export's preprocessing.json "
                f"gives {type(inputs).__name__}; export it again with this version of nasforge."
            )
        src, slots = inputs.sources(raw)
        translator = Translator(network, inputs.tokenizer, inputs.max_length, self.beam)
        out: list[str] = []
        with torch.no_grad():
            for start in range(0, len(src), batch_size):
                end = start + batch_size
                out += translator.decode(src[start:end, 0].long(), slots[start:end])
        return {"predictions": out}

    def table(self, names: Sequence[str], raw: Sequence[Any], answer: Mapping[str, Any]) -> list[list[str]]:
        return [["source", "translation"], *([str(s), t] for s, t in zip(raw, answer["predictions"], strict=True))]


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
