"""Pretrained word vectors (word2vec, GloVe or fastText text format) aligned to a tokenizer's vocabulary.

A vectors file has one word per line followed by its numbers (`the 0.418 0.24968 -0.41242 ...`), with an
optional first line `<count> <dimension>` (word2vec and fastText write one, GloVe does not); `.gz`, `.bz2`
and `.xz` files are read as they are. `aligned_vectors` returns one row per vocabulary id, so that a text
space can start its token embedding from them (`TextCSV(vectors=...)`, then `TextClassifierSpace(vectors=...)`
through a config).
"""

from __future__ import annotations

import lzma
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch

from nasforge.datafiles import open_text
from nasforge.errors import DataError

__all__ = ["aligned_vectors"]


def aligned_vectors(
    path: str | os.PathLike[str], vocab: Mapping[str, int], size: int, seed: int = 0
) -> tuple[torch.Tensor, int]:
    """A (size, dimension) float32 matrix whose row `vocab[word]` is the file's vector for `word`.

    A word is looked up as it is, then lower-cased (the built-in tokenizer lower-cases; many files do not),
    the first line of a word winning. Rows of words the file lacks (and of unknown, id 1) are drawn from a
    normal distribution with the found vectors' standard deviation; padding (id 0) is zero. Returns the
    matrix and how many vocabulary words were found; none found is an error (the wrong file or language).
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(
            f"The word-vectors file {str(file)!r} does not exist. Give the path of a word2vec, GloVe or fastText "
            "text file (`word 0.1 0.2 ...` per line; .gz, .bz2 and .xz are read as they are)."
        )
    wanted = {word: i for word, i in vocab.items() if 0 <= i < size}
    found: dict[int, torch.Tensor] = {}
    dim = 0
    try:
        for number, fields in _lines(file):
            if dim and len(fields) - 1 > dim:  # GloVe's large files have a few words with spaces in them
                fields = [" ".join(fields[:-dim]), *fields[-dim:]]
            if dim == 0:
                dim = len(fields) - 1
            elif len(fields) - 1 != dim:
                raise DataError(
                    f"Line {number} of the word-vectors file {str(file)!r} has {len(fields) - 1} numbers after its "
                    f"word, but the lines before it have {dim}. Every line must hold a word and the same count of "
                    "numbers."
                )
            i = wanted.get(fields[0], wanted.get(fields[0].lower()))
            if i is None or i in found:  # only the vocabulary's words are parsed: files hold 10^5-10^6 words
                continue
            try:
                found[i] = torch.tensor([float(f) for f in fields[1:]], dtype=torch.float32)
            except ValueError:
                raise DataError(
                    f"Line {number} of the word-vectors file {str(file)!r} is not `word number number ...`: "
                    f"{' '.join(fields)[:60]!r}."
                ) from None
    except (UnicodeDecodeError, OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"Cannot read the word-vectors file {str(file)!r} as UTF-8 text: {exc}") from exc
    if dim == 0:
        raise DataError(f"The word-vectors file {str(file)!r} holds no vectors (`word 0.1 0.2 ...` per line).")
    if not found:
        sample = ", ".join(sorted(wanted, key=wanted.__getitem__)[:5])
        raise DataError(
            f"None of the {len(wanted)} vocabulary words (e.g. {sample}) is in the word-vectors file {str(file)!r}. "
            "Are the vectors for the texts' language, and are their words whole words like the tokenizer's?"
        )
    rows = torch.stack(list(found.values()))
    std = float(rows.std()) if rows.numel() > 1 else 1.0
    gen = torch.Generator().manual_seed(seed)
    matrix = torch.randn(size, dim, generator=gen) * (std if math.isfinite(std) and std > 0 else 1.0)
    matrix[list(found)] = rows
    matrix[0] = 0.0
    return matrix, len(found)


def _lines(file: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, space-separated fields) of each non-blank line but the optional `<count> <dim>` header."""
    with open_text(file, newline=None) as stream:
        for number, line in enumerate(stream, start=1):
            fields = line.split()
            if not fields or (number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields)):
                continue
            if len(fields) < 2:
                raise DataError(
                    f"Line {number} of the word-vectors file {str(file)!r} is not `word number number ...`: "
                    f"{line.strip()[:60]!r}."
                )
            yield number, fields
