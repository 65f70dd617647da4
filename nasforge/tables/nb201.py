"""`NB201Table`: the NAS-Bench-201 results of all 15,625 cells (Dong & Yang, ICLR 2020; NATS-Bench topology).

`NB201Table.load()` reads the file at the given path, else the first that exists of `$NASFORGE_NB201`,
`$NASFORGE_DATA/nb201/nb201.csv.gz`, the copy that ships with nasforge (`nasforge/bundled_data/nb201/`,
see `nasforge.datafiles`) and `~/.cache/nasforge/nb201/nb201.csv.gz`.

File format (convert the official NATS-Bench files to it once): a gzipped CSV with a header row and one row
per cell, all 15,625 of them (any order; they are put in `arch_index` order). Required columns:

- `arch_index`: the official index 0..15624; `arch_str`: the cell string
  (`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, see `nasforge.zoo.nb201`); `unique_str`: any key that is equal
  for cells computing the same function (isomorphism class);
- CIFAR-10 trained on its 25k train split for 200 epochs, means over seeds: `c10valid_valid_acc_200` (the
  usual search signal), `c10valid_test_acc_200`, `c10valid_train_acc_200`, `c10valid_valid_loss_200`,
  `c10valid_train_time_200` and `c10valid_train_time_per_epoch` (GPU seconds), `c10valid_valid_acc_200_std`
  (the spread over seeds) and `n_seeds_200`;
- `c10_test_acc_200`: trained on train+valid, test accuracy (the number papers report);
- `c100_valid_acc_200`, `c100_test_acc_200`, `c100_train_time_200`, and likewise `in16_*` for
  ImageNet16-120 (x-valid / x-test halves of the test set);
- the 12-epoch schedule, a low fidelity: `c10valid_valid_acc_12`, `c10_test_acc_12`, `c100_valid_acc_12`,
  `c100_test_acc_12`, `in16_valid_acc_12`, `in16_test_acc_12`;
- `c10_params_mb`, `c100_params_mb`, `in16_params_mb`: parameters in millions.

Accuracies are percentages; an empty field is read as NaN; further numeric columns are kept.
`nb201_per_seed.csv.gz` beside it has one row per (cell, seed) with `arch_index`, `seed_slot`,
`c10valid_valid_acc_200`, `c100_valtest_acc_200`, `in16_valtest_acc_200` (whole test set) and the three
`*_train_time_200`.

>>> table = NB201Table.load()  # doctest: +SKIP
>>> i = table.index("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")  # doctest: +SKIP
>>> round(float(table.column("c10_test_acc_200")[i]), 2)  # doctest: +SKIP
94.37
"""

from __future__ import annotations

import csv
import gzip
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from nasforge.datafiles import ENV_DATA, data_dirs
from nasforge.errors import ArchError, ConfigError, DataError, suggest
from nasforge.zoo.nb201 import EDGES, NODES, OPS, str_to_arch

__all__ = ["NB201PerSeed", "NB201Table", "nb201_search_paths"]

ENV_FILE = "NASFORGE_NB201"
AREA = "nb201"
FILE_NAME = "nb201.csv.gz"
PER_SEED_FILE_NAME = "nb201_per_seed.csv.gz"
N_ARCHS = len(OPS) ** len(EDGES)

#: Columns every table file must have (the data README's schema); further numeric columns are kept.
REQUIRED_COLUMNS = (
    "arch_index",
    "arch_str",
    "unique_str",
    "c10valid_valid_acc_200",
    "c10valid_test_acc_200",
    "c10valid_train_acc_200",
    "c10valid_valid_loss_200",
    "c10valid_train_time_200",
    "c10valid_train_time_per_epoch",
    "c10_test_acc_200",
    "c100_valid_acc_200",
    "c100_test_acc_200",
    "c100_train_time_200",
    "in16_valid_acc_200",
    "in16_test_acc_200",
    "in16_train_time_200",
    "c10valid_valid_acc_12",
    "c10_test_acc_12",
    "c100_valid_acc_12",
    "c100_test_acc_12",
    "in16_valid_acc_12",
    "in16_test_acc_12",
    "c10_params_mb",
    "c100_params_mb",
    "in16_params_mb",
    "n_seeds_200",
    "c10valid_valid_acc_200_std",
)
STRING_COLUMNS = ("arch_str", "unique_str")
PER_SEED_REQUIRED_COLUMNS = (
    "arch_index",
    "seed_slot",
    "c10valid_valid_acc_200",
    "c100_valtest_acc_200",
    "in16_valtest_acc_200",
    "c10valid_train_time_200",
    "c100_train_time_200",
    "in16_train_time_200",
)
FORMAT_HINT = (
    "The CSV format is documented in the docstring of nasforge.tables.nb201, so the official NATS-Bench "
    "files can be converted to it."
)

_cache: dict[tuple[str, int, int], NB201Table] = {}
_lock = threading.Lock()


def nb201_search_paths() -> list[Path]:
    """The files `NB201Table.load()` tries, in order, when no path is given."""
    paths = []
    if os.environ.get(ENV_FILE):
        paths.append(Path(os.environ[ENV_FILE]).expanduser())
    paths.extend(folder / FILE_NAME for folder in data_dirs(AREA))
    return paths


def _resolve(path: str | os.PathLike[str] | None) -> Path:
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigError(f"`path` of NB201Table.load must be a file path or None, but got {path!r}.")
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            raise DataError(f"The NAS-Bench-201 table must be a file, but {str(explicit)!r} is not one. {FORMAT_HINT}")
        return explicit.resolve()
    searched = nb201_search_paths()
    for candidate in searched:
        if candidate.is_file():
            return candidate.resolve()
    raise DataError(
        "The NAS-Bench-201 table (nb201.csv.gz) was not found; searched "
        + ", ".join(repr(str(p)) for p in searched)
        + ", and the copy that ships with nasforge is missing. Reinstall nasforge, set "
        f"{ENV_DATA} to a folder holding nb201/{FILE_NAME} or {ENV_FILE} to the file itself, "
        f"or pass its path to NB201Table.load. {FORMAT_HINT}"
    )


def _read_csv(path: Path, required: Sequence[str], what: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """The header and the columns (as tuples of strings) of a gzipped CSV, checked for shape."""
    try:
        with gzip.open(path, "rt", newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{what} {str(path)!r} is empty; it must start with a header row. {FORMAT_HINT}")
            rows = list(reader)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{what} {str(path)!r} must be a gzipped CSV file, but reading it failed: {exc}") from exc
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"{what} {str(path)!r} must have the columns {list(required)}, but lacks {missing} "
            f"(its header is {header}). {FORMAT_HINT}"
        )
    if len(set(header)) != len(header):
        dup = sorted({c for c in header if header.count(c) > 1})
        raise DataError(f"{what} {str(path)!r} must have distinct column names, but repeats {dup}.")
    width = len(header)
    for line, row in enumerate(rows, start=2):
        if len(row) != width:
            raise DataError(
                f"Every row of {what} {str(path)!r} must have {width} fields like its header, "
                f"but line {line} has {len(row)}."
            )
    columns: list[tuple[str, ...]] = list(zip(*rows)) if rows else [() for _ in header]
    return header, columns


def _floats(values: tuple[str, ...], name: str, path: Path) -> np.ndarray:
    # empty fields are NaN; build the strings in Python so "nan" is not cut to the column's width
    text = np.array([v if v != "" else "nan" for v in values], dtype=str)
    try:
        out = text.astype(np.float64)
    except ValueError as exc:
        raise DataError(f"Column {name!r} of {str(path)!r} must hold numbers or be empty, but {exc}.") from exc
    out.flags.writeable = False  # shared by every user of the cached table
    return out


def _ints(values: tuple[str, ...], name: str, path: Path) -> np.ndarray:
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"Column {name!r} of {str(path)!r} must hold integers, but {exc}.") from exc


def _all_arch_strs() -> Iterator[str]:
    for ops in itertools.product(OPS, repeat=len(EDGES)):
        it = iter(ops)
        yield "+".join("|" + "|".join(f"{next(it)}~{j}" for j in range(i)) + "|" for i in range(1, NODES))


class _Columns:
    """Named float64 columns of a CSV, shared by the table and its per-seed companion."""

    path: str
    columns: list[str]
    _data: dict[str, np.ndarray]
    _what: str

    def column(self, name: str) -> np.ndarray:
        """The column as a read-only float64 array (NaN where the file has no value); `.copy()` to modify."""
        if name in self._data:
            return self._data[name]
        hint = ""
        if name in STRING_COLUMNS:
            hint = " It holds strings: use `.arch_strs`, `.index()` or `.unique_keys`."
        raise ConfigError(
            f"The {self._what} has no numeric column {name!r}.{suggest(name, self.columns)}{hint} "
            f"Its columns are: {', '.join(self.columns)}."
        )


class NB201PerSeed(_Columns):
    """One row per (cell, seed) training run; `arch_index` says which cell each row belongs to."""

    arch_index: np.ndarray

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._what = "NAS-Bench-201 per-seed table"
        self.columns = []
        self._data = {}
        self.arch_index = np.zeros(0, dtype=np.int64)

    @classmethod
    def _read(cls, path: Path) -> NB201PerSeed:
        self = cls(path)
        header, cols = _read_csv(path, PER_SEED_REQUIRED_COLUMNS, "The NAS-Bench-201 per-seed table")
        self.columns = header
        self._data = {name: _floats(col, name, path) for name, col in zip(header, cols)}
        self.arch_index = _ints(cols[header.index("arch_index")], "arch_index", path)
        bad = (self.arch_index < 0) | (self.arch_index >= N_ARCHS)
        if bad.any():
            raise DataError(
                f"`arch_index` of {str(path)!r} must lie in 0..{N_ARCHS - 1}, "
                f"but row {int(np.argmax(bad)) + 1} has {int(self.arch_index[bad][0])}."
            )
        self.arch_index.flags.writeable = False
        return self

    def __len__(self) -> int:
        return len(self.arch_index)

    def __repr__(self) -> str:
        return f"NB201PerSeed({self.path!r}, rows={len(self)})"


class NB201Table(_Columns):
    """The NAS-Bench-201 table: `arch_strs[i]` is cell i, `column(name)[i]` its value of a metric.

    Load it with `NB201Table.load()`; tables are cached per process, so arrays returned by `column()` are
    read-only and shared.
    """

    arch_strs: list[str]
    unique_keys: np.ndarray

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._what = "NAS-Bench-201 table"
        self.columns = []
        self._data = {}
        self.arch_strs = []
        self.unique_keys = np.zeros(0, dtype=np.int64)
        self._index: dict[str, int] = {}
        self._per_seed: NB201PerSeed | None = None
        self._per_seed_lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> NB201Table:
        """The table at `path`, or at the first of `nb201_search_paths()` that exists; cached per process."""
        resolved = _resolve(path)
        stat = resolved.stat()
        key = (str(resolved), stat.st_mtime_ns, stat.st_size)
        with _lock:
            table = _cache.get(key)
            if table is None:
                table = cls._read(resolved)
                _cache[key] = table
        return table

    @classmethod
    def _read(cls, path: Path) -> NB201Table:
        self = cls(path)
        header, cols = _read_csv(path, REQUIRED_COLUMNS, "The NAS-Bench-201 table")
        by_name = dict(zip(header, cols))
        if len(cols[0]) != N_ARCHS:
            raise DataError(
                f"The NAS-Bench-201 table {str(path)!r} must have one row per cell, {N_ARCHS} in all, "
                f"but has {len(cols[0])}. {FORMAT_HINT}"
            )
        order = _ints(by_name["arch_index"], "arch_index", path)
        if not np.array_equal(np.sort(order), np.arange(N_ARCHS)):
            raise DataError(
                f"`arch_index` of {str(path)!r} must number the cells 0..{N_ARCHS - 1}, each once; "
                f"the file has {len(np.unique(order))} distinct values in {order.min()}..{order.max()}."
            )
        rows = np.argsort(order, kind="stable")  # identity for files in official order
        in_order = bool((order == np.arange(N_ARCHS)).all())

        def reorder(col: tuple[str, ...]) -> tuple[str, ...]:
            return col if in_order else tuple(col[r] for r in rows)

        self.arch_strs = list(reorder(by_name["arch_str"]))
        self._index = {s: i for i, s in enumerate(self.arch_strs)}
        unknown = set(self.arch_strs).symmetric_difference(_all_arch_strs())
        if unknown:
            bad = sorted(s for s in unknown if s not in self._index) or sorted(unknown)
            raise DataError(
                f"`arch_str` of {str(path)!r} must list each of the {N_ARCHS} cells once in the official "
                f"format, but {len(unknown)} are wrong or missing, e.g. {bad[0]!r}. {FORMAT_HINT}"
            )
        ids: dict[str, int] = {}
        self.unique_keys = np.array(
            [ids.setdefault(u, len(ids)) for u in reorder(by_name["unique_str"])], dtype=np.int64
        )
        self.unique_keys.flags.writeable = False
        self.columns = [name for name in header if name not in STRING_COLUMNS]
        self._data = {name: _floats(reorder(by_name[name]), name, path) for name in self.columns}
        return self

    def __len__(self) -> int:
        return len(self.arch_strs)

    def __repr__(self) -> str:
        return f"NB201Table({self.path!r})"

    def __reduce__(self) -> tuple[Callable[[str], NB201Table], tuple[str]]:
        # worker processes reload the file (once each, then from their cache) instead of receiving 4 MB
        return (NB201Table.load, (self.path,))

    def index(self, arch_str: str) -> int:
        """The official index of a cell string such as `|nor_conv_3x3~0|+|...|+|...|`."""
        found = self._index.get(arch_str) if isinstance(arch_str, str) else None
        if found is not None:
            return found
        str_to_arch(arch_str)  # raises with the expected format for a malformed string
        raise ArchError(f"The cell {arch_str!r} is not in the NAS-Bench-201 table {self.path!r}.")

    def per_seed(self) -> NB201PerSeed:
        """The per-seed results (`nb201_per_seed.csv.gz` beside the table), loaded on first use."""
        with self._per_seed_lock:
            if self._per_seed is None:
                path = Path(self.path).with_name(PER_SEED_FILE_NAME)
                if not path.is_file():
                    raise DataError(
                        f"The per-seed NAS-Bench-201 results must be in {str(path)!r}, beside the table, "
                        f"but that file does not exist. {FORMAT_HINT}"
                    )
                self._per_seed = NB201PerSeed._read(path)
            return self._per_seed
