"""Persistent storage of experiments and trials."""

from nasforge.storage.base import BaseStorage, ExperimentRow
from nasforge.storage.sql import SQLStorage, normalize_url


def get_storage(storage: "str | BaseStorage") -> BaseStorage:
    """A storage object from a URL or SQLite file path (objects pass through)."""
    if isinstance(storage, BaseStorage):
        return storage
    return SQLStorage(storage)


__all__ = ["BaseStorage", "ExperimentRow", "SQLStorage", "get_storage", "normalize_url"]
