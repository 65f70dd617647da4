"""Name -> factory registries, so the CLI and YAML configs can name things by string.

Python users pass objects; strings go through a `Registry`, which validates keyword arguments against the
factory's signature so that a misspelt config key is caught before anything runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from nasforge.errors import ConfigError, suggest, unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._factories[name] = factory
            return factory

        return decorator

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._factories))

    def names(self) -> list[str]:
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        if not isinstance(name, str) or name not in self._factories:
            raise unknown_name(self.kind, str(name), self._factories)
        return self._factories[name]

    def create(self, name: str, **kwargs: Any) -> T:
        factory = self.get(name)
        check_kwargs(factory, kwargs, f"{self.kind} {name!r}")
        try:
            return factory(**kwargs)
        except TypeError as exc:  # a wrongly typed value deep in a constructor
            raise ConfigError(f"Invalid arguments for {self.kind} {name!r}: {exc}") from exc


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
