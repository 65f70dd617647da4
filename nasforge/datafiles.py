"""Where nasforge finds the data files it reads when no path is given, and how it opens them.

The NAS-Bench-201 tables, NASLib's zero-cost scores, the Rotten Tomatoes snippets and the JapaneseVowels
recordings ship with the package, in `nasforge/bundled_data/` (its README.md says where each file comes
from and under which licence). A loader given no path looks for `AREA/NAME` (e.g.
`text/rotten_tomatoes.csv.bz2`) in, in order:

1. `$NASFORGE_DATA/AREA`, so that a folder of your own copies overrides the bundled ones file by file;
2. the bundled copy;
3. `~/.cache/nasforge/AREA`, for installs whose packager left the data out.

Readers accept the plain files and their `.xz`, `.gz` and `.bz2` compressed forms alike.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from nasforge.errors import DataError

__all__ = ["BUNDLED", "ENV_DATA", "data_dirs", "find_file", "locate", "open_text"]

ENV_DATA = "NASFORGE_DATA"
#: The data that ships with the package, laid out like a `$NASFORGE_DATA` folder.
BUNDLED = Path(__file__).resolve().parent / "bundled_data"
#: The forms of a file that `find_file` accepts, in the order it tries them.
SUFFIXES = ("", ".xz", ".gz", ".bz2")


def data_dirs(area: str) -> list[Path]:
    """The folders searched, in order, for the files of `area` (`nb201`, `text`, `audio/japanese_vowels`)."""
    dirs = []
    root = os.environ.get(ENV_DATA)
    if root:
        dirs.append(Path(root).expanduser() / area)
    dirs.append(BUNDLED / area)
    dirs.append(Path.home() / ".cache" / "nasforge" / area)
    return dirs


def find_file(folder: Path, name: str) -> Path | None:
    """`folder/name` or its `.xz`, `.gz` or `.bz2` compressed form, whichever exists first; None if none."""
    for suffix in SUFFIXES:
        candidate = folder / (name + suffix)
        if candidate.is_file():
            return candidate
    return None


def locate(area: str, name: str, what: str, how: str) -> Path:
    """The first `name` (plain or compressed) in `area`'s folders (`data_dirs`), or a one-line `DataError` that
    lists where it looked; `what` names the data, `how` is the argument that points at a copy instead."""
    searched = data_dirs(area)
    for folder in searched:
        found = find_file(folder, name)
        if found is not None:
            return found
    raise DataError(
        f"{what} ({name}, plain or compressed) is in none of {[str(d) for d in searched]}, and the copy that ships "
        f"with nasforge is missing: reinstall nasforge, set {ENV_DATA} to a folder holding {area}/{name}, or {how}."
    )


@contextlib.contextmanager
def open_text(path: Path, newline: str | None = "") -> Iterator[IO[str]]:
    """`path` opened as UTF-8 text; `.gz`, `.bz2` and `.xz` files decompressed on the fly."""
    kw: dict[str, Any] = {"encoding": "utf-8", "newline": newline}
    if path.suffix == ".gz":
        with gzip.open(path, "rt", **kw) as f:
            yield f
    elif path.suffix == ".bz2":
        with bz2.open(path, "rt", **kw) as f:
            yield f
    elif path.suffix == ".xz":
        with lzma.open(path, "rt", **kw) as f:
            yield f
    else:
        with open(path, **kw) as f:
            yield f
