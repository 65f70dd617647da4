"""`benchmarks/federated.py` without running a federation: its argument checks, the epochs-equivalent of
rounds, the summary's differences and the Markdown tables of a synthetic record (no figure of the benchmark
is asserted)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from nasforge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("federated"), importlib.import_module("federated_runs")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def run(method: str, seed: int, acc: float | None) -> dict[str, object]:
    if acc is None:
        return {"method": method, "seed": seed, "error": "boom", "wall_s": 3.0}
    return {
        "method": method,
        "seed": seed,
        "test_acc": acc,
        "trials": 4 if method != "fixed" else 0,
        "search_rounds": 8.0 if method == "federated" else 0.0,
        "final_rounds": 20.0 if method != "central" else 0.0,
        "comm_bytes": 2.5e7 if method != "central" else 0.0,
        "client_acc_mean": 0.8,
        "client_acc_std": 0.05,
        "wall_s": 100.0,
    }


def test_defaults_come_from_the_preset_and_bad_settings_are_refused(bench: tuple[ModuleType, ModuleType]) -> None:
    federated, _ = bench
    args = federated.parse_args([])
    assert (args.rounds, args.final_rounds, args.seeds, args.search_time) == (10, 20, [0, 1, 2], 600)  # the preset's
    assert federated.parse_args(["--fednas"]).methods[-1] == "fednas"
    for argv, what in [
        (["--rounds", "0"], "--rounds"),
        (["--final-rounds", "0"], "--final-rounds"),
        (["--search-time", "0"], "--search-time"),
        (["--seeds", "1", "1"], "--seeds"),
        (["--strategy", "no_such_strategy"], "--strategy"),
        (["--strategy", "fednas"], "--fednas"),
    ]:
        with pytest.raises(ConfigError, match=what):
            federated.parse_args(argv)


def test_rounds_count_in_passes_over_the_pooled_data(bench: tuple[ModuleType, ModuleType]) -> None:
    _, runs = bench
    assert runs.epochs_equivalent(20, 1, 0.5) == 10
    assert runs.epochs_equivalent(10, 2, 1.0) == 20
    assert runs.epochs_equivalent(1, 1, 0.25) == 1  # never no training at all


def test_the_fixed_arch_is_one_of_the_presets_space(bench: tuple[ModuleType, ModuleType]) -> None:
    _, runs = bench
    from nasforge.zoo import AudioCNN

    space = AudioCNN((40, 63), 10, kinds=["conv1d"])
    assert dict(space.validate(runs.FIXED_ARCH)) == runs.FIXED_ARCH
    assert space.validate(runs.FIXED_ARCH) != space.default_arch()


def test_summary_and_markdown_of_a_synthetic_record(bench: tuple[ModuleType, ModuleType]) -> None:
    federated, _ = bench
    runs = [
        run("federated", 0, 0.80),
        run("central", 0, 0.83),
        run("fixed", 0, 0.75),
        run("federated", 1, 0.84),
        run("central", 1, 0.85),
        run("fixed", 1, None),
    ]
    summary = federated.summarize(runs)
    assert summary["failed"] == 1 and summary["methods"]["fixed"]["runs"] == 1
    assert summary["methods"]["federated"]["mean_test_acc"] == pytest.approx(0.82)
    central = summary["federated_minus_central"]
    assert central["per_seed_points"] == pytest.approx([-3.0, -1.0])
    assert central["mean_points"] == pytest.approx(-2.0) and central["met"]
    fixed = summary["federated_minus_fixed"]  # only seed 0 has both
    assert fixed["seeds"] == 1 and fixed["mean_points"] == pytest.approx(5.0) and fixed["met"]
    runs[0]["test_acc"] = 0.76
    short = federated.summarize(runs)["federated_minus_fixed"]
    assert not short["met"] and short["short_by_points"] == pytest.approx(1.0)

    table = federated.markdown({"runs": runs, "summary": summary})
    lines = table.splitlines()
    assert lines[0].startswith("| method | seed | **test accuracy**")
    assert [line.split(" | ")[0] for line in lines[2:8]] == ["| federated"] * 2 + ["| central"] * 2 + ["| fixed"] * 2
    assert "| fixed | 1 | failed |" in table
    assert "| federated | 2 | **82.00 %** | 80.00 % |" in table
    assert "| federated minus central | 2 | -2.00 | >= -2 | yes |" in table
    # without a stored summary (a record stopped half-way) the tables are computed from the runs
    assert "short by 1.00" in federated.markdown({"runs": runs})


def test_the_central_search_sees_exactly_the_clients_samples_pooled(bench: tuple[ModuleType, ModuleType]) -> None:
    _, runs = bench
    import numpy as np

    from nasforge.data import ArrayDataset
    from nasforge.federated import FederatedData, IIDPartitioner

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)).astype("float32"), np.arange(60) % 3
    dataset = ArrayDataset(x, y, x_test=x[:9], y_test=y[:9], valid_size=0.25)
    fed = FederatedData(dataset, IIDPartitioner(), num_clients=3, client_valid=0.2)
    pooled = runs.PooledClients(fed).load()
    rows = lambda part: sorted(map(bytes, part.x.numpy()))  # noqa: E731
    clients = [fed.client(cid) for cid in range(3)]
    assert rows(pooled.train) == sorted(r for train, _ in clients for r in rows(train))
    assert rows(pooled.valid) == sorted(r for _, valid in clients for r in rows(valid))
    assert len(pooled.train) + len(pooled.valid) == 60  # every client sample once, train and valid kept apart
    source = dataset.load()
    assert pooled.test is source.test and pooled.num_classes == 3 and "sample_groups" not in pooled.info
