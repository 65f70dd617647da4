"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary folder, listening on
127.0.0.1 only, stopped at the end. `NASFORGE_TEST_POSTGRES` (a URL) uses an existing server instead.

`scripts/test.sh` installs Debian's `postgresql` package (`scripts/setup_postgres.sh`), so the storage suite
always runs against PostgreSQL too; a missing server is an error, not a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    if path is None:
        pytest.fail(
            f"PostgreSQL's {name} was not found: run `bash scripts/setup_postgres.sh` (Debian's postgresql package) "
            "or set NASFORGE_TEST_POSTGRES to a server URL.",
            pytrace=False,
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_server() -> Iterator[str]:
    """Start a cluster on loopback and yield its base URL (no database name)."""
    env_url = os.environ.get("NASFORGE_TEST_POSTGRES")
    if env_url:
        yield env_url.rsplit("/", 1)[0]
        return
    root = tempfile.mkdtemp(prefix="nasforge-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres account
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(root, "data"), _free_port()
    run = {"check": True, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    subprocess.run([*as_user, _bin("initdb"), "-D", data, "-A", "trust", "-U", "nasforge", "--no-sync"], **run)  # type: ignore[call-overload]
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=60"
    log = os.path.join(root, "log")
    subprocess.run([*as_user, _bin("pg_ctl"), "-D", data, "-l", log, "-o", options, "-w", "start"], **run)  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://nasforge@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, _bin("pg_ctl"), "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(base_url: str) -> str:
    """Create an empty database on the server and return its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    dsn = base_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base_url}/{name}"
