"""Point the data loaders at the shared data folder beside the repository (`../shared/data`), if present,
and share the NAS-Bench-201 table between test modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nasforge.tables import NB201Table

_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("NASFORGE_DATA", str(_SHARED_DATA))


@pytest.fixture(scope="session")
def table() -> NB201Table:
    """The NAS-Bench-201 table from ../shared/data (CI lays shared/ beside the clone): missing data fails."""
    return NB201Table.load()
