"""Persistent storage of experiments and trials."""

from nasforge.storage.base import BaseStorage, ExperimentRow
from nasforge.storage.memory import InMemoryStorage
from nasforge.storage.sql import SQLStorage, normalize_url


def get_storage(storage: "str | BaseStorage") -> BaseStorage:
    """A storage from a URL, a SQLite file path or ":memory:" (storage objects pass through)."""
    if isinstance(storage, BaseStorage):
        return storage
    if storage == ":memory:":
        return InMemoryStorage()
    return SQLStorage(storage)


__all__ = ["BaseStorage", "ExperimentRow", "InMemoryStorage", "SQLStorage", "get_storage", "normalize_url"]
