"""`Arch`: one point of a space, an immutable JSON-serialisable mapping label -> value with a stable id."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from nasforge.errors import ArchError

Value = Any  # None, bool, int, float, str, or a tuple of these (InputChoice picks)


def normalize_value(value: Any, where: str = "value") -> Value:
    """Return `value` in canonical form (lists become tuples) or raise if it cannot round-trip JSON."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ArchError(f"{where} must be a finite number, but got {value!r}.")
        return value
    if isinstance(value, (list, tuple)):
        return tuple(normalize_value(v, where) for v in value)
    # numpy scalars and the like
    item = getattr(value, "item", None)
    if callable(item):
        return normalize_value(item(), where)
    raise ArchError(
        f"{where} must be None, bool, int, float, str or a list of these (so it round-trips through JSON), "
        f"but got {type(value).__name__} {value!r}."
    )


def _to_json_value(value: Value) -> Any:
    if isinstance(value, tuple):
        return [_to_json_value(v) for v in value]
    return value


class Arch(Mapping[str, Value]):
    """An immutable assignment of values to a space's decisions.

    >>> a = Arch({"depth": 2, "op": "conv"})
    >>> Arch.from_json(a.to_json()) == a
    True
    >>> a.id == Arch({"op": "conv", "depth": 2}).id
    True
    """

    __slots__ = ("_data", "_id")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise ArchError(f"An arch must be a mapping of label -> value, but got {type(data).__name__}.")
        items = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise ArchError(f"Arch labels must be strings, but got {key!r}.")
            items[key] = normalize_value(value, f"The value of {key!r}")
        self._data: dict[str, Value] = dict(sorted(items.items()))
        self._id: str | None = None

    def __getitem__(self, label: str) -> Value:
        return self._data[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Arch):
            return self.to_json() == other.to_json()
        if isinstance(other, Mapping):
            try:
                return self == Arch(other)
            except ArchError:
                return False
        return NotImplemented

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._data.items())
        return f"Arch({body})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Arch, (self.to_dict(),))

    @property
    def id(self) -> str:
        """A 16-hex-digit digest of the canonical JSON: equal archs share it, in any process."""
        if self._id is None:
            self._id = hashlib.sha256(self.to_json().encode()).hexdigest()[:16]
        return self._id

    def to_dict(self) -> dict[str, Any]:
        """A plain dict ready for `json.dumps` (tuples become lists)."""
        return {k: _to_json_value(v) for k, v in self._data.items()}

    def to_json(self, indent: int | None = None) -> str:
        if indent is None:
            return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Arch:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArchError(f"Arch JSON is not valid JSON ({exc}); expected an object of label -> value.") from exc
        if not isinstance(data, dict):
            raise ArchError(f"Arch JSON must be an object of label -> value, but got {type(data).__name__}.")
        return cls(data)

    def replace(self, updates: Mapping[str, Any]) -> Arch:
        """A new arch with some values changed (not validated against a space)."""
        return Arch({**self._data, **updates})

    def without(self, labels: set[str]) -> Arch:
        return Arch({k: v for k, v in self._data.items() if k not in labels})
