"""`benchmarks/domains_presets.py` reads a `nasforge run PRESET` back: its trials from the run's storage, the
export's test accuracy, and a failed run as its error."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("NASFORGE_CACHE", str(tmp_path / "elsewhere"))  # put back after the test
    module = importlib.import_module("domains_presets")
    yield module
    sys.modules.pop("domains_presets", None)


def test_a_preset_run_is_read_back_from_its_storage_and_export(bench, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    real = subprocess.run

    def tiny(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        extra = ["--max-trials", "2", "--export-epochs", "1", "--set", "evaluator.epochs=1"]
        return real([*cmd, *extra, "--executor", "sequential"], **kwargs)

    monkeypatch.setattr(subprocess, "run", tiny)
    run = bench.preset_run("japanese_vowels", 0, tmp_path)
    assert "error" not in run, run.get("error")
    assert run["preset"] == "japanese_vowels" and run["trials"] == run["completed"] == 2
    assert 0.0 <= run["best_val_acc"] <= 1.0 and run["test_acc"] == run["metrics"]["test_acc"]
    assert os.environ["NASFORGE_CACHE"] == str(tmp_path / "cache")  # the run had a cache of its own, empty


def test_a_failed_preset_run_is_its_error(bench, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def failing(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 2, stdout="", stderr="ConfigError: no such thing")

    monkeypatch.setattr(subprocess, "run", failing)
    run = bench.preset_run("tabular", 0, tmp_path)
    assert run["preset"] == "tabular" and "no such thing" in run["error"] and run["wall_s"] >= 0
