"""Tokenizers that turn text into the integer ids a text model reads: 0 is padding, 1 is unknown.

`Tokenizer` is built in (lower-casing and a regex split into words and punctuation); `SentencePieceTokenizer`
and `HFTokenizer` wrap the optional `sentencepiece` and HuggingFace `tokenizers` packages, imported only
when used. Each is fitted on the training texts only, so validation and test words the training part lacks
become unknown, as they would for a deployed model; `to_dict()` / `tokenizer_from_dict()` round-trip
through JSON, which the exporter writes beside the model.
"""

from __future__ import annotations

import base64
import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nasforge.errors import ConfigError, DataError, unknown_name
from nasforge.registry import Registry

__all__ = [
    "PAD",
    "TOKENIZERS",
    "UNK",
    "BaseTokenizer",
    "HFTokenizer",
    "SentencePieceTokenizer",
    "Tokenizer",
    "make_tokenizer",
    "tokenizer_from_dict",
]

PAD = 0
UNK = 1
# Words (letters and digits, with inner apostrophes or hyphens such as "don't", "well-made") or single
# punctuation marks, which carry sentiment too ("!", "?").
_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*|[^\w\s]")


class BaseTokenizer(ABC):
    """Fitted on training texts; `encode` gives ids with 0 = padding and 1 = unknown."""

    kind: str

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids, padding and unknown included: the size of the model's embedding table."""

    @abstractmethod
    def fit(self, texts: Sequence[str]) -> BaseTokenizer:
        """Learn the vocabulary from `texts` (the training part only); returns self."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """The ids of `text`, without padding or truncation."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description, read back by `tokenizer_from_dict`."""

    @classmethod
    @abstractmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseTokenizer:
        """The fitted tokenizer that `to_dict()` described."""

    def encode_batch(self, texts: Iterable[str], max_length: int) -> np.ndarray:
        """An (N, max_length) int64 array: ids truncated to `max_length`, padded with 0 on the right."""
        rows = [self.encode(t)[:max_length] for t in texts]
        out = np.zeros((len(rows), max_length), dtype=np.int64)
        for i, ids in enumerate(rows):
            out[i, : len(ids)] = ids
        return out

    def _check_fitted(self, fitted: bool) -> None:
        if not fitted:
            raise DataError(f"{type(self).__name__} must be fitted on training texts before encoding; call fit(texts).")


class Tokenizer(BaseTokenizer):
    """Lower-cased words and punctuation; the vocabulary keeps tokens seen `min_freq` times or more in
    training, the `max_size` most frequent (ties broken alphabetically, so it is deterministic).

    >>> tok = Tokenizer(min_freq=1).fit(["A fine film!", "a dull film."])
    >>> tok.tokenize("A fine, fine film!")
    ['a', 'fine', ',', 'fine', 'film', '!']
    >>> tok.encode("a dull plot")
    [2, 6, 1]
    """

    kind = "builtin"

    def __init__(self, min_freq: int = 2, max_size: int | None = 30000, lowercase: bool = True) -> None:
        if not isinstance(min_freq, int) or isinstance(min_freq, bool) or min_freq < 1:
            raise ConfigError(f"`min_freq` of Tokenizer must be an int >= 1, but got {min_freq!r}.")
        if max_size is not None and (not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1):
            raise ConfigError(f"`max_size` of Tokenizer must be an int >= 1 or None, but got {max_size!r}.")
        self.min_freq = min_freq
        self.max_size = max_size
        self.lowercase = lowercase
        self.vocab: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Tokenizer(min_freq={self.min_freq}, max_size={self.max_size}, vocab_size={self.vocab_size})"

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + 2

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(text.lower() if self.lowercase else text)

    def fit(self, texts: Sequence[str]) -> Tokenizer:
        counts = Counter(tok for t in texts for tok in self.tokenize(t))
        kept = sorted((w for w, c in counts.items() if c >= self.min_freq), key=lambda w: (-counts[w], w))
        if self.max_size is not None:
            kept = kept[: self.max_size]
        self.vocab = {w: i + 2 for i, w in enumerate(kept)}
        return self

    def encode(self, text: str) -> list[int]:
        self._check_fitted(bool(self.vocab))
        return [self.vocab.get(tok, UNK) for tok in self.tokenize(text)]

    def to_dict(self) -> dict[str, Any]:
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        return {
            "kind": self.kind,
            "lowercase": self.lowercase,
            "pattern": _TOKEN.pattern,
            "pad_id": PAD,
            "unk_id": UNK,
            # the word with id i is vocab[i - 2]: ids 0 and 1 are padding and unknown
            "vocab": words,
            "min_freq": self.min_freq,
            "max_size": self.max_size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer:
        tok = cls(min_freq=int(data.get("min_freq", 1)), max_size=data.get("max_size"), lowercase=data["lowercase"])
        tok.vocab = {w: i + 2 for i, w in enumerate(data["vocab"])}
        return tok


class SentencePieceTokenizer(BaseTokenizer):
    """A unigram SentencePiece model trained on the training texts (`pip install sentencepiece`)."""

    kind = "sentencepiece"

    def __init__(self, vocab_size: int = 8000) -> None:
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 16:
            raise ConfigError(f"`vocab_size` of SentencePieceTokenizer must be an int >= 16, but got {vocab_size!r}.")
        self.target_size = vocab_size
        self._model: bytes | None = None
        self._sp: Any = None

    @property
    def vocab_size(self) -> int:
        return int(self._sp.get_piece_size()) if self._sp is not None else self.target_size

    def fit(self, texts: Sequence[str]) -> SentencePieceTokenizer:
        import io

        spm = _import("sentencepiece", "sentencepiece")
        model = io.BytesIO()
        # Hard vocabulary limits fail on small corpora; a soft limit shrinks the vocabulary to what fits.
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(texts)),
            model_writer=model,
            vocab_size=self.target_size,
            hard_vocab_limit=False,
            pad_id=PAD,
            unk_id=UNK,
            bos_id=-1,
            eos_id=-1,
            normalization_rule_name="nmt_nfkc_cf",  # case-folding, like the built-in tokenizer
            minloglevel=2,
        )
        self._load(model.getvalue())
        return self

    def _load(self, model: bytes) -> None:
        spm = _import("sentencepiece", "sentencepiece")
        self._model = model
        self._sp = spm.SentencePieceProcessor(model_proto=model)

    def encode(self, text: str) -> list[int]:
        self._check_fitted(self._sp is not None)
        return list(self._sp.encode(text))

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted(self._model is not None)
        assert self._model is not None
        return {
            "kind": self.kind,
            "pad_id": PAD,
            "unk_id": UNK,
            "model": base64.b64encode(self._model).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SentencePieceTokenizer:
        tok = cls()
        tok._load(base64.b64decode(data["model"]))
        return tok


class HFTokenizer(BaseTokenizer):
    """A WordPiece tokenizer of HuggingFace `tokenizers` trained on the training texts
    (`pip install tokenizers`); lower-cased, split on whitespace and punctuation first."""

    kind = "tokenizers"

    def __init__(self, vocab_size: int = 8000, min_freq: int = 2) -> None:
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 16:
            raise ConfigError(f"`vocab_size` of HFTokenizer must be an int >= 16, but got {vocab_size!r}.")
        self.target_size = vocab_size
        self.min_freq = min_freq
        self._tok: Any = None

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size()) if self._tok is not None else self.target_size

    def fit(self, texts: Sequence[str]) -> HFTokenizer:
        lib = _import("tokenizers", "tokenizers")
        tok = lib.Tokenizer(lib.models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = lib.normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = lib.pre_tokenizers.BertPreTokenizer()
        # listing [PAD] and [UNK] first gives them ids 0 and 1
        trainer = lib.trainers.WordPieceTrainer(
            vocab_size=self.target_size, min_frequency=self.min_freq, special_tokens=["[PAD]", "[UNK]"]
        )
        tok.train_from_iterator(list(texts), trainer=trainer)
        self._tok = tok
        return self

    def encode(self, text: str) -> list[int]:
        self._check_fitted(self._tok is not None)
        return list(self._tok.encode(text).ids)

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted(self._tok is not None)
        return {"kind": self.kind, "pad_id": PAD, "unk_id": UNK, "tokenizer": json.loads(self._tok.to_str())}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HFTokenizer:
        lib = _import("tokenizers", "tokenizers")
        tok = cls()
        tok._tok = lib.Tokenizer.from_str(json.dumps(data["tokenizer"]))
        return tok


TOKENIZERS: Registry[BaseTokenizer] = Registry("tokenizer")
TOKENIZERS.add("builtin", Tokenizer)
TOKENIZERS.add("sentencepiece", SentencePieceTokenizer)
TOKENIZERS.add("tokenizers", HFTokenizer)


def make_tokenizer(spec: str | BaseTokenizer, owner: str) -> BaseTokenizer:
    """A fresh, unfitted tokenizer named by `spec` ("builtin", "sentencepiece", "tokenizers"), or `spec`."""
    if isinstance(spec, BaseTokenizer):
        return spec
    if not isinstance(spec, str) or spec not in TOKENIZERS:
        raise unknown_name(f"tokenizer of {owner}", str(spec), TOKENIZERS)
    return TOKENIZERS[spec]()


def tokenizer_from_dict(data: dict[str, Any]) -> BaseTokenizer:
    """The tokenizer described by `to_dict()` (as written to `preprocessing.json`), ready to encode."""
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in TOKENIZERS:
        raise unknown_name("tokenizer kind", str(kind), TOKENIZERS)
    cls = TOKENIZERS[kind]
    if not (isinstance(cls, type) and issubclass(cls, BaseTokenizer)):
        raise ConfigError(f"Tokenizer kind {kind!r} must be registered as a BaseTokenizer subclass, but is {cls!r}.")
    return cls.from_dict(data)


def _import(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"tokenizer={module!r} needs the `{package}` package, which is not installed. "
            f"Install it with: pip install {package}, or use tokenizer='builtin'."
        ) from exc
