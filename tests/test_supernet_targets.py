"""`benchmarks/supernet_targets.py` runs the `ofa` supernet once and exports a subnet per latency target, and
one multi-trial search per target, each through the `nasforge` command, and sums their CPU time."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # two digits searches and a supernet, through the command line: about a minute
def test_one_supernet_serves_every_target_and_each_search_is_timed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    bench = importlib.import_module("supernet_targets")
    tiny = ["evaluator.epochs=1", "run.max_trials=2", "export.epochs=1"]
    args = argparse.Namespace(
        preset="digits",
        targets=[50.0, 100.0],  # loose: every subnet of the digits space fits
        supernet_epochs=1,
        fine_tune_epochs=1,
        seed=0,
        set=tiny,
        ofa_set=["strategy.population=4", "strategy.generations=1", "strategy.eval_size=100"],
    )
    (tmp_path / "ofa").mkdir()
    ofa = bench.run_ofa(args, tmp_path / "ofa")
    assert "error" not in ofa, ofa.get("error")
    assert ofa["supernet_cpu_s"] > 0 and set(ofa["targets"]) == {"50", "100"}
    for target in ofa["targets"].values():
        assert 0 <= target["test_acc"] <= 1 and target["latency_ms"] <= 100 and target["cpu_s"] > 0
    (tmp_path / "search").mkdir()
    search = bench.run_search(args, 50.0, tmp_path / "search")
    assert "error" not in search, search.get("error")
    assert 0 <= search["test_acc"] <= 1 and search["latency_ms"] <= 50 and search["cpu_s"] > 0
    summary = bench.summarize(ofa, {"50": search, "100": search})
    assert set(summary["gap_points"]) == {"50", "100"} and summary["cpu_ratio"] > 0
    sys.modules.pop("supernet_targets", None)
