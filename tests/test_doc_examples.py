"""Every Python example in README.md and docs/*.md runs as a script, exactly as printed.

Each ```python block is written to a file and run with a fresh interpreter in an empty folder (so a pool's
worker processes re-run it from the top, as they would for a user: a missing `__main__` guard fails here).
A comment on the line before a block may mark it: `<!-- example: slow -->` (it runs for more than a few
seconds: the slow tests run it), `<!-- example: readme -->` (a page repeats the README's first example: it
must stay identical to it, which runs there) or `<!-- example: skip REASON -->` (a fragment that cannot run
alone, and REASON says why: it is not collected).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!--\s*example:\s*(?P<mark>[^>]*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def examples(kind: str = "run") -> list[Any]:
    """The blocks to run (`kind="run"`), or those that repeat the README's first example (`"readme"`)."""
    params = []
    for file in FILES:
        text = file.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code"))
            mark = (match.group("mark") or "").strip()
            marks: list[pytest.MarkDecorator] = []
            if mark == "slow":
                marks.append(pytest.mark.slow)
            elif mark.startswith("skip"):
                reason = mark.removeprefix("skip").strip()
                assert reason, f"{file.name}:{line}: an example skipped must say why: <!-- example: skip REASON -->"
                continue
            elif mark and mark != "readme":
                raise AssertionError(f"{file.name}:{line}: unknown example mark {mark!r} (slow, readme, skip REASON)")
            if (mark == "readme") == (kind == "readme"):
                params.append(pytest.param(match.group("code"), id=f"{file.relative_to(ROOT)}:{line}", marks=marks))
    return params


def test_the_docs_have_examples() -> None:
    assert len(examples()) >= 4


@pytest.mark.parametrize("code", examples())
def test_example_runs_as_a_script(code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"the example failed:\n{done.stderr[-3000:]}"


@pytest.mark.parametrize("code", examples("readme"))
def test_a_repeated_readme_example_is_the_readmes(code: str) -> None:
    first = BLOCK.search((ROOT / "README.md").read_text())
    assert first is not None and code == first.group("code"), "copy the README's first example here again"


@pytest.mark.parametrize("page", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_code_fence_on_a_page_is_closed(page: Path) -> None:
    """An opened ``` with no closing one turns the rest of the page into code (the README lost its second
    half that way once, and a merge cut the closing fence and a paragraph out of getting-started.md)."""
    fences = [i + 1 for i, line in enumerate(page.read_text().splitlines()) if line.lstrip().startswith("```")]
    assert len(fences) % 2 == 0, f"{page.name}: the code fence opened on line {fences[-1]} is never closed"
