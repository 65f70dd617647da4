"""Every named thing resolves through a `Registry`: each entry of each registry resolves, is listed with a
description, and an unknown name gets the closest valid ones."""

from __future__ import annotations

import pytest

import nasforge  # the facade imports every package that registers names
import nasforge.zoo  # noqa: F401 - spaces are named only for configs and the CLI
from nasforge.errors import ConfigError, UnknownNameError
from nasforge.registry import Registry, registries

KINDS = {
    "strategy",
    "one-shot method",
    "space",
    "dataset",
    "evaluator",
    "executor",
    "storage scheme",
    "proxy",
    "early-stopping rule",
    "predictor",
    "tokenizer",
}
ENTRIES = [(kind, name) for kind, registry in registries().items() if kind in KINDS for name in registry]


def test_every_kind_has_a_registry() -> None:
    assert set(registries()) >= KINDS


@pytest.mark.parametrize(("kind", "name"), ENTRIES)
def test_entry_resolves_and_is_listed(kind: str, name: str) -> None:
    registry = registries()[kind]
    assert name in registry and name in registry.names()
    assert callable(registry.get(name)) and registry[name] is registry.get(name)
    assert registry.listing()[name], f"{kind} {name!r} has no description for listings"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unknown_name_suggests_the_closest(kind: str) -> None:
    registry = registries()[kind]
    name = registry.names()[0]
    with pytest.raises(UnknownNameError, match=f"Did you mean '{name}'") as info:
        registry.get(name + "x")
    assert isinstance(info.value, ConfigError) and isinstance(info.value, KeyError)


def test_lazy_entry_is_imported_on_first_lookup() -> None:
    registry = Registry[object]("lazy example")
    registry.add_lazy("join", "os.path:join", "Joins paths.")
    assert registry.listing() == {"join": "Joins paths."}
    import os.path

    assert registry.get("join") is os.path.join


def test_names_are_registered_once() -> None:
    registry = Registry[object]("twice example")
    registry.add("a", object)
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("a", object)


def test_storage_urls_resolve_by_scheme() -> None:
    from nasforge.storage import InMemoryStorage, SQLStorage, get_storage, storage_scheme

    assert isinstance(get_storage(":memory:"), InMemoryStorage)
    assert isinstance(get_storage("nas.db"), SQLStorage)  # nothing is opened before the first use
    assert [storage_scheme(u) for u in ("a/b.db", "sqlite:///x.db", "postgresql+psycopg://u@h/d", ":memory:")] == [
        "sqlite",
        "sqlite",
        "postgresql",
        "memory",
    ]
    with pytest.raises(UnknownNameError, match=r"Unknown storage scheme 'postgress'\. Did you mean 'postgres'"):
        get_storage("postgress://u@localhost/nas")


def test_docstring_examples() -> None:
    import doctest

    import nasforge.registry

    assert doctest.testmod(nasforge.registry).failed == 0
