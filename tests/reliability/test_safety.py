"""Nothing untrusted is unpickled: every torch.load in the package is weights-only, pickle reads only the
pool's own payload, YAML is read safely, and a weights file carrying code is refused, not run."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
import torch

from nasforge.errors import NasforgeError
from nasforge.estimation.inheritance import load_weights
from nasforge.export import export_model, load_model
from nasforge.zoo import SmallImageCNN

PACKAGE = Path(__file__).resolve().parents[2] / "nasforge"
#: the places pickle.loads is allowed: a child process reads the evaluator and space its own parent sent (the
#: pool's workers, and the processes that retrain an ensemble's members at once); never a file or the network
PICKLE_ALLOWED = {"executors/pool.py", "experiment/parallel_members.py"}


def calls(name: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == name:
                found.append((str(path.relative_to(PACKAGE)), node))
    return found


def test_every_torch_load_is_weights_only() -> None:
    loads = calls("torch.load")
    assert loads  # the scan sees them
    for where, call in loads:
        flags = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert flags.get("weights_only") == "True", f"{where}:{call.lineno} torch.load without weights_only=True"


def test_pickle_reads_only_the_pools_own_payload() -> None:
    for name in ("pickle.loads", "pickle.load", "marshal.loads", "dill.loads", "cloudpickle.loads"):
        for where, call in calls(name):
            assert where in PICKLE_ALLOWED, f"{where}:{call.lineno} calls {name}"


def test_yaml_is_read_with_a_safe_loader() -> None:
    for where, call in calls("yaml.load"):
        loader = {k.arg: ast.unparse(k.value) for k in call.keywords}.get("Loader")
        assert loader == "_Loader", f"{where}:{call.lineno} yaml.load with Loader={loader}"
    assert issubclass(__import__("nasforge.config", fromlist=["_Loader"])._Loader, __import__("yaml").SafeLoader)


class _Payload:
    """What an attacker would put in a weights file: unpickling it runs a command."""

    def __reduce__(self) -> tuple:
        return (os.system, ("touch pwned",))


def test_a_weights_file_that_carries_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    space = SmallImageCNN(input_shape=(1, 8, 8))
    arch = space.default_arch()
    folder = export_model(space.freeze(arch), space, arch, tmp_path / "model", formats="pt")
    torch.save({"stem.0.weight": _Payload()}, folder / "weights.pt")
    with pytest.raises(NasforgeError, match="not a plain state dict"):
        load_model(folder)
    assert load_weights(folder / "weights.pt") is None  # a parent's weights that carry code: train from scratch
    assert not (tmp_path / "pwned").exists()
