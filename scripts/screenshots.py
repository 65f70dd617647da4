"""Screenshots of an experiment's HTML report and of its dashboard page, for the README (docs/ux/).

    .venv/bin/python scripts/screenshots.py fashion-mnist-cnn --storage nasforge.db --out docs/ux

Needs Playwright and Chromium (`bash scripts/setup.sh` installs both).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from nasforge.report import write_report
from nasforge.report.dashboard import Dashboard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--storage", default="nasforge.db")
    parser.add_argument("--out", default="docs/ux")
    parser.add_argument("--height", type=int, default=1900, help="pixels of the report page to keep")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        report = write_report(args.name, args.storage, Path(tmp) / "report.html")
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": args.height})
        page.goto(report.as_uri())
        page.screenshot(path=str(out / "report.png"))
        board = Dashboard(args.storage, port=0).start()
        try:
            page.set_viewport_size({"width": 1100, "height": 800})
            page.goto(board.url)
            page.wait_for_selector("#experiments a")
            page.click(f"#experiments a >> text={args.name}")  # the experiment's live page
            page.wait_for_selector("text=All trials")
            page.screenshot(path=str(out / "dashboard.png"))
        finally:
            board.stop()
            browser.close()
    print(f"wrote {out / 'report.png'} and {out / 'dashboard.png'}")


if __name__ == "__main__":
    main()
