"""The NATS-Bench converter, against a stand-in API that answers from the table itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasforge.errors import DataError
from nasforge.tables import NB201Table
from nasforge.tables.convert import _ACCURACIES, _PARAMS, convert


class FakeNATS:
    """Answers NATS-Bench's query methods from a table (the real package is not installed here)."""

    def __init__(self, table: NB201Table, n: int | None = None) -> None:
        self.table = table
        self.n = len(table) if n is None else n
        self.calls = 0

    def __len__(self) -> int:
        return self.n

    def arch(self, i: int) -> str:
        return self.table.arch_strs[i]

    def get_more_info(self, i: int, dataset: str, hp: str, is_random: bool) -> dict[str, Any]:
        assert hp in ("12", "200") and is_random is False
        self.calls += 1
        return {key: float(self.table.column(col)[i]) for col, ds, h, key in _ACCURACIES if ds == dataset and h == hp}

    def get_cost_info(self, i: int, dataset: str) -> dict[str, float]:
        [col] = [c for c, ds in _PARAMS if ds == dataset]
        return {"params": float(self.table.column(col)[i]), "flops": 0.0, "latency": 0.0}


def test_round_trip_through_the_official_api_shape(tmp_path: Path) -> None:
    table = NB201Table.load()
    api = FakeNATS(table)
    out = convert(api, tmp_path / "nb201.csv.gz")
    back = NB201Table.load(out)
    assert back.arch_strs == table.arch_strs
    for column, *_ in _ACCURACIES:
        np.testing.assert_allclose(back.column(column), table.column(column), rtol=1e-6, equal_nan=True)
    for column, _ in _PARAMS:
        np.testing.assert_allclose(back.column(column), table.column(column), rtol=1e-6)
    assert np.isnan(back.column("n_seeds_200")).all()
    assert api.calls == 8 * len(table)  # one query per (dataset, fidelity) and cell, not per column


def test_refuses_an_api_of_another_space(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="15,625 cells"):
        convert(FakeNATS(NB201Table.load(), n=100), tmp_path / "x.csv.gz")
