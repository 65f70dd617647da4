"""`SubwordTokenizer`: one SentencePiece vocabulary shared by the source and target language, for
translation: case and accents kept, the protected placeholder tokens (`nasforge.data.placeholders`) whole,
begin and end of sentence ids, and `decode` back to text.

Ids: 0 padding, 1 unknown, 2 begin, 3 end of sentence, then the placeholder tokens, then the pieces.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from nasforge.data.placeholders import TOKENS
from nasforge.data.tokenizer import PAD, TOKENIZERS, UNK, SentencePieceTokenizer, _import
from nasforge.errors import ConfigError

__all__ = ["BOS", "EOS", "SubwordTokenizer"]

BOS = 2
EOS = 3


class SubwordTokenizer(SentencePieceTokenizer):
    """A SentencePiece model (`model_type` "unigram" or "bpe") fitted on the training part's source and
    target sentences together (`pip install sentencepiece`, in the `text` extra): the classification
    tokenizer's model, loading and encoding, trained cased, with begin / end ids and placeholders kept whole.

    >>> tok = SubwordTokenizer(vocab_size=64).fit(["open the file ⟪1⟫", "ouvrir le fichier ⟪1⟫"] * 20)
    >>> tok.decode(tok.encode("open the file ⟪1⟫"))
    'open the file ⟪1⟫'
    """

    kind = "subword"

    def __init__(self, vocab_size: int = 4000, model_type: str = "unigram") -> None:
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 32:
            raise ConfigError(f"`vocab_size` of SubwordTokenizer must be an int >= 32, but got {vocab_size!r}.")
        if model_type not in ("unigram", "bpe"):
            raise ConfigError(f"`model_type` of SubwordTokenizer must be 'unigram' or 'bpe', but got {model_type!r}.")
        super().__init__(vocab_size)
        self.model_type = model_type

    def __repr__(self) -> str:
        return f"SubwordTokenizer(vocab_size={self.vocab_size}, model_type={self.model_type!r})"

    def fit(self, texts: Sequence[str]) -> SubwordTokenizer:
        spm = _import("sentencepiece", "sentencepiece")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(texts)),
            model_writer=model,
            vocab_size=self.target_size,
            model_type=self.model_type,
            hard_vocab_limit=False,  # a small corpus gets the vocabulary it can fill
            pad_id=PAD,
            unk_id=UNK,
            bos_id=BOS,
            eos_id=EOS,
            user_defined_symbols=list(TOKENS),
            normalization_rule_name="nmt_nfkc",  # no case folding: the output keeps its capitals
            character_coverage=1.0,
            byte_fallback=False,
            num_threads=1,  # the same model in every worker process
            minloglevel=2,
        )
        self._load(model.getvalue())
        return self

    def decode(self, ids: Sequence[int]) -> str:
        """The text of `ids`, stopping at the first end of sentence; padding and begin ids are skipped."""
        self._check_fitted(self._sp is not None)
        kept: list[int] = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, BOS) and 0 <= i < self.vocab_size:
                kept.append(i)
        return str(self._sp.decode(kept))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "bos_id": BOS, "eos_id": EOS, "model_type": self.model_type}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubwordTokenizer:
        tok = cls(model_type=data.get("model_type", "unigram"))
        tok._load(base64.b64decode(data["model"]))
        return tok


TOKENIZERS.add("subword", SubwordTokenizer, "Cased SentencePiece shared by two languages, for translation.")
