"""Sentiment lexicons (word -> human-rated score) aligned to a tokenizer's vocabulary.

A lexicon is prior knowledge a model trained from scratch on a few thousand texts lacks: it scores words
the training part shows once or twice as surely as frequent ones. Only vocabulary words get a score (a
word the tokenizer does not know has no id), so it helps most with a vocabulary of every training word
(`min_freq=1`). A lexicon file has one entry per line, the word then its
score (`word<TAB>score<TAB>...`, or separated by spaces; further fields are ignored, lines starting with
`#` are comments); `.gz`, `.bz2` and `.xz` files are read as they are. The name `vader` stands for the
VADER lexicon (Hutto & Gilbert 2014; 7,500 entries rated from -4 to +4 by ten people each) that the
`vaderSentiment` package installs (`pip install nasforge[text]`). `aligned_lexicon` gives one score per
vocabulary id, which a text space adds to its logits through a learned weight (`TextCSV(lexicon=...)`,
then `TextClassifierSpace(lexicon=...)` through a config).
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from nasforge.datafiles import open_text
from nasforge.errors import ConfigError, DataError

__all__ = ["BUILTIN_LEXICONS", "aligned_lexicon", "lexicon_path", "read_lexicon"]

#: lexicons known by name: the package that installs the file, and the file inside it
BUILTIN_LEXICONS = {"vader": ("vaderSentiment", "vader_lexicon.txt")}


def lexicon_path(source: str | os.PathLike[str], owner: str = "lexicon") -> Path:
    """The file of `source`: a built-in lexicon's name (`vader`) or the path of a lexicon file."""
    if isinstance(source, str) and source in BUILTIN_LEXICONS:
        package, name = BUILTIN_LEXICONS[source]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"The {source!r} lexicon of {owner} comes with the Python package {package!r}, which is not "
                f"installed; run `pip install nasforge[text]` (or `pip install {package}`), or give the path of a "
                "lexicon file."
            )
        return Path(next(iter(spec.submodule_search_locations))) / name
    if not isinstance(source, (str, os.PathLike)) or not Path(source).is_file():
        raise ConfigError(
            f"`lexicon` of {owner} must be {', '.join(map(repr, BUILTIN_LEXICONS))} or the path of a lexicon file "
            f"(`word<TAB>score` per line), but got {source!r}, which is neither."
        )
    return Path(source)


def read_lexicon(path: str | os.PathLike[str]) -> dict[str, float]:
    """The lexicon file's scores by lower-cased word; the first line of a word wins."""
    file = Path(path)
    scores: dict[str, float] = {}
    with open_text(file) as fh:
        for number, line in enumerate(fh, start=1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith("#"):
                continue
            fields = text.split("\t") if "\t" in text else text.split()
            if len(fields) < 2:
                raise DataError(
                    f"Line {number} of the lexicon {str(file)!r} must hold a word and its score, but holds "
                    f"{text[:60]!r}."
                )
            try:
                score = float(fields[1])
            except ValueError:
                raise DataError(
                    f"Line {number} of the lexicon {str(file)!r} must have a number after the word, but has "
                    f"{fields[1][:30]!r}."
                ) from None
            if not math.isfinite(score):
                raise DataError(f"Line {number} of the lexicon {str(file)!r} has a score that is not finite: {score}.")
            scores.setdefault(fields[0].strip().lower(), score)
    if not scores:
        raise DataError(f"The lexicon {str(file)!r} has no entries; it needs `word<TAB>score` lines.")
    return scores


def aligned_lexicon(
    source: str | os.PathLike[str], vocab: Mapping[str, int], size: int, owner: str = "lexicon"
) -> tuple[torch.Tensor, int]:
    """A (size,) float32 vector whose entry `vocab[word]` is the lexicon's score of `word` divided by the
    largest absolute score (so scores lie in [-1, 1]); 0 for words the lexicon lacks, padding and unknown.
    Returns the vector and how many vocabulary words were found; none found is an error (the wrong file or
    language)."""
    scores = read_lexicon(lexicon_path(source, owner))
    scale = max(abs(s) for s in scores.values()) or 1.0
    out = torch.zeros(size, dtype=torch.float32)
    found = 0
    for word, index in vocab.items():
        score = scores.get(word.lower())
        if score is not None and 0 <= index < size:
            out[index] = score / scale
            found += 1
    if found == 0:
        raise DataError(
            f"None of the {len(vocab)} vocabulary words is in the lexicon {str(source)!r} ({len(scores)} entries): "
            "is it the language and word form (lower-cased words) of the texts?"
        )
    return out, found
