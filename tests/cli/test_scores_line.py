"""The line `nasforge run` / `export` end with: how the exported model did on the test split, by its kind."""

from __future__ import annotations

from nasforge.cli.common import scores_line


def test_a_classifier_reports_its_accuracy() -> None:
    assert scores_line({"test_acc": 0.9123}) == "test accuracy of the exported model: 91.23 %"


def test_a_translator_reports_bleu_chrf_and_the_copy_floor() -> None:
    line = scores_line({"test_bleu": 32.04, "test_chrf": 45.83, "test_copy_bleu": 17.22}, "the export")
    assert line == "test BLEU of the export: 32.04 (chrF 45.83; copying the source scores 17.22)"


def test_an_untested_export_says_nothing() -> None:
    assert scores_line({"train_loss": 0.3}) is None
