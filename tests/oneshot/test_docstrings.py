from __future__ import annotations

import doctest
import importlib

import pytest
import torch


@pytest.mark.parametrize("module", ["nasforge.oneshot.supernet", "nasforge.oneshot.darts", "nasforge.oneshot.strategy"])
def test_docstring_examples_run(module: str) -> None:
    torch.set_num_threads(1)
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
