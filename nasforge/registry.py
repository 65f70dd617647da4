"""Name -> factory registries, so the CLI and YAML configs can name things by string.

Every named thing (strategy, one-shot method, space, dataset, evaluator, executor, storage, proxy, stopper,
predictor, tokenizer) is found through a `Registry`. Python users pass objects; strings go through a
registry, which suggests the closest names for an unknown one and validates keyword arguments against the
factory's signature, so that a misspelt config key is caught before anything runs.
"""

from __future__ import annotations

import importlib
import inspect
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from nasforge.errors import ConfigError, suggest, unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one kind of thing (`kind`: "strategy", "proxy", "executor", ...) and the factories behind them.

    Looked up like a read-only mapping (`registry[name]`, `name in registry`, sorted iteration); an unknown
    name raises `UnknownNameError` (a `ConfigError` and a `KeyError`) that suggests the closest valid names.
    Every registry made is listed by `registries()`, so tests and listings reach each one.

    >>> proxies = Registry[object]("example")
    >>> _ = proxies.add("ones", lambda: 1, "always one")
    >>> proxies.listing()
    {'ones': 'always one'}
    >>> proxies.get("one")
    Traceback (most recent call last):
    ...
    nasforge.errors.UnknownNameError: Unknown example 'one'. Did you mean 'ones'? Valid example names are: ones.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._lazy: dict[str, str] = {}  # name -> "module:attribute", imported on first use
        self._descriptions: dict[str, str] = {}
        _ALL.add(self)

    def register(self, name: str, description: str | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """A decorator that registers its argument as `name`."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            return self.add(name, factory, description)

        return decorator

    def add(self, name: str, factory: Callable[..., T], description: str | None = None) -> Callable[..., T]:
        """Register `factory` as `name`; `description` (for listings) defaults to its docstring's first line."""
        self._claim(name)
        self._factories[name] = factory
        self._descriptions[name] = description if description is not None else _first_line(factory)
        return factory

    def add_lazy(self, name: str, target: str, description: str) -> None:
        """Register `target` ("package.module:attribute") as `name`, imported only when it is looked up, for
        entries whose module needs an optional dependency (Ray)."""
        if ":" not in target:
            raise ValueError(f"A lazy {self.kind} target must read 'module:attribute', but got {target!r}.")
        self._claim(name)
        self._lazy[name] = target
        self._descriptions[name] = description

    def _claim(self, name: str) -> None:
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is registered twice")

    def __contains__(self, name: object) -> bool:
        return name in self._factories or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._factories) + len(self._lazy)

    def __getitem__(self, name: str) -> Callable[..., T]:
        return self.get(name)

    def names(self) -> list[str]:
        return sorted([*self._factories, *self._lazy])

    def listing(self) -> dict[str, str]:
        """Every name with its one-line description, sorted by name (nothing is imported)."""
        return {name: self._descriptions[name] for name in self.names()}

    def get(self, name: str) -> Callable[..., T]:
        if not isinstance(name, str) or name not in self:
            raise unknown_name(self.kind, str(name), self.names())
        if name in self._lazy:
            module, attribute = self._lazy.pop(name).split(":")
            self._factories[name] = getattr(importlib.import_module(module), attribute)
        return self._factories[name]

    def create(self, name: str, **kwargs: Any) -> T:
        factory = self.get(name)
        check_kwargs(factory, kwargs, f"{self.kind} {name!r}")
        try:
            return factory(**kwargs)
        except TypeError as exc:  # a wrongly typed value deep in a constructor
            raise ConfigError(f"Invalid arguments for {self.kind} {name!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


# weak, so that a registry made in a test or an example leaves the listing when it is dropped
_ALL: weakref.WeakSet[Registry[Any]] = weakref.WeakSet()


def registries() -> dict[str, Registry[Any]]:
    """Every live registry, by kind (those of the packages imported; `import nasforge` imports all)."""
    return {r.kind: r for r in sorted(_ALL, key=lambda r: r.kind)}


def _first_line(factory: Callable[..., Any]) -> str:
    doc = inspect.getdoc(factory) or ""
    return doc.strip().split("\n", 1)[0].strip()


def check_kwargs(
    factory: Callable[..., Any], kwargs: dict[str, Any], what: str, middleware: Sequence[str] = ()
) -> None:
    """Raise a `ConfigError` naming the unknown keys, with suggestions, before calling `factory`.

    `middleware` names further keys that are valid beside the factory's own (suggested and listed)."""
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    also = f"; middleware: {', '.join(middleware)}" if middleware else ""
    for key in kwargs:
        if key not in valid:
            raise ConfigError(
                f"Unknown option {key!r} for {what}.{suggest(key, [*valid, *middleware])} "
                f"Valid options are: {', '.join(valid) or '(none)'}{also}."
            )
