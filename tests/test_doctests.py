"""The `>>>` examples in nasforge's docstrings run as written (those that need data, a network or a long run
carry `# doctest: +SKIP`)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest
import torch

PACKAGE = Path(__file__).resolve().parents[1] / "nasforge"


def modules_with_examples() -> list[str]:
    """Every nasforge module whose source has a `>>>` example, found without importing it."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" in path.read_text():
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples_run(name: str) -> None:
    torch.set_num_threads(1)  # examples that train stay quick and deterministic
    module = importlib.import_module(name)  # the dev extras (ray, onnx, ...) are installed where tests run
    result = doctest.testmod(module, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"


def test_the_examples_are_found() -> None:
    names = modules_with_examples()
    assert "nasforge.experiment.budget" in names and "nasforge.space.model_space" in names
