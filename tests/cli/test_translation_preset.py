"""`nasforge run translation` end to end on a tiny budget: search, retrain, test, export; the export
translates a string and keeps its placeholders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nasforge
from nasforge.cli.main import main
from nasforge.export import load_translator


@pytest.mark.slow  # loads the whole corpus and translates its test packages: about a minute on a free core
def test_the_translation_preset_runs_and_its_export_translates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "run",
            "translation",
            "--storage",
            str(tmp_path / "t.db"),
            "--executor",
            "sequential",
            "--max-trials",
            "2",
            "--set",
            "evaluator.trial_time=4",
            "--set",
            "evaluator.valid_limit=16",
            "--set",
            "evaluator.test_beam=1",
            "--export",
            str(tmp_path / "out"),
            "--export-time",
            "4",
            "--quiet",
        ]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for name in ("test_bleu", "test_chrf", "test_copy_bleu"):
        assert name in metrics
    translate = load_translator(tmp_path / "out")
    out = translate.translate(["Cannot open %s", "File not found"])
    assert len(out) == 2 and all(isinstance(t, str) for t in out)
    assert all(not text or "⟪" not in text for text in out)  # no token is left unrestored
    assert nasforge.load(tmp_path / "out").predict(["Cannot open %s", "File not found"]) == out  # the same model
