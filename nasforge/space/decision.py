"""`Decision`: one labelled choice of a space, with its domain and the conditions under which it exists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nasforge.errors import ArchError, SpaceError
from nasforge.space.arch import Value, normalize_value

#: What a decision chooses: a plain value, a training hyperparameter, a layer, inputs, or a depth.
KINDS = ("choice", "hparam", "layer", "input", "repeat")


@dataclass(frozen=True)
class Condition:
    """Holds when the decision `label` took one of `values`."""

    label: str
    values: frozenset[Value]

    def holds(self, assignment: Mapping[str, Value]) -> bool:
        return self.label in assignment and assignment[self.label] in self.values


@dataclass(frozen=True)
class Decision:
    """A labelled choice among `values`.

    `when` is a disjunction of conjunctions of `Condition`s: the decision exists (is *active*) in an arch
    when all conditions of at least one conjunction hold. `((),)` means always.
    """

    label: str
    values: tuple[Value, ...]
    kind: str = "choice"
    when: tuple[tuple[Condition, ...], ...] = ((),)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpaceError(f"Decision kind must be one of {KINDS}, but got {self.kind!r}.")

    @property
    def default(self) -> Value:
        return self.values[0]

    @property
    def conditional(self) -> bool:
        return () not in self.when

    @property
    def parents(self) -> frozenset[str]:
        return frozenset(c.label for conj in self.when for c in conj)

    def is_active(self, assignment: Mapping[str, Value]) -> bool:
        return any(all(c.holds(assignment) for c in conj) for conj in self.when)

    def index(self, value: Any) -> int:
        """Position of `value` in the domain; numbers compare by value (1 == 1.0), never bool as int."""
        try:
            value = normalize_value(value, f"The value of {self.label!r}")
        except ArchError:
            raise
        for i, v in enumerate(self.values):
            if type(v) is type(value) and v == value:
                return i
        for i, v in enumerate(self.values):
            if _numeric(v) and _numeric(value) and v == value:
                return i
        raise ArchError(
            f"Decision {self.label!r} must be one of {list(self.values)!r}, but got {value!r}. "
            f"Pick a value from the domain (see `space.decisions`)."
        )

    def merged(self, other: Decision) -> Decision:
        """The same label registered again (shared decision): it exists when either registration does."""
        if self.conditional and other.conditional:
            when = tuple(dict.fromkeys(self.when + other.when))
        else:
            when = ((),)
        return Decision(self.label, self.values, self.kind, when)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (for configs, reports and `nasforge space`)."""
        return {
            "label": self.label,
            "kind": self.kind,
            "values": [list(v) if isinstance(v, tuple) else v for v in self.values],
            "when": [[{"label": c.label, "in": sorted(c.values, key=repr)} for c in conj] for conj in self.when],
        }


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def make_domain(label: str, values: Sequence[Any]) -> tuple[Value, ...]:
    """Validate and normalise a domain: a non-empty sequence of distinct JSON-able values."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise SpaceError(
            f"The values of {label!r} must be a list or tuple, but got {type(values).__name__} {values!r}."
        )
    if len(values) == 0:
        raise SpaceError(f"The values of {label!r} must not be empty.")
    try:
        domain = tuple(normalize_value(v, f"A value of {label!r}") for v in values)
    except ArchError as exc:
        raise SpaceError(str(exc)) from None
    seen: list[Value] = []
    for v in domain:
        if any(type(s) is type(v) and s == v for s in seen):
            raise SpaceError(f"The values of {label!r} must be distinct, but {v!r} appears twice in {values!r}.")
        seen.append(v)
    return domain
