"""Fuzzed input: configs, YAML files, CLI arguments, arch JSON and benchmark table files.

Every bad input must end in a nasforge error with a message (the CLI: one line, exit status 2), never a
raw traceback, and must write nothing. The example counts are the README's "inputs fuzzed"; the runs are
derandomised so that CI sees the same inputs every time.
"""

from __future__ import annotations

import gzip
import io
import json
import string
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasforge import config as configs
from nasforge.cli.main import main
from nasforge.errors import NasforgeError
from nasforge.space import Arch
from nasforge.tables.nb201 import NB201Table
from nasforge.zoo import NB201Space, SmallImageCNN

#: examples per fuzzed input kind (summed in the README's reliability section)
EXAMPLES = {"config": 1000, "yaml": 500, "cli": 150, "arch": 1500, "table": 60, "csv": 300, "text_csv": 200}


def fuzz(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
NAMES = ["cnn", "nb201", "mlp", "digits", "fashion_mnist", "evolution", "random", "bo", "pool", "sequential", "ray"]
OPTION_KEYS = [
    "name", "epochs", "population_size", "sample_size", "valid_size", "max_trials", "timeout", "trial_timeout",
    "path", "formats", "proxy", "n_workers", "learning_rate", "early_stopping", "inherit_weights", "seed",
    "ops", "widths", "deduplicate", "max_params", "retry_failed", "zero_cost_warmup", "optimizer",
]  # fmt: skip
sections = st.one_of(
    values,
    st.dictionaries(st.sampled_from(OPTION_KEYS), values, max_size=4),
    st.fixed_dictionaries(
        {"name": st.sampled_from(NAMES)},
        optional={"population_size": values, "epochs": values, "valid_size": values, "n_workers": values},
    ),
)
config_dicts = st.dictionaries(st.sampled_from([*configs.SECTIONS, "x"]), sections, max_size=7)


@pytest.mark.slow  # the longest of the fast loop (7-10 s): CI runs it with the slow tests
@fuzz(EXAMPLES["config"])
@given(config_dicts)
def test_fuzzed_configs_are_valid_or_a_clear_error(cfg: dict) -> None:
    try:
        configs.validate(cfg)
    except NasforgeError as exc:
        assert str(exc)


yaml_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=string.printable, max_size=300),
    config_dicts.map(lambda d: json.dumps(d, default=str)),
    st.lists(st.sampled_from(["space:", " {name: cnn}", "- 1", "dataset: [", "\t", ": :", "&a", "*a", "!!python/obj"]),
             max_size=8).map("\n".join),
)  # fmt: skip


@fuzz(EXAMPLES["yaml"])
@given(yaml_text)
def test_fuzzed_yaml_files_are_read_or_a_clear_error(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("yaml") / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if text.isprintable() else path.write_bytes(
        text.encode("utf-8", "surrogatepass")
    )
    try:
        cfg = configs.load_file(str(path))
        configs.validate(cfg)
    except NasforgeError as exc:
        assert str(exc)


FLAGS = [
    "--max-trials", "--timeout", "--workers", "--strategy", "--name", "--seed", "--set", "--objective",
    "--constraint", "--executor", "--gpus-per-trial", "--trial-timeout", "--max-params", "--retry-failed",
    "--export-format", "--format", "--trial", "--pick", "--rule", "--reference", "--state",
]  # fmt: skip
ARG_VALUES = [
    "-1", "0", "3", "1e9", "nan", "inf", "x", "", "evolution", "evolutoin", "max:val_acc", "min:", "params <= ",
    "latency_ms <= 5", "strategy.population_size=1", "space.name=nope", "run.max_trials=-3", "evaluator.epochs=two",
    "dataset.valid_size=2.5", "export.formats=[tflite]", "estimation.early_stopping=sometimes", "ray", "knee",
    "{", "[]", "table", "yaml", "'; DROP TABLE trials; --", "<script>",
]  # fmt: skip
COMMANDS = ["run", "trials", "best", "pareto", "pick", "export", "report", "list", "presets", "bench"]
argv = st.tuples(
    st.sampled_from(COMMANDS),
    st.lists(st.one_of(st.sampled_from(FLAGS), st.sampled_from(ARG_VALUES), st.sampled_from(["digits", "nope"])),
             max_size=6),
).map(lambda t: [t[0], *t[1]])  # fmt: skip


@pytest.mark.slow
@fuzz(EXAMPLES["cli"])
@given(argv)
def test_fuzzed_command_lines_fail_in_one_line_and_write_nothing(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    from nasforge.experiment import Experiment

    folder = tmp_path_factory.mktemp("cli")
    monkeypatch.chdir(folder)
    # a command line that happens to be valid would start a real search: stop before the first trial
    monkeypatch.setattr(Experiment, "run", lambda self, *a, **k: None)
    monkeypatch.setattr("nasforge.bench.runner.run_benchmark", lambda *a, **k: None, raising=False)
    try:
        code = main([*args, "--storage", str(folder / "n.db")] if args[0] not in ("presets", "bench") else args)
    except SystemExit as exc:  # argparse: usage line and status 2
        code = exc.code
    _, err = capsys.readouterr()
    assert code in (0, 1, 2, None), err  # 1: a valid run whose (stubbed) search completed no trial
    assert "Traceback" not in err
    if code == 2 and err.startswith("nasforge: error:"):
        assert err.count("\n") == 1
        db = folder / "n.db"
        assert not db.exists() or args[0] != "run" or _empty(db)


def _empty(db: Path) -> bool:
    from nasforge.storage import SQLStorage

    store = SQLStorage(str(db))
    try:
        return not store.list_experiments()
    finally:
        store.close()


SPACES = (SmallImageCNN(), NB201Space(C=4, N=1))
LABELS = [label for space in SPACES for label in space.labels]
arch_values = st.one_of(
    scalars,
    st.sampled_from(["conv", "sep", "mbconv", "max", "avg", "none", "skip_connect", "nor_conv_3x3", 16, 24, 32]),
    st.lists(scalars, max_size=2),
)
arch_dicts = st.dictionaries(st.one_of(st.sampled_from(LABELS), st.text(max_size=10)), arch_values, max_size=40)
arch_texts = st.one_of(
    st.text(max_size=200),
    arch_dicts.map(json.dumps),
    arch_dicts.map(lambda d: json.dumps(d)[: len(json.dumps(d)) // 2]),
)


@fuzz(EXAMPLES["arch"])
@given(arch_texts, st.sampled_from(SPACES), st.booleans())
def test_fuzzed_arch_json_is_valid_or_names_the_label(text: str, space, complete: bool) -> None:
    try:
        arch = Arch.from_json(text)
        if complete:  # fill the rest from the default, so that bad values, not missing ones, are what fails
            arch = Arch({**space.default_arch(), **arch})
        space.freeze(space.validate(arch))
    except NasforgeError as exc:
        assert str(exc)


@pytest.fixture(scope="module")
def table_lines() -> list[str]:
    return gzip.decompress(Path(NB201Table.load().path).read_bytes()).decode().splitlines()


mutations = st.lists(
    st.tuples(
        st.sampled_from(["field", "drop_column", "truncate", "duplicate_row", "header", "not_gzip", "empty"]),
        st.integers(0, 10**6),
        st.sampled_from(["", "x", "nan", "-1", "1e400", "|none~0|", "0", "15625", ",", '"']),
    ),
    min_size=1,
    max_size=3,
)


@pytest.mark.slow  # the longest of the fast loop (7-10 s): CI runs it with the slow tests
@fuzz(EXAMPLES["table"])
@given(mutations)
def test_fuzzed_benchmark_tables_load_or_fail_clearly(
    tmp_path_factory: pytest.TempPathFactory, table_lines: list[str], steps: list
) -> None:
    lines = list(table_lines)
    raw: bytes | None = None
    for kind, k, value in steps:
        if kind == "field":
            row = 1 + k % (len(lines) - 1)
            cells = lines[row].split(",")
            cells[k % len(cells)] = value
            lines[row] = ",".join(cells)
        elif kind == "drop_column":
            col = k % len(lines[0].split(","))
            lines = [",".join(c for i, c in enumerate(line.split(",")) if i != col) for line in lines]
        elif kind == "truncate":
            lines = lines[: k % len(lines)]
        elif kind == "duplicate_row":
            lines.append(lines[1 + k % (len(lines) - 1)] if len(lines) > 1 else "")
        elif kind == "header":
            header = lines[0].split(",")
            header[k % len(header)] = value
            lines[0] = ",".join(header)
        elif kind == "not_gzip":
            raw = "\n".join(lines[:50]).encode()
        elif kind == "empty":
            lines = []
        if not lines:
            break
    path = tmp_path_factory.mktemp("table") / "nb201.csv.gz"
    if raw is None:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1) as f:
            f.write("\n".join(lines).encode())
        raw = buffer.getvalue()
    path.write_bytes(raw)
    try:
        table = NB201Table.load(path)
        assert len(table.arch_strs) == 15625
    except NasforgeError as exc:
        assert str(exc)


cells = st.one_of(
    st.sampled_from(["", "NA", "?", "1", "2", "-0.5", "1e309", "nan", "a", "b", "yes", '"', '""', ",", "x,y"]),
    st.text(max_size=6),
    st.integers(-5, 5).map(str),
)
csv_rows = st.lists(st.lists(cells, min_size=1, max_size=5), max_size=40)
headers = st.lists(st.sampled_from(["y", "a", "b", "c", "", "y", "text", "label", "group"]), min_size=0, max_size=5)


def _csv_text(header: list[str], rows: list[list[str]], sep: str) -> str:
    return "\n".join(sep.join(r) for r in [header, *rows])


@fuzz(EXAMPLES["csv"])
@given(headers, csv_rows, st.sampled_from([",", ";", "\t"]))
def test_fuzzed_csv_tables_load_or_fail_clearly(
    tmp_path_factory: pytest.TempPathFactory, header: list[str], rows: list[list[str]], sep: str
) -> None:
    from nasforge.data.table import CSVDataset

    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_text(_csv_text(header, rows, sep))
    try:
        splits = CSVDataset(str(path), label="y", valid_size=0.2, test_size=0.2).load()
        assert splits.train.x.dtype == torch.float32 and torch.isfinite(splits.train.x).all()
    except NasforgeError as exc:
        assert str(exc)


@fuzz(EXAMPLES["text_csv"])
@given(headers, csv_rows)
def test_fuzzed_text_csv_files_load_or_fail_clearly(
    tmp_path_factory: pytest.TempPathFactory, header: list[str], rows: list[list[str]]
) -> None:
    from nasforge.data.text import TextCSV

    path = tmp_path_factory.mktemp("text") / "t.csv"
    path.write_text(_csv_text(header, rows, ","))
    try:
        splits = TextCSV(str(path), max_length=8, min_freq=1).load()
        assert splits.info["vocab_size"] >= 2
    except NasforgeError as exc:
        assert str(exc)
