"""`ModelSpace`: a search space written as an ordinary PyTorch module."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from torch import nn

from nasforge.errors import SpaceError
from nasforge.space import algebra
from nasforge.space.arch import Arch
from nasforge.space.decision import Decision
from nasforge.space.mode import BaseMode, DiscoverMode, FreezeMode, current_mode, use_mode

S = TypeVar("S", bound="ModelSpace")


class ModelSpace(nn.Module):
    """Base class of search spaces: subclass it and use the choice primitives in `__init__`.

    >>> from torch import nn
    >>> from nasforge.space import ModelSpace, LayerChoice, choice
    >>> class Tiny(ModelSpace):
    ...     def __init__(self):
    ...         super().__init__()
    ...         width = choice("width", [8, 16])
    ...         self.body = nn.Sequential(
    ...             nn.Linear(4, width),
    ...             LayerChoice({"relu": nn.ReLU, "tanh": nn.Tanh}, label="act"),
    ...             nn.Linear(width, 2),
    ...         )
    ...     def forward(self, x):
    ...         return self.body(x)
    >>> space = Tiny()
    >>> " ".join(d.label for d in space.decisions)
    'width act'
    >>> net = space.freeze({"width": 16, "act": "tanh"})
    >>> net.body[1]
    Tanh()

    Constructing a subclass discovers its decisions; `freeze(arch)` runs the constructor again with the same
    arguments, each primitive returning the chosen value or module. Constructor arguments are recorded, so
    they should be plain values (they are also how a space is pickled to worker processes).
    """

    # TorchScript must not compile the space API when a frozen network is traced or scripted
    __jit_unused_properties__ = ["decisions", "labels", "is_frozen", "arch", "encoding_size"]

    _nas_init_args: tuple[tuple[Any, ...], dict[str, Any]]
    _nas_mode: str
    _nas_decisions: tuple[Decision, ...]
    _nas_arch: Arch | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _wrap_init(cls.__dict__["__init__"])  # type: ignore[method-assign]

    # --- introspection -------------------------------------------------------------------------------------
    @property
    def decisions(self) -> tuple[Decision, ...]:
        """The space's decisions in discovery order (parents before the decisions that depend on them);
        empty for a frozen network, which has no choices left."""
        if getattr(self, "_nas_mode", None) is None:
            self._require_space("decisions")
        return self._nas_decisions

    @property
    def labels(self) -> list[str]:
        return [d.label for d in self.decisions]

    def decision(self, label: str) -> Decision:
        for d in self.decisions:
            if d.label == label:
                return d
        raise SpaceError(f"This space has no decision {label!r}{algebra.suggest_label(label, self.labels)}")

    @property
    def is_frozen(self) -> bool:
        return getattr(self, "_nas_mode", "discover") == "freeze"

    @property
    def arch(self) -> Arch | None:
        """The arch a frozen network was built from (None for the space itself)."""
        return getattr(self, "_nas_arch", None)

    def describe(self) -> list[dict[str, Any]]:
        return [d.describe() for d in self.decisions]

    # --- the space algebra ----------------------------------------------------------------------------------
    def validate(self, arch: Mapping[str, Any]) -> Arch:
        """The canonical form of `arch`; raises `ArchError` naming the label path if it does not fit."""
        return algebra.validate(self._space_decisions("validate"), arch)

    def default_arch(self) -> Arch:
        return algebra.default(self._space_decisions("default_arch"))

    def random(self, rng: algebra.Rng = None) -> Arch:
        return algebra.sample(self._space_decisions("random"), rng)

    def grid(self) -> Iterator[Arch]:
        return algebra.grid(self._space_decisions("grid"))

    def size(self) -> int:
        return algebra.size(self._space_decisions("size"))

    def mutate(self, arch: Mapping[str, Any], rng: algebra.Rng = None, n: int = 1) -> Arch:
        return algebra.mutate(self._space_decisions("mutate"), arch, rng, n)

    def neighbours(self, arch: Mapping[str, Any]) -> Iterator[Arch]:
        return algebra.neighbours(self._space_decisions("neighbours"), arch)

    def encode(self, arch: Mapping[str, Any]) -> np.ndarray:
        return algebra.encode(self._space_decisions("encode"), arch)

    def decode(self, vector: Sequence[float] | np.ndarray) -> Arch:
        return algebra.decode(self._space_decisions("decode"), vector)

    @property
    def encoding_size(self) -> int:
        return algebra.encoding_size(self.decisions)

    # --- building networks -----------------------------------------------------------------------------------
    def rebuilt(self: S, **changes: Any) -> S:
        """The space constructed again with some keyword arguments changed (e.g. a text space's `vocab_size`
        once the tokenizer is refitted on more data); its decisions are the same when `changes` leave them."""
        self._require_space("rebuilt")
        args, kwargs = self._nas_init_args
        return type(self)(*args, **{**kwargs, **changes})

    def freeze(self: S, arch: Mapping[str, Any]) -> S:
        """A plain network for `arch`: every primitive replaced by its chosen value or module."""
        self._require_space("freeze")
        canonical = self.validate(arch)
        mode = FreezeMode(canonical)
        net = self.build(mode)
        unused = set(canonical) - mode.used
        if unused:
            raise SpaceError(
                f"Freezing did not use decision(s) {sorted(unused)}; the constructor must make the same "
                "decisions for the same arguments (no randomness or global state in it)."
            )
        object.__setattr__(net, "_nas_arch", canonical)
        return net

    def build(self: S, mode: BaseMode) -> S:
        """Run the constructor again, with the recorded arguments, under `mode` (e.g. a supernet mode)."""
        args, kwargs = self._nas_init_args
        with use_mode(mode):
            net = type(self)(*args, **kwargs)
        return net

    def _space_decisions(self, what: str) -> tuple[Decision, ...]:
        self._require_space(what)
        return self._nas_decisions

    def _require_space(self, what: str) -> None:
        mode = getattr(self, "_nas_mode", None)
        if mode is None:
            raise SpaceError(
                f"{type(self).__name__}.{what} needs a constructed space; did its __init__ call super().__init__()?"
            )
        if mode != "discover":
            raise SpaceError(
                f"{type(self).__name__}.{what} is a space operation, but this network was built in {mode} mode; "
                "call it on the space itself."
            )

    def __reduce__(self) -> Any:
        if getattr(self, "_nas_mode", None) == "discover":
            args, kwargs = self._nas_init_args
            return (_construct, (type(self), args, kwargs))
        return super().__reduce__()


def _construct(cls: type[ModelSpace], args: tuple[Any, ...], kwargs: dict[str, Any]) -> ModelSpace:
    return cls(*args, **kwargs)


def _wrap_init(init: Callable[..., None]) -> Callable[..., None]:
    if getattr(init, "_nas_wrapped", False):
        return init

    @functools.wraps(init)
    def wrapper(self: ModelSpace, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_nas_building", False):
            init(self, *args, **kwargs)  # super().__init__ of a ModelSpace subclass
            return
        object.__setattr__(self, "_nas_building", True)
        try:
            mode = current_mode()
            if mode is None:
                with use_mode(DiscoverMode()) as discover:
                    init(self, *args, **kwargs)
                object.__setattr__(self, "_nas_decisions", tuple(discover.decisions.values()))  # type: ignore[attr-defined]
                object.__setattr__(self, "_nas_mode", "discover")
            else:
                init(self, *args, **kwargs)  # nested space, or a rebuild under freeze / supernet mode
                nested = isinstance(mode, DiscoverMode)
                object.__setattr__(self, "_nas_mode", "nested" if nested else mode.name)
                object.__setattr__(self, "_nas_decisions", ())
        finally:
            object.__delattr__(self, "_nas_building")
        object.__setattr__(self, "_nas_init_args", (args, dict(kwargs)))

    wrapper._nas_wrapped = True  # type: ignore[attr-defined]
    return wrapper
