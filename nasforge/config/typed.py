"""Typed configuration sections: the machinery. A section is a frozen dataclass whose fields are its keys;
`Section.parse` checks a mapping against the fields' annotations (an unknown key gets the closest names, a
value of the wrong type what it must be) and then against `check`; `add_flags` and `flag_values` derive
`nasforge run`'s flags from the fields' metadata (`meta`). The sections themselves are in
`nasforge.config.sections`."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from nasforge.errors import ConfigError, suggest

__all__ = ["Section", "add_flags", "describe", "flag_values", "int_or_word", "meta"]

S = TypeVar("S", bound="Section")


def meta(help: str, flag: str | None = None, metavar: str | None = None) -> dict[str, Any]:
    """A key's metadata: what it means, and the `nasforge run` flag that sets it (if any)."""
    return {"help": help, "flag": flag, "metavar": metavar}


def _allows(value: Any, hint: Any) -> bool:
    """Whether `value` (as YAML gives it) has the annotated type; an int is a float, a bool is not a number."""
    if hint is Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_allows(value, h) for h in typing.get_args(hint))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    if origin is list or hint is list:
        return isinstance(value, list)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def describe(hint: Any) -> str:
    """`int or float or null`: what a key's annotation allows, in the words of the error messages."""
    if hint is type(None) or hint is None:
        return "null"
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(describe(h) for h in typing.get_args(hint))
    if hint is float:
        return "int or float"
    base = typing.get_origin(hint) or hint
    return getattr(base, "__name__", str(base))


class Section:
    """A configuration section: a frozen dataclass whose fields are its keys (see the module docstring)."""

    #: how the section is named in messages (`run`, `export`, ... ; '' for the top level)
    section: ClassVar[str] = ""

    @classmethod
    def hints(cls) -> dict[str, Any]:
        """Each key's annotation, resolved."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def keys(cls) -> list[str]:
        return list(cls.hints())

    @classmethod
    def parse(cls: type[S], where: str | None, values: Any) -> S:
        """The section from a mapping, or a one-line `ConfigError`: an unknown key (with the closest names), a
        value of the wrong type, or one that breaks what `check` asks."""
        where = cls.section if where is None else where
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ConfigError(f"Section {where!r} must be a mapping of keys, but got {values!r}.")
        hints = cls.hints()
        for key, value in values.items():
            if key not in hints:
                raise ConfigError(
                    f"Unknown key {key!r} in section {where!r}.{suggest(str(key), list(hints))} "
                    f"Valid keys: {', '.join(hints)}."
                )
            if not _allows(value, hints[key]):
                raise ConfigError(
                    f"Key {where + '.' if where else ''}{key} must be {describe(hints[key])}, but got {value!r}."
                )
        made = cls._build(dict(values))
        made.check(frozenset(values), where)
        return made  # type: ignore[return-value]

    @classmethod
    def _build(cls, values: dict[str, Any]) -> Section:
        return cls(**values)

    def check(self, given: frozenset[str], where: str) -> None:
        """What the values must satisfy beyond their types; `given` are the keys the mapping had."""

    def given(self) -> dict[str, Any]:
        """The keys whose value differs from the default, as a mapping."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if getattr(self, f.name) != f.default
        }


def add_flags(parser: argparse.ArgumentParser, section: type[Section]) -> None:
    """Add the flags of `section`'s keys that have one; each stores under `section.key` (see `flag_values`)."""
    hints = section.hints()
    for f in dataclasses.fields(section):  # type: ignore[arg-type]
        flag = f.metadata.get("flag")
        if not flag:
            continue
        dest = f"{section.section}.{f.name}" if section.section else f.name
        hint = hints[f.name]
        if hint is bool:
            parser.add_argument(flag, dest=dest, action="store_true", default=None, help=f.metadata["help"])
            continue
        kinds = [h for h in typing.get_args(hint) if h is not type(None)] or [hint]
        kind: Any = float if float in kinds else int if int in kinds else str
        if int in kinds and str in kinds:
            kind = int_or_word
        parser.add_argument(flag, dest=dest, type=kind, metavar=f.metadata.get("metavar"), help=f.metadata["help"])


def int_or_word(text: str) -> int | str:
    """A flag's value for a key that takes a number or a word (`--export-workers 2`, `--export-workers auto`)."""
    return int(text) if text.lstrip("-").isdigit() else text


def flag_values(args: argparse.Namespace, section: type[Section]) -> dict[str, Any]:
    """The keys of `section` that flags set on the command line (those left out are not in the result)."""
    out = {}
    for f in dataclasses.fields(section):  # type: ignore[arg-type]
        if not f.metadata.get("flag"):
            continue
        value = getattr(args, f"{section.section}.{f.name}" if section.section else f.name, None)
        if value is not None:
            out[f.name] = value
    return out
