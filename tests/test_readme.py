"""The README's Python example stays true: its space part runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_space_example_runs() -> None:
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    code = block.group(1).split('\nif __name__ == "__main__":')[0]  # the search itself is the main job's business
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    space, net = namespace["space"], namespace["net"]
    assert space.size() == 351
    assert "351 archs" in block.group(1)
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
