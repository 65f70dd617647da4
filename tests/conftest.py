"""Point the data loaders at the shared data folder beside the repository (`../shared/data`), if present,
and share the NAS-Bench-201 table between test modules."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nasforge.tables import NB201Table

_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("NASFORGE_DATA", str(_SHARED_DATA))
# Generated data (spoken digits) goes to a throwaway cache, never to the user's ~/.cache.
_CACHE = tempfile.TemporaryDirectory(prefix="nasforge-test-cache-")
os.environ["NASFORGE_CACHE"] = _CACHE.name


@pytest.fixture(scope="session")
def table() -> NB201Table:
    """The NAS-Bench-201 table from ../shared/data (CI lays shared/ beside the clone): missing data fails."""
    return NB201Table.load()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for the whole session (see tests/postgres.py); its base URL."""
    from tests.postgres import local_server

    with local_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty PostgreSQL database for one test."""
    from tests.postgres import fresh_database

    return fresh_database(postgres_server)
