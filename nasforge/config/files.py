"""Reading configurations: YAML files, the bundled presets, and `section.key=value` overrides.

YAML 1.1 reads `1.5e6` and `1e-3` as text; here they are read as numbers (`_Loader`).
"""

from __future__ import annotations

import copy
import importlib.resources
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from nasforge.errors import ConfigError, unknown_name

__all__ = ["apply_overrides", "load_file", "load_preset", "preset_names", "preset_summary"]


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `1.5e6` and `1e-3` (no dot, or no exponent sign) as strings; read them as numbers."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def preset_names() -> list[str]:
    folder = importlib.resources.files("nasforge") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise unknown_name("preset", name, names)
    text = (importlib.resources.files("nasforge") / "presets" / f"{name}.yaml").read_text()
    return _parse_yaml(text, f"preset {name!r}")


def preset_summary(name: str) -> dict[str, Any]:
    """A preset's name, space, dataset, strategy and the first sentence of its leading comment."""
    text = (importlib.resources.files("nasforge") / "presets" / f"{name}.yaml").read_text()
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    about = " ".join(comment)
    about = about.split(". ")[0].rstrip(".") if about else ""
    cfg = load_preset(name)

    def section(key: str) -> str | None:
        value = cfg.get(key)
        return value.get("name") if isinstance(value, dict) else value

    return {
        "preset": name,
        "space": section("space"),
        "dataset": section("dataset"),
        "strategy": section("strategy"),
        "about": about,
    }


def load_file(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"Config file {path!r} does not exist; give a YAML file path or a preset name ({', '.join(preset_names())})."
        )
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path!r}: {exc}") from exc
    return _parse_yaml(text, f"config file {path!r}")


def _parse_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"The {where} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"The {where} must be a mapping of sections (space, dataset, ...), but got {type(data).__name__}."
        )
    return data


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides; values are parsed as YAML (`3`, `0.1`, `true`, `[1, 2]`)."""
    out = copy.deepcopy(dict(config))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"An override is written key=value or section.key=value, but got {item!r}.")
        key, _, raw = item.partition("=")
        path = [k for k in key.strip().split(".") if k]
        if not path:
            raise ConfigError(f"An override needs a key before '=', but got {item!r}.")
        try:
            value = yaml.load(raw, Loader=_Loader) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"The value of override {item!r} is not valid YAML: {exc}") from exc
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"Override {item!r}: {part!r} is not a section.")
            node = child
        node[path[-1]] = value
    return out
