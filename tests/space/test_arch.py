from __future__ import annotations

import json

import numpy as np
import pytest

from nasforge.errors import ArchError
from nasforge.space import Arch


def test_json_round_trip_and_stable_id() -> None:
    a = Arch({"b": (0, 2), "a": 0.001, "c": "conv", "d": True, "e": None})
    b = Arch.from_json(a.to_json())
    assert b == a
    assert b.id == a.id
    assert isinstance(b["b"], tuple)
    assert json.loads(a.to_json()) == {"a": 0.001, "b": [0, 2], "c": "conv", "d": True, "e": None}
    # insertion order does not matter; the id is a digest, not Python's salted hash
    assert Arch({"e": None, "d": True, "c": "conv", "b": [0, 2], "a": 0.001}).id == a.id
    assert len(a.id) == 16 and int(a.id, 16) >= 0


def test_id_is_the_same_in_every_process() -> None:
    import subprocess
    import sys

    code = "from nasforge.space import Arch; print(Arch({'x': 1, 'y': 'conv'}).id)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == Arch({"x": 1, "y": "conv"}).id


def test_immutable() -> None:
    a = Arch({"x": 1})
    with pytest.raises(TypeError):
        a["x"] = 2  # type: ignore[index]
    assert a.replace({"x": 2})["x"] == 2 and a["x"] == 1


def test_numpy_values_are_normalised() -> None:
    a = Arch({"x": np.int64(3), "y": np.float32(0.5)})
    assert type(a["x"]) is int and a["x"] == 3


@pytest.mark.parametrize("bad", [{"x": object()}, {"x": float("nan")}, {1: 2}, [("x", 1)]])
def test_bad_values_are_rejected(bad: object) -> None:
    with pytest.raises(ArchError):
        Arch(bad)  # type: ignore[arg-type]


def test_from_json_errors() -> None:
    with pytest.raises(ArchError, match="not valid JSON"):
        Arch.from_json("{x: 1")
    with pytest.raises(ArchError, match="must be an object"):
        Arch.from_json("[1, 2]")


def test_bool_and_int_are_different_archs() -> None:
    assert Arch({"x": True}) != Arch({"x": 1})
    assert Arch({"x": True}).id != Arch({"x": 1}).id
