"""The live dashboard: its routes without a browser, then in headless Chromium while a real search runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nasforge.errors import ConfigError
from nasforge.experiment import Experiment
from nasforge.report.dashboard import Dashboard
from nasforge.storage import get_storage
from nasforge.strategies import RandomSearch
from tests.toys import ToyEvaluator, ToySpace

EVIL = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Dashboard]:
    db = str(tmp_path / "d.db")
    Experiment(EVIL, ToySpace(), RandomSearch(), ToyEvaluator(fail_x=(0,)), storage=db, objective="max:score").run(
        max_trials=10
    )
    dashboard = Dashboard(db, port=0).start()
    yield dashboard
    dashboard.stop()


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_routes_are_read_only_own_and_escaped(board: Dashboard) -> None:
    assert board.url.startswith("http://127.0.0.1:")
    status, headers, body = fetch(board.url)
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    assert EVIL not in body and "&lt;script&gt;" in body
    status, _, body = fetch(board.url + "api/experiments")
    rows = json.loads(body)
    assert status == 200 and rows[0]["name"] == EVIL and rows[0]["trials"] == 10
    quoted = urllib.request.quote(EVIL, safe="")
    status, _, page = fetch(f"{board.url}experiments/{quoted}")
    assert status == 200 and "<script>alert" not in page
    assert fetch(f"{board.url}experiments/{quoted}/body")[0] == 200
    assert fetch(board.url + "experiments/nope")[0] == 404
    assert fetch(board.url + "../../etc/passwd")[0] == 404
    assert fetch(board.url + "static/other.js")[0] == 404
    for method in ("POST", "PUT", "DELETE"):
        assert fetch(board.url, method)[0] == 405
    assert fetch(board.url, "HEAD")[0] == 200
    # nothing was written: the stored trials are the same ten
    assert len(get_storage(board.storage).get_trials(get_storage(board.storage).get_experiment(EVIL).id)) == 10


def test_a_taken_port_is_a_clear_error(board: Dashboard) -> None:
    with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1"):
        Dashboard(board.storage, port=board.port)


@pytest.mark.slow
def test_browser_sees_trials_appear_while_a_search_runs(tmp_path: Path) -> None:
    """Headless Chromium (Debian's, driven by Playwright) on the dashboard of a running digits search."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "the browser test needs Chromium: apt-get install chromium (scripts/setup.sh does)"
    db = tmp_path / "live.db"
    # beside the live search, an experiment whose name tries script injection
    Experiment(EVIL, ToySpace(), RandomSearch(), ToyEvaluator(), storage=str(db), objective="max:score").run(
        max_trials=5
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nasforge",
            "run",
            "digits",
            "--storage",
            str(db),
            "--max-trials",
            "40",
            "--no-export",
            "--quiet",
            "--set",
            "evaluator.epochs=1",
            "--set",
            "dataset.valid_size=0.2",
            "--trial-timeout",
            "60",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    board = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait for the experiment's first finished trial
            if db.exists():
                store = get_storage(str(db))
                row = store.get_experiment("digits-cnn")
                if row is not None and any(t.state.finished for t in store.get_trials(row.id)):
                    break
            time.sleep(0.5)
        board = Dashboard(str(db), port=0).start()
        shots = Path(os.environ.get("NASFORGE_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(board.url)
            page.wait_for_selector("#experiments a")
            page.click("text=digits-cnn")
            page.wait_for_selector("text=All trials")
            first = int(page.text_content("h2:has-text('All trials')").split("(")[1].rstrip(")"))
            # the page redraws itself as the running search stores trials: no reload here
            page.wait_for_function(
                "n => Number(document.evaluate(\"//h2[starts-with(., 'All trials')]\", document, null, 9, null)"
                ".singleNodeValue.textContent.match(/\\((\\d+)\\)/)[1]) > n",
                arg=first,
                timeout=120_000,
            )
            later = int(page.text_content("h2:has-text('All trials')").split("(")[1].rstrip(")"))
            page.screenshot(path=str(shots / "dashboard.png"), full_page=False)
            # the injected name is text on the list and on its own page, and runs nothing
            page.goto(board.url)
            page.wait_for_selector("#experiments a")
            page.wait_for_timeout(2500)  # one refresh of the list by the script
            assert EVIL in page.text_content("#experiments")
            page.click("#experiments a >> nth=0")
            page.wait_for_selector("h1")
            assert page.text_content("h1") == EVIL
            page.wait_for_timeout(500)
            browser.close()
        assert later > first and not dialogs and not errors
        assert (shots / "dashboard.png").stat().st_size > 10_000
    finally:
        if board is not None:
            board.stop()
        run.kill()
        run.wait()
