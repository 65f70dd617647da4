"""Errors raised for user mistakes.

Every message says what must hold, what was given and what to do instead. The CLI turns any
`NasforgeError` into one line on stderr and exit status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NasforgeError(Exception):
    """Base class of every error nasforge raises for a user's mistake."""


class SpaceError(NasforgeError, ValueError):
    """A search space is ill-defined, or an operation on it was given the wrong thing."""


class ArchError(NasforgeError, ValueError):
    """An arch does not fit its space: unknown label, missing decision or value out of domain."""


class ConfigError(NasforgeError, ValueError):
    """A configuration file, CLI argument or constructor argument is invalid."""


class DataError(NasforgeError):
    """A dataset is missing or malformed."""


class StorageError(NasforgeError):
    """An experiment cannot be created, found or resumed in the storage."""


class ExecutorError(NasforgeError):
    """Trials cannot run where they were sent: e.g. a pool's worker processes die as they start."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup failed; the message suggests the closest valid names."""

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0]) if self.args else ""


def suggest(name: str, valid: Iterable[str]) -> str:
    """Return ` Did you mean 'x'?` for the closest names, or an empty string."""
    close = difflib.get_close_matches(name, list(valid), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> UnknownNameError:
    valid = sorted(valid)
    return UnknownNameError(
        f"Unknown {kind} {name!r}.{suggest(name, valid)} Valid {kind} names are: {', '.join(valid)}."
    )
