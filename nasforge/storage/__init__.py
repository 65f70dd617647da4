"""Persistent storage of experiments and trials."""

from __future__ import annotations

from nasforge.registry import Registry
from nasforge.storage.base import BaseStorage, ExperimentRow, Turn
from nasforge.storage.memory import InMemoryStorage
from nasforge.storage.sql import SQLStorage, normalize_url

#: what a storage URL's scheme (the part before `://` and any `+driver`) opens; a plain path is a SQLite file
STORAGES: Registry[BaseStorage] = Registry("storage scheme")
STORAGES.add("memory", lambda url: InMemoryStorage(), "':memory:': in this process only, for simulations and tests.")
STORAGES.add("sqlite", SQLStorage, "A SQLite file (a plain path names one), in WAL mode: the default.")
STORAGES.add("postgresql", SQLStorage, "PostgreSQL through psycopg 3 (nasforge[postgres]), for clusters.")
STORAGES.add("postgres", SQLStorage, "PostgreSQL, as `postgresql`.")
for _dialect in ("mysql", "mariadb", "mssql", "oracle"):  # SQLAlchemy's other built-in dialects
    STORAGES.add(_dialect, SQLStorage, "Another SQLAlchemy database (its driver installed; untested by nasforge).")


def storage_scheme(url: str) -> str:
    """The `STORAGES` name of a storage URL: `memory`, the URL's dialect, or `sqlite` for a file path."""
    if url == ":memory:":
        return "memory"
    if "://" in url:
        return url.split("://", 1)[0].split("+", 1)[0]
    return "sqlite"


def get_storage(storage: str | BaseStorage) -> BaseStorage:
    """A storage from a URL, a SQLite file path or ":memory:" (storage objects pass through)."""
    if isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, str) or not storage:
        return SQLStorage(storage)  # its own error says what a storage must be
    return STORAGES.get(storage_scheme(storage))(storage)


__all__ = [
    "STORAGES",
    "BaseStorage",
    "ExperimentRow",
    "InMemoryStorage",
    "SQLStorage",
    "Turn",
    "get_storage",
    "normalize_url",
    "storage_scheme",
]
