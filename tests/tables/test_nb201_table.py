"""`NB201Table`: loading, lookup, columns, path resolution and the checks on malformed files."""

from __future__ import annotations

import csv
import gzip
import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from nasforge import datafiles
from nasforge.errors import ArchError, ConfigError, DataError
from nasforge.tables import NB201Table, nb201_search_paths
from nasforge.tables.nb201 import REQUIRED_COLUMNS

OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No table in the environment, the package (as if a packager left the bundled data out) or the home
    cache; returns the (empty) home folder."""
    monkeypatch.delenv("NASFORGE_NB201", raising=False)
    monkeypatch.delenv("NASFORGE_DATA", raising=False)
    monkeypatch.setattr(datafiles, "BUNDLED", tmp_path / "bundled")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def write_gz_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    with gzip.open(path, "wt", newline="") as f:
        f.write(text.getvalue())
    return path


def read_rows(path: str) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", newline="") as f:
        reader = csv.reader(f)
        return next(reader), list(reader)


def test_load_has_every_cell_and_the_known_optima(table: NB201Table) -> None:
    assert len(table) == len(table.arch_strs) == 15625
    for name, optimum in (("c10_test_acc_200", 94.37), ("c100_test_acc_200", 73.51), ("in16_test_acc_200", 47.31)):
        col = table.column(name)
        assert col.dtype == np.float64 and col.shape == (15625,)
        assert np.nanmax(col) == pytest.approx(optimum, abs=0.006)
    best = int(np.argmax(table.column("c10_test_acc_200")))
    assert table.arch_strs[best] == OPTIMUM
    assert table.column("c10_params_mb")[best] == pytest.approx(1.07347, abs=1e-5)  # 6 significant digits
    assert set(REQUIRED_COLUMNS) - {"arch_str", "unique_str"} <= set(table.columns)


def test_load_is_cached_per_path(table: NB201Table) -> None:
    assert NB201Table.load() is table
    assert NB201Table.load(Path(table.path)) is table


def test_pickles_as_a_reference_to_its_file(table: NB201Table) -> None:
    data = pickle.dumps(table)
    assert len(data) < 1000
    assert pickle.loads(data) is table


def test_columns_are_read_only(table: NB201Table) -> None:
    col = table.column("c10valid_valid_acc_200")
    with pytest.raises(ValueError, match="read-only"):
        col[0] = 0.0
    assert table.column("arch_index")[123] == 123


def test_index_and_arch_strs_round_trip(table: NB201Table) -> None:
    assert all(table.index(s) == i for i, s in enumerate(table.arch_strs))
    assert table.index(OPTIMUM) == 6111


def test_index_rejects_malformed_strings(table: NB201Table) -> None:
    with pytest.raises(ArchError, match=r"\|op~0\|\+\|op~0\|op~1\|"):
        table.index("|nor_conv_3x3~0|+|nor_conv_3x3~0|")
    with pytest.raises(ArchError, match="conv_3x3"):
        table.index(OPTIMUM.replace("nor_conv_1x1", "conv_3x3"))


def test_unique_keys_number_the_isomorphism_classes(table: NB201Table) -> None:
    keys = table.unique_keys
    assert keys.shape == (15625,) and keys.dtype == np.int64
    assert len(np.unique(keys)) == 6466
    # the all-"none" cell and a cell whose output edges are all "none" compute the same (zero) function
    zero = table.index("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    dead = table.index("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|none~1|none~2|")
    assert keys[zero] == keys[dead]
    assert keys[zero] != keys[table.index(OPTIMUM)]


def test_unknown_column_suggests_the_closest(table: NB201Table) -> None:
    with pytest.raises(ConfigError, match=r"no numeric column 'c10_test_acc200'\. Did you mean 'c10_test_acc_200'"):
        table.column("c10_test_acc200")
    with pytest.raises(ConfigError, match="arch_strs"):
        table.column("arch_str")


def test_missing_file_says_where_it_looked_and_what_to_set(no_env: Path) -> None:
    with pytest.raises(DataError) as info:
        NB201Table.load()
    message = str(info.value)
    for expected in ("NASFORGE_DATA", "NASFORGE_NB201", str(no_env / ".cache" / "nasforge" / "nb201"), "format"):
        assert expected in message
    assert "reinstall" in message.lower() and "\n" not in message
    with pytest.raises(DataError, match="not one"):
        NB201Table.load(no_env / "nowhere.csv.gz")


def test_search_order(no_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = no_env / ".cache" / "nasforge" / "nb201" / "nb201.csv.gz"
    bundled = tmp_path / "bundled" / "nb201" / "nb201.csv.gz"
    assert nb201_search_paths() == [bundled, cache]
    monkeypatch.setenv("NASFORGE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NASFORGE_NB201", str(tmp_path / "file.csv.gz"))
    assert nb201_search_paths() == [
        tmp_path / "file.csv.gz",
        tmp_path / "data" / "nb201" / "nb201.csv.gz",
        bundled,
        cache,
    ]


def test_environment_variables_find_the_file(table: NB201Table, no_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path(table.path)
    monkeypatch.setenv("NASFORGE_NB201", str(real))
    assert NB201Table.load() is table
    monkeypatch.setenv("NASFORGE_NB201", str(no_env / "missing.csv.gz"))  # falls through to NASFORGE_DATA
    monkeypatch.setenv("NASFORGE_DATA", str(real.parent.parent))
    assert NB201Table.load() is table


def test_missing_columns_are_named(tmp_path: Path) -> None:
    header = [c for c in REQUIRED_COLUMNS if c not in ("unique_str", "c10_test_acc_200")]
    path = write_gz_csv(tmp_path / "bad.csv.gz", header, [["0"] * len(header)])
    with pytest.raises(DataError, match=r"lacks \['unique_str', 'c10_test_acc_200'\]"):
        NB201Table.load(path)


def test_malformed_files_are_rejected(tmp_path: Path) -> None:
    header = list(REQUIRED_COLUMNS)
    row = ["0", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "#", *["1.0"] * (len(header) - 3)]
    with pytest.raises(DataError, match="15625"):
        NB201Table.load(write_gz_csv(tmp_path / "short.csv.gz", header, [row]))
    with pytest.raises(DataError, match="line 3 has 4"):
        NB201Table.load(write_gz_csv(tmp_path / "ragged.csv.gz", header, [row, row[:4]]))
    (tmp_path / "plain.csv.gz").write_text("arch_index,arch_str\n")
    with pytest.raises(DataError, match="gzipped CSV"):
        NB201Table.load(tmp_path / "plain.csv.gz")


def test_rows_in_another_order_are_put_in_index_order(table: NB201Table, tmp_path: Path) -> None:
    header, rows = read_rows(table.path)
    shuffled = NB201Table.load(write_gz_csv(tmp_path / "nb201.csv.gz", header, rows[::-1]))
    assert shuffled is not table
    assert shuffled.arch_strs == table.arch_strs
    np.testing.assert_array_equal(shuffled.column("c10_test_acc_200"), table.column("c10_test_acc_200"))
    np.testing.assert_array_equal(shuffled.unique_keys, table.unique_keys)
    with pytest.raises(DataError, match="beside the table"):
        shuffled.per_seed()


def test_duplicate_cells_are_rejected(table: NB201Table, tmp_path: Path) -> None:
    header, rows = read_rows(table.path)
    rows[1][1] = rows[0][1]
    with pytest.raises(DataError, match="each of the 15625 cells once"):
        NB201Table.load(write_gz_csv(tmp_path / "dup.csv.gz", header, rows))


def test_per_seed_results(table: NB201Table) -> None:
    seeds = table.per_seed()
    assert table.per_seed() is seeds
    assert len(seeds) == 39419
    assert seeds.arch_index.dtype == np.int64
    assert np.array_equal(np.bincount(seeds.arch_index, minlength=15625), table.column("n_seeds_200"))
    acc = seeds.column("c10valid_valid_acc_200")
    means = np.bincount(seeds.arch_index, weights=acc) / np.bincount(seeds.arch_index)
    np.testing.assert_allclose(means, table.column("c10valid_valid_acc_200"), atol=1e-3)
    assert "in16_valtest_acc_200" in seeds.columns
    with pytest.raises(ConfigError, match="Did you mean 'c100_valtest_acc_200'"):
        seeds.column("c100_valtest_acc")
