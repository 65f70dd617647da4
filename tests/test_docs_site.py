"""The documentation site builds with `mkdocs build --strict` (every page in the navigation, every link and
cross-reference resolved), and its generated reference pages are current."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nasforge.cli.reference import reference_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_line_reference_is_generated_from_the_parser() -> None:
    page = (ROOT / "docs" / "cli-reference.md").read_text()
    for command in ("run", "trials", "best", "export", "report", "dashboard", "bench"):
        assert f"## nasforge {command}\n" in page
    if sys.version_info[:2] == (3, 11):  # argparse's layout changes between versions; the project's is 3.11
        assert page == reference_markdown(), "regenerate: python -m nasforge.cli.reference > docs/cli-reference.md"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "experiment" / "index.html").is_file()
