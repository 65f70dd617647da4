"""Construction modes: what the choice primitives return while a `ModelSpace` constructor runs.

- `DiscoverMode` records every decision (label, domain, conditions) and builds all candidates;
- `FreezeMode` returns the chosen value or module of one arch, so the result is a plain network;
- a supernet mode (one-shot strategies) subclasses `BaseMode` and overrides the hooks it can express;
  the defaults raise a clear error naming the label and the mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from torch import nn

from nasforge.errors import ArchError, SpaceError
from nasforge.space.arch import Value
from nasforge.space.decision import Condition, Decision

if TYPE_CHECKING:
    from nasforge.space.primitives import Candidate

_MODE: ContextVar[BaseMode | None] = ContextVar("nasforge_mode", default=None)
_SCOPE: ContextVar[tuple[str, ...]] = ContextVar("nasforge_scope", default=())


def current_mode() -> BaseMode | None:
    return _MODE.get()


@contextlib.contextmanager
def use_mode(mode: BaseMode) -> Iterator[BaseMode]:
    token = _MODE.set(mode)
    scope_token = _SCOPE.set(())
    try:
        yield mode
    finally:
        _SCOPE.reset(scope_token)
        _MODE.reset(token)


@contextlib.contextmanager
def label_scope(name: str) -> Iterator[None]:
    """Prefix the labels created inside with `name/`, e.g. to reuse one block definition per stage."""
    check_label(name)
    token = _SCOPE.set((*_SCOPE.get(), name))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def check_label(label: object) -> str:
    if not isinstance(label, str) or not label or label.strip() != label:
        raise SpaceError(f"A label must be a non-empty string without surrounding spaces, but got {label!r}.")
    return label


def full_label(label: str) -> str:
    return "/".join((*_SCOPE.get(), check_label(label)))


def build_candidate(candidate: Candidate) -> nn.Module:
    """A candidate is a module, or a zero-argument factory (built only when needed)."""
    module = candidate if isinstance(candidate, nn.Module) else candidate()
    if not isinstance(module, nn.Module):
        raise SpaceError(f"A LayerChoice candidate factory must return an nn.Module, but returned {module!r}.")
    return module


class BaseMode:
    """Decides what each primitive returns. `name` appears in error messages."""

    name = "base"

    def _unsupported(self, what: str, label: str) -> SpaceError:
        return SpaceError(f"{what} {label!r} cannot be expressed in {self.name} mode.")

    def choice(self, label: str, values: tuple[Value, ...], kind: str) -> Any:
        raise self._unsupported("choice", label)

    def layer_choice(self, label: str, candidates: dict[Value, Candidate]) -> nn.Module:
        raise self._unsupported("LayerChoice", label)

    def input_choice(self, label: str, n_candidates: int, n_chosen: int, reduction: str) -> nn.Module:
        raise self._unsupported("InputChoice", label)

    def repeat(self, label: str, factory: Callable[[int], nn.Module], depths: tuple[int, ...]) -> nn.Module:
        raise self._unsupported("Repeat", label)


class DiscoverMode(BaseMode):
    """Records decisions; builds every candidate and the deepest repeat so nested decisions are seen.

    The discovered network runs as the space's default arch (the first value of every decision).
    """

    name = "discover"

    def __init__(self) -> None:
        self.decisions: dict[str, Decision] = {}
        self._conditions: list[Condition] = []

    def register(self, label: str, values: tuple[Value, ...], kind: str) -> str:
        full = full_label(label)
        new = Decision(full, values, kind, (tuple(self._conditions),))
        old = self.decisions.get(full)
        if old is None:
            self.decisions[full] = new
        elif old.values != values or old.kind != kind:
            raise SpaceError(
                f"Label {full!r} is used twice with different domains ({old.kind} {list(old.values)!r} and "
                f"{kind} {list(values)!r}). Give each decision its own label, or the same domain to share it."
            )
        else:
            self.decisions[full] = old.merged(new)
        return full

    @contextlib.contextmanager
    def _under(self, label: str, values: Sequence[Value]) -> Iterator[None]:
        self._conditions.append(Condition(label, frozenset(values)))
        try:
            yield
        finally:
            self._conditions.pop()

    def choice(self, label: str, values: tuple[Value, ...], kind: str) -> Any:
        self.register(label, values, kind)
        return values[0]

    def layer_choice(self, label: str, candidates: dict[Value, Candidate]) -> nn.Module:
        from nasforge.space.primitives import LayerChoice

        full = self.register(label, tuple(candidates), "layer")
        built: dict[Value, nn.Module] = {}
        for key, candidate in candidates.items():
            with self._under(full, [key]):
                built[key] = build_candidate(candidate)
        return LayerChoice._create(full, built)

    def input_choice(self, label: str, n_candidates: int, n_chosen: int, reduction: str) -> nn.Module:
        from nasforge.space.primitives import InputChoice, input_domain

        full = self.register(label, input_domain(n_candidates, n_chosen), "input")
        return InputChoice._create(full, n_candidates, n_chosen, reduction)

    def repeat(self, label: str, factory: Callable[[int], nn.Module], depths: tuple[int, ...]) -> nn.Module:
        from nasforge.space.primitives import Repeat

        full = self.register(label, depths, "repeat")
        blocks = []
        with label_scope(label):
            for i in range(max(depths)):
                needs = [d for d in depths if d > i]
                ctx = self._under(full, needs) if len(needs) < len(depths) else contextlib.nullcontext()
                with ctx, label_scope(str(i)):
                    blocks.append(build_candidate(lambda i=i: factory(i)))  # type: ignore[misc]
        return Repeat._create(full, blocks, depths)


class FreezeMode(BaseMode):
    """Returns the chosen value or module of one (validated) arch; unchosen candidates are never built."""

    name = "freeze"

    def __init__(self, arch: Mapping[str, Value]) -> None:
        self.arch = arch
        self.used: set[str] = set()

    def _value(self, label: str) -> tuple[str, Value]:
        full = full_label(label)
        if full not in self.arch:
            raise ArchError(
                f"Decision {full!r} is needed to build this network but the arch has no value for it. It was not "
                "found when the space was discovered: Python `if` on a choice value hides decisions; express "
                "structure with LayerChoice or Repeat instead."
            )
        self.used.add(full)
        return full, self.arch[full]

    def choice(self, label: str, values: tuple[Value, ...], kind: str) -> Any:
        full, value = self._value(label)
        if not any(type(v) is type(value) and v == value for v in values):
            raise SpaceError(
                f"Decision {full!r} has value {value!r}, but its domain here is {list(values)!r}, not the domain "
                "seen when the space was discovered: a domain must not depend on other choices' values."
            )
        return value

    def layer_choice(self, label: str, candidates: dict[Value, Candidate]) -> nn.Module:
        _, key = self._value(label)
        return build_candidate(candidates[key])

    def input_choice(self, label: str, n_candidates: int, n_chosen: int, reduction: str) -> nn.Module:
        from nasforge.space.primitives import ChosenInputs

        _, picked = self._value(label)
        return ChosenInputs(tuple(picked), reduction)

    def repeat(self, label: str, factory: Callable[[int], nn.Module], depths: tuple[int, ...]) -> nn.Module:
        _, depth = self._value(label)
        blocks = []
        with label_scope(label):
            for i in range(depth):
                with label_scope(str(i)):
                    blocks.append(build_candidate(lambda i=i: factory(i)))  # type: ignore[misc]
        return nn.Sequential(*blocks)
