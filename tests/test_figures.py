"""Every figure on README.md and docs/*.md is what its records say (`python benchmarks/figures.py --check`)."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def figures():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("figures")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_every_figure_on_the_pages_is_what_its_records_say(figures) -> None:  # type: ignore[no-untyped-def]
    problems = figures.check()
    assert not problems, "run `python benchmarks/figures.py`:\n" + "\n".join(problems)


def test_a_tampered_number_is_caught_and_named(figures, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "docs").mkdir()
    for page in figures.pages():
        shutil.copy(page, tmp_path / page.relative_to(ROOT))
    page = tmp_path / "docs" / "benchmarks.md"
    text = page.read_text()
    before = figures.check(tmp_path)  # empty when the pages agree with the records (the test above)
    begin = text.index("<!-- figure:oneshot_nb201:begin -->")
    row = text.index("| **DrNAS", begin)
    value = text.index("**93.", row)  # the default's mean, "**93.36 +- 0.21**"
    page.write_text(text[:value] + "**94." + text[value + 5 :])
    after = figures.check(tmp_path)
    assert set(after) - set(before) == {"benchmarks.md: figure 'oneshot_nb201' differs from what its records say"}
    figures.write(tmp_path, only={"oneshot_nb201"})  # and writing puts the record's figure back
    assert figures.check(tmp_path) == before and page.read_text() == text


def test_a_marker_without_a_generator_and_a_generator_without_a_page_are_named(figures, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "docs").mkdir()
    for page in figures.pages():
        shutil.copy(page, tmp_path / page.relative_to(ROOT))
    page = tmp_path / "docs" / "benchmarks.md"
    text = page.read_text()
    start = text.index("<!-- figure:ray_overhead:begin -->")
    end = text.index("<!-- figure:ray_overhead:end -->") + len("<!-- figure:ray_overhead:end -->")
    page.write_text(text[:start] + "<!-- figure:made_up:begin -->| 1 |<!-- figure:made_up:end -->" + text[end:])
    problems = figures.check(tmp_path)
    assert "benchmarks.md: figure 'made_up' has no generator in benchmarks/figures*.py" in problems
    assert "figure 'ray_overhead' is on no page" in problems
