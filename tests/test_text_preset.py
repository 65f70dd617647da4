"""`benchmarks/text_preset.py` reads a `nasforge run rotten_tomatoes` back (the chosen arch, the ensemble's and
its single retrain's test accuracy), and `--set` reaches the command of every run."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    module = importlib.import_module("text_preset")
    yield module
    sys.modules.pop("text_preset", None)
    sys.modules["preset_runs"].OVERRIDES.clear()


@pytest.mark.slow  # a real rotten_tomatoes search of two trials and two retrains: 15-30 s
def test_a_text_preset_run_is_read_back_with_its_chosen_arch(bench, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    real, seen = subprocess.run, []

    def tiny(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        extra = ["--max-trials", "2", "--set", "evaluator.epochs=1", "--set", "export.ensemble_seeds=2"]
        return real([*cmd, *extra, "--executor", "sequential", "--export-epochs", "1"], **kwargs)

    monkeypatch.setattr(subprocess, "run", tiny)
    sys.modules["preset_runs"].OVERRIDES[:] = ["dataset.lexicon=null"]
    run = bench.preset_run(0, tmp_path)
    assert "error" not in run, run.get("error")
    assert seen[0][-2:] == ["--set", "dataset.lexicon=null"]
    assert run["trials"] == run["completed"] == 2 and run["ensemble_size"] == 2
    assert 0.0 <= run["best_member_test_acc"] <= 1.0 and 0.0 <= run["test_acc"] <= 1.0
    assert "embed_dim" in run["best_arch"] and 0.0 <= run["search_val_acc"] <= 1.0
    summary = bench.summarize([run, {"error": "x", "wall_s": 1.0}])
    assert summary["runs"] == 2 and summary["failed"] == 1 and summary["mean_test_acc"] == run["test_acc"]
