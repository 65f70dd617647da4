"""What plain `choice` values become while a weight-entangled supernet is built (Once-for-All, BigNAS).

The supernet is the space built once with the widest value of every numeric choice; every subnet then runs
on slices of its weights. A width or kernel `choice` returns a `Widest` int there: an ordinary int (the
largest value of the domain), which remembers its decision and compares as "equal for every arch", so a
test such as `c_in == c_out` (a residual's projection) builds the part that some arch needs. A True/False
`choice` returns a `Switch`, which cannot steer a Python `if` (the supernet would then hold one branch
only); a module that is present or bypassed by a flag is written with `optional`, which keeps the frozen
network exactly as an `if` would build it.

>>> w = Widest(32, "width", (16, 24, 32))
>>> w + 0, w == 32, w == Widest(32, "other", (16, 32))
(32, False, False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from nasforge.errors import SpaceError
from nasforge.space.arch import Value

__all__ = ["CHUNKS_ATTR", "OPTIONAL_ATTR", "Switch", "Widest", "optional", "stacked"]

#: attribute of a module built by `optional` around a `Switch`: (label, name of the bypassed inner module,
#: whether the wrapper adds its input to the inner module's output, as a residual does)
OPTIONAL_ATTR = "_nas_optional"
#: attribute of a layer marked by `stacked`: how many equal parts its output dimension stacks
CHUNKS_ATTR = "_nas_chunks"


class Widest(int):
    """The largest value of an int `choice`, as a weight-entangled supernet is built with it.

    Arithmetic gives plain ints. `==` holds only when the two sides are equal for every arch (the same
    decision, or a one-value domain), and `!=` whenever some arch makes them differ, so that structure
    built on a comparison is the union of what every arch needs.
    """

    label: str
    values: tuple[Value, ...]

    def __new__(cls, value: int, label: str, values: tuple[Value, ...]) -> Widest:
        self = int.__new__(cls, value)
        self.label = label
        self.values = values
        return self

    __hash__ = int.__hash__

    def _always_equal(self, other: object) -> bool:
        if isinstance(other, Widest):
            same = other.label == self.label
            return same or (len(set(self.values)) == 1 and set(self.values) == set(other.values))
        if isinstance(other, int) and not isinstance(other, bool):
            return set(self.values) == {other}
        return False

    def __eq__(self, other: object) -> bool:
        return self._always_equal(other)

    def __ne__(self, other: object) -> bool:
        return not self._always_equal(other)

    def __repr__(self) -> str:
        return f"Widest({int(self)}, {self.label!r})"

    def __reduce__(self) -> Any:  # deep copies and pickles keep the plain value
        return (int, (int(self),))


class Switch:
    """A True/False `choice` while a supernet is built: usable through `optional`, not in a Python `if`."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __bool__(self) -> bool:
        raise SpaceError(
            f"choice {self.label!r} (True/False) steers a Python `if` in the space, which a weight-entangled "
            "supernet cannot follow (it would hold one branch only). Build the optional part with "
            "nasforge.space.optional(flag, make, inner, attr) (as nasforge.ops.residual_if does), or pin the "
            f"decision with fixed={{{self.label!r}: value}}."
        )

    def __repr__(self) -> str:
        return f"Switch({self.label!r})"


def optional(
    flag: bool | Switch, make: Callable[[], nn.Module], inner: nn.Module, attr: str, shortcut: bool = False
) -> nn.Module:
    """`make()` when `flag` holds, else `inner`: a wrapper (built by `make`, holding `inner` as its
    attribute `attr`) that an arch may leave out, written so a weight-entangled supernet can share it.

    Frozen, this is exactly `make() if flag else inner`; in a supernet (`flag` a `Switch`) the wrapper is
    always built and marked, and an arch whose flag is False runs its `attr` alone. `shortcut=True` says
    the wrapper adds its input to `inner`'s output (a residual): a supernet may then keep a fading identity
    path around `inner` while it trains (`OFA(shortcut_epochs=...)`); the subnets themselves are unchanged.
    """
    if isinstance(flag, Switch):
        wrapper = make()
        if getattr(wrapper, attr, None) is not inner:
            raise SpaceError(
                f"optional({flag.label!r}): the wrapper built by `make` must hold `inner` as its attribute {attr!r}."
            )
        object.__setattr__(wrapper, OPTIONAL_ATTR, (flag.label, attr, shortcut))
        return wrapper
    return make() if flag else inner


def stacked(layer: nn.Module, parts: int) -> nn.Module:
    """Mark `layer` (e.g. an attention's query-key-value `nn.Linear(d, 3 * d)`) as stacking `parts` equal
    parts along its output dimension, so a narrower subnet takes the leading rows of each part rather than
    the leading rows of the whole. Returns `layer` itself; a frozen network is unchanged."""
    object.__setattr__(layer, CHUNKS_ATTR, parts)
    return layer
