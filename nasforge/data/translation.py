"""Parallel data for translation: the English-French (or other) gettext catalogs of Debian packages
(`GettextCorpus`) and your own pairs (`ParallelText`: a TSV/CSV of source and target columns, or two
aligned text files).

Both clean the pairs (empty, untranslated and duplicate ones out; placeholders protected:
`nasforge.data.placeholders`), split them by group (a package; a user's group column) or at random, and
fit one `SubwordTokenizer` on the training part's sentences of both languages. A sample is a (2,
max_length) float32 row of ids: the source followed by end of sentence, and the target between begin and
end of sentence, padded with 0; pairs longer than that are left out. `y` holds zeros (the targets are in
`x`). `info` carries `vocab_size` and `max_length`, which the `seq2seq` space reads from a config, and
`preprocessing` (the tokenizer), which the export writes beside the model; `parts()` gives the raw texts
of each split, which BLEU is scored against.
"""

from __future__ import annotations

import csv
import os
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.data.base import ArrayData, BaseDataset, DataSplits, cached_load
from nasforge.data.gettext_corpus import LOCALE_DIR, PACKAGES, collect_pairs, excluded_locales, missing_packages
from nasforge.data.placeholders import protect, protect_target
from nasforge.data.split import check_seed, check_size, resolve_size
from nasforge.data.subword import BOS, EOS, SubwordTokenizer
from nasforge.datafiles import open_text
from nasforge.errors import ConfigError, DataError

__all__ = ["GettextCorpus", "ParallelDataset", "ParallelText", "TranslationParts", "split_groups"]

PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class TranslationParts:
    """The raw pairs of each split (placeholders as written), their placeholder slots and groups: what
    BLEU is scored on, and what a baseline reads."""

    sources: dict[str, list[str]]
    targets: dict[str, list[str]]
    slots: dict[str, list[dict[int, str]]]
    groups: dict[str, list[str]]


def split_groups(groups: list[str], valid: int, test: int, seed: int) -> dict[str, list[int]]:
    """Indices of each part when whole groups go to one part: groups in a seeded random order fill the test
    part, then the validation part, each up to about its size. A group larger than half a part's size
    stays in training (unless no group is that small), so that each held-out part mixes several groups and
    no single large catalog becomes one."""
    names, counts = np.unique(np.asarray(groups), return_counts=True)
    if len(names) < 3:
        raise DataError(f"A split by group needs at least 3 distinct groups, but the data has {len(names)}.")
    order = np.random.default_rng(seed).permutation(len(names))
    chosen: dict[str, set[str]] = {"test": set(), "valid": set()}
    used: set[int] = set()
    for part, size in (("test", test), ("valid", valid)):
        total = 0
        smallest = min(int(counts[g]) for g in order if g not in used)
        for g in order:
            if g in used or total >= size or len(used) >= len(names) - 1:
                continue
            if counts[g] <= max(size / 2, smallest) and (total == 0 or total + counts[g] <= 1.5 * size):
                chosen[part].add(str(names[g]))
                used.add(int(g))
                total += int(counts[g])
    index: dict[str, list[int]] = {p: [] for p in PARTS}
    for i, g in enumerate(groups):
        part = "test" if g in chosen["test"] else "valid" if g in chosen["valid"] else "train"
        index[part].append(i)
    return index


class ParallelDataset(BaseDataset):
    """What both parallel datasets share: cleaning, splitting, tokenizing (subclasses read the pairs)."""

    name = "parallel"

    def __init__(
        self,
        valid_size: int | float = 0.1,
        test_size: int | float = 0.1,
        max_length: int = 40,
        vocab_size: int = 4000,
        seed: int = 0,
    ) -> None:
        owner = type(self).__name__
        self.valid_size = check_size(valid_size, "valid_size", owner)
        self.test_size = check_size(test_size, "test_size", owner)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 4:
            raise ConfigError(
                f"`max_length` of {owner} must be an int >= 4 (tokens per sentence), but got {max_length!r}."
            )
        self.max_length = max_length
        SubwordTokenizer(vocab_size)  # checks it
        self.vocab_size = vocab_size
        self.seed = check_seed(seed, owner)

    @abstractmethod
    def _pairs(self) -> tuple[list[str], list[str], list[str] | None]:
        """Sources, targets and groups (None: split at random) of the raw pairs."""

    def _key(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.valid_size, self.test_size, self.max_length, self.vocab_size, self.seed)

    def load(self) -> DataSplits:
        return self._build()[0]

    def parts(self) -> TranslationParts:
        """The raw texts of each split, in the order of the loaded samples."""
        return self._build()[1]

    def tokenizer(self) -> SubwordTokenizer:
        """The subword tokenizer fitted on the training part."""
        return self._build()[2]

    def _build(self) -> tuple[DataSplits, TranslationParts, SubwordTokenizer]:
        built = cached_load(self._key(), self._encode)  # type: ignore[arg-type]
        return built  # type: ignore[return-value]

    def _encode(self) -> tuple[DataSplits, TranslationParts, SubwordTokenizer]:
        owner = type(self).__name__
        sources, targets, groups = self._pairs()
        kept: list[tuple[str, str, str, str, dict[int, str], str]] = []
        seen: set[str] = set()
        for i, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
            src, tgt = " ".join(src.split()), " ".join(tgt.split())
            if not src or not tgt or src in seen:
                continue
            psrc, slots = protect(src)
            ptgt = protect_target(tgt, slots)
            if ptgt is None:
                continue
            seen.add(src)
            kept.append((src, tgt, psrc, ptgt, slots, groups[i] if groups is not None else ""))
        if len(kept) < 10:
            raise DataError(f"{owner} needs at least 10 usable sentence pairs, but found {len(kept)}.")
        n = len(kept)
        valid_n = resolve_size(self.valid_size, n, "valid_size", owner)
        test_n = resolve_size(self.test_size, n, "test_size", owner)
        if groups is not None:
            index = split_groups([k[5] for k in kept], valid_n, test_n, self.seed)
        else:
            perm = np.random.default_rng(self.seed).permutation(n).tolist()
            index = {"test": perm[:test_n], "valid": perm[test_n : test_n + valid_n], "train": perm[test_n + valid_n :]}
        train_texts = [kept[i][2] for i in index["train"]] + [kept[i][3] for i in index["train"]]
        tok = SubwordTokenizer(self.vocab_size).fit(train_texts)
        length = self.max_length
        arrays: dict[str, ArrayData] = {}
        raw: dict[str, dict[str, list[Any]]] = {"sources": {}, "targets": {}, "slots": {}, "groups": {}}
        for part in PARTS:
            rows = []
            keep_idx = []
            for i in index[part]:
                src_ids = [*tok.encode(kept[i][2]), EOS]
                tgt_ids = [BOS, *tok.encode(kept[i][3]), EOS]
                if len(src_ids) > length or len(tgt_ids) > length:
                    continue
                row = np.zeros((2, length), dtype=np.float32)
                row[0, : len(src_ids)] = src_ids
                row[1, : len(tgt_ids)] = tgt_ids
                rows.append(row)
                keep_idx.append(i)
            if not rows:
                raise DataError(
                    f"{owner}: no pair of the {part} part fits in max_length={length} tokens; raise `max_length`."
                )
            x = torch.from_numpy(np.stack(rows))
            arrays[part] = ArrayData(x, torch.zeros(len(rows), dtype=torch.int64))
            raw["sources"][part] = [kept[i][0] for i in keep_idx]
            raw["targets"][part] = [kept[i][1] for i in keep_idx]
            raw["slots"][part] = [kept[i][4] for i in keep_idx]
            raw["groups"][part] = [kept[i][5] for i in keep_idx]
        preprocessing = {
            "kind": "translation",
            "task": "translation",
            "tokenizer": tok.to_dict(),
            "max_length": length,
        }
        splits = DataSplits(
            arrays["train"],
            arrays["valid"],
            arrays["test"],
            num_classes=1,
            input_shape=(2, length),
            name=self.name,
            info={"vocab_size": tok.vocab_size, "max_length": length, "preprocessing": preprocessing},
        )
        return splits, TranslationParts(**raw), tok


class GettextCorpus(ParallelDataset):
    """English -> `lang` pairs from the gettext catalogs of the Debian packages `packages` (default: the
    fixed list `nasforge.data.gettext_corpus.PACKAGES`, which `scripts/setup.sh` installs), split by
    package: no package has messages in two parts. `max_chars` leaves out longer messages.

    >>> data = GettextCorpus(packages=["coreutils", "grep", "sed", "tar"])  # doctest: +SKIP
    >>> data.load().info["vocab_size"]  # doctest: +SKIP
    """

    name = "gettext"

    def __init__(
        self,
        lang: str = "fr",
        packages: list[str] | tuple[str, ...] | None = None,
        max_chars: int = 120,
        valid_size: int | float = 0.1,
        test_size: int | float = 0.1,
        max_length: int = 40,
        vocab_size: int = 4000,
        seed: int = 0,
        locale_dir: str = LOCALE_DIR,
    ) -> None:
        super().__init__(valid_size, test_size, max_length, vocab_size, seed)
        if not isinstance(lang, str) or not lang.replace("_", "").isalnum():
            raise ConfigError(f"`lang` of GettextCorpus must be a locale name such as 'fr' or 'de', but got {lang!r}.")
        chosen = PACKAGES if packages is None else packages
        if isinstance(chosen, str) or not chosen or any(not isinstance(p, str) or not p for p in chosen):
            raise ConfigError(
                f"`packages` of GettextCorpus must be a list of Debian package names, but got {packages!r}."
            )
        if not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 8:
            raise ConfigError(f"`max_chars` of GettextCorpus must be an int >= 8, but got {max_chars!r}.")
        self.lang = lang
        self.packages = tuple(chosen)
        self.max_chars = max_chars
        self.locale_dir = str(locale_dir)

    def __repr__(self) -> str:
        return f"GettextCorpus(lang={self.lang!r}, packages={len(self.packages)}, seed={self.seed})"

    def _key(self) -> tuple[Any, ...]:
        return (*super()._key(), self.lang, self.packages, self.max_chars, self.locale_dir)

    def _pairs(self) -> tuple[list[str], list[str], list[str] | None]:
        pairs = collect_pairs(self.packages, self.lang, self.locale_dir, self.max_chars)
        if len({p.package for p in pairs}) < 3:
            missing = missing_packages(self.packages, self.lang, self.locale_dir)
            excluded = excluded_locales()
            why = (
                f" dpkg excludes locale files here ({excluded[0]}): remove that rule and reinstall." if excluded else ""
            )
            raise DataError(
                f"GettextCorpus needs the '{self.lang}' catalogs of at least 3 of its packages, but found "
                f"{len({p.package for p in pairs})}; missing: {missing[:8]}. Install them with "
                f"scripts/setup.sh (apt-get install {' '.join(missing[:8])}).{why}"
            )
        return [p.source for p in pairs], [p.target for p in pairs], [p.package for p in pairs]


class ParallelText(ParallelDataset):
    """Your own pairs: a TSV or CSV file (optionally compressed) with `source_column` and `target_column`
    (and a `group_column` to split by), or, with `target_path`, two text files with one sentence a line,
    aligned line by line. Without groups the parts are drawn at random.

    >>> ParallelText("en.txt", target_path="fr.txt").load()  # doctest: +SKIP
    """

    name = "parallel_text"

    def __init__(
        self,
        path: str | os.PathLike[str],
        target_path: str | os.PathLike[str] | None = None,
        source_column: str = "source",
        target_column: str = "target",
        group_column: str | None = None,
        valid_size: int | float = 0.1,
        test_size: int | float = 0.1,
        max_length: int = 40,
        vocab_size: int = 4000,
        seed: int = 0,
    ) -> None:
        super().__init__(valid_size, test_size, max_length, vocab_size, seed)
        for arg, value in (("path", path), ("target_path", target_path)):
            if value is not None and (not isinstance(value, (str, os.PathLike)) or not str(value)):
                raise ConfigError(f"`{arg}` of ParallelText must be a file path, but got {value!r}.")
        if target_path is not None and group_column is not None:
            raise ConfigError("`group_column` of ParallelText needs a TSV/CSV file; two text files have no groups.")
        self.path = str(path)
        self.target_path = None if target_path is None else str(target_path)
        self.source_column = source_column
        self.target_column = target_column
        self.group_column = group_column

    def __repr__(self) -> str:
        return f"ParallelText(path={self.path!r}, target_path={self.target_path!r}, seed={self.seed})"

    def _key(self) -> tuple[Any, ...]:
        return (*super()._key(), self.path, self.target_path, self.source_column, self.target_column, self.group_column)

    def _pairs(self) -> tuple[list[str], list[str], list[str] | None]:
        path = Path(self.path).expanduser()
        if not path.is_file():
            raise DataError(f"The file {str(path)!r} of ParallelText does not exist; give the path of a file.")
        if self.target_path is not None:
            other = Path(self.target_path).expanduser()
            if not other.is_file():
                raise DataError(f"The file {str(other)!r} of ParallelText does not exist; give the path of a file.")
            with open_text(path, newline=None) as a, open_text(other, newline=None) as b:
                sources, targets = a.read().splitlines(), b.read().splitlines()
            if len(sources) != len(targets):
                raise DataError(
                    f"The two files of ParallelText must have one line per sentence, aligned, but {path.name} has "
                    f"{len(sources)} lines and {other.name} {len(targets)}."
                )
            return sources, targets, None
        with open_text(path) as handle:
            sample = handle.read(4096)
        first = sample.splitlines()[0] if sample else ""
        delimiter = "\t" if "\t" in first else ","
        with open_text(path) as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            columns = list(reader.fieldnames or [])
            wanted = [self.source_column, self.target_column] + ([self.group_column] if self.group_column else [])
            missing = [c for c in wanted if c not in columns]
            if missing:
                raise DataError(
                    f"The file {str(path)!r} of ParallelText lacks the column(s) {missing}; its header has "
                    f"{columns}. Name the right ones with source_column=, target_column= or group_column=."
                )
            rows = list(reader)
        sources = [r.get(self.source_column) or "" for r in rows]
        targets = [r.get(self.target_column) or "" for r in rows]
        groups = [r.get(self.group_column) or "" for r in rows] if self.group_column else None
        return sources, targets, groups
