"""Share the NAS-Bench-201 table between test modules and keep generated data out of ~/.cache.

The data the tests read ships with the package (nasforge/bundled_data); nothing beside the clone is needed."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator

import pytest

from nasforge.tables import NB201Table

# Generated data (spoken digits) goes to a throwaway cache, never to the user's ~/.cache.
_CACHE = tempfile.TemporaryDirectory(prefix="nasforge-test-cache-")
os.environ["NASFORGE_CACHE"] = _CACHE.name


@pytest.fixture(scope="session")
def table() -> NB201Table:
    """The NAS-Bench-201 table as `NB201Table.load()` finds it (the bundled copy unless overridden)."""
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


@pytest.fixture(autouse=True)
def _no_federation_outlives_its_test() -> Iterator[None]:
    """A kept Flower simulation (its Ray runtime, client processes and server thread) is closed when the test
    that started it ends, so none lingers into the tests after it, which expect no Ray in this process."""
    yield
    simulation = sys.modules.get("nasforge.federated.simulation")
    if simulation is not None:
        simulation.close_kept()
