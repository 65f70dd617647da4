"""The HTML report: what it shows for one and several objectives, and that stored strings stay text."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nasforge.cli.main import main
from nasforge.evaluators.tabular import NB201Evaluator
from nasforge.experiment import Experiment
from nasforge.report import load_view, write_report
from nasforge.report.arch_view import cell_svg
from nasforge.report.svg import nice_ticks
from nasforge.strategies import RandomSearch
from nasforge.zoo.nb201 import NB201Space
from tests.toys import ToyEvaluator, ToySpace


class _Collector(HTMLParser):
    """The page's tags and text, parsed like a browser would (scripts and their text found if any)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Collector:
    c = _Collector()
    c.feed(html)
    return c


def nb201_experiment(tmp_path: Path, objectives: list[str], n: int = 40) -> str:
    db = str(tmp_path / "nb.db")
    exp = Experiment("nb", NB201Space(), RandomSearch(), NB201Evaluator(), storage=db, objective=objectives, seed=1)
    exp.run(max_trials=n)
    return db


def test_report_of_a_multi_objective_search(tmp_path: Path, table) -> None:
    db = nb201_experiment(tmp_path, ["max:val_acc", "min:params"])
    view = load_view("nb", db)
    html = (write_report("nb", db, tmp_path / "r.html")).read_text()
    page = parse(html)
    text = " ".join(page.text)
    for section in (
        "Best so far",
        "Trials against their cost",
        "Pareto front",
        "What each decision did",
        "Best architecture",
        "All trials (40)",
    ):
        assert section in text
    assert "script" not in page.tags and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert page.tags.count("svg") >= 4  # progress, params, flops (when stored) or front, cell
    front = view.front
    assert f"{len(front)} non-dominated of 40 completed trials" in text
    # the cell of the best trial is drawn: one arc label per operation that is not 'none'
    best = view.best
    assert best is not None
    drawn = re.findall(r">(skip_connect|nor_conv_1x1|nor_conv_3x3|avg_pool_3x3)</text>", html)
    assert sorted(drawn) == sorted(v for v in best.arch.values() if v != "none")


def test_decision_effects_find_the_decision_that_matters(tmp_path: Path) -> None:
    db = str(tmp_path / "toy.db")
    Experiment("toy", ToySpace(), RandomSearch(), ToyEvaluator(), storage=db, objective="max:score", seed=0).run(
        max_trials=60
    )
    effects = load_view("toy", db).decision_effects()
    # the toy score falls with (x - 3)^2 and (y - 1)^2: x has the larger spread of the two
    ranked = [e.label for e in effects]
    assert ranked.index("x") < ranked.index("op") and 0 < effects[0].share <= 1
    best_x = next(e for e in effects if e.label == "x").values[0][0]
    assert best_x == "3"


def test_stored_strings_are_escaped(tmp_path: Path) -> None:
    db = str(tmp_path / "evil.db")
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    Experiment(name, ToySpace(), RandomSearch(), ToyEvaluator(fail_x=(0,)), storage=db, objective="max:score").run(
        max_trials=8
    )
    html = write_report(name, db, tmp_path / "r.html").read_text()
    page = parse(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert name in "".join(page.text)  # shown as text


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "toy.db")
    Experiment("toy", ToySpace(), RandomSearch(), ToyEvaluator(), storage=db, objective="max:score").run(max_trials=5)
    monkeypatch.chdir(tmp_path)
    assert main(["report", "toy", "--storage", db]) == 0
    assert (tmp_path / "toy-report.html").is_file()
    assert main(["report", "tyo", "--storage", db]) == 2
    assert "Did you mean 'toy'" in capsys.readouterr().err


def test_cell_drawing_only_for_edge_labels() -> None:
    svg = cell_svg({"1<-0": "nor_conv_3x3", "2<-0": "none", "2<-1": "skip_connect"})
    assert svg is not None and ">nor_conv_3x3<" in svg and ">none<" not in svg
    assert cell_svg({"width": 3}) is None


def test_nice_ticks() -> None:
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.93, 0.95)[0] >= 0.93 and len(nice_ticks(0.93, 0.95)) >= 3
