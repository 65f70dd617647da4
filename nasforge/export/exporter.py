"""Write a chosen network to a folder a user can deploy, and load it back.

The folder holds `arch.json` (the arch), `space.json` (how to rebuild the space), `weights.pt` (a state
dict, loadable with `weights_only=True`), `metrics.json`, and `model.torchscript.pt`, a traced TorchScript
module that runs without nasforge; and `preprocessing.json` when the data needs preparing before the model
can read it (a text model's tokenizer vocabulary, the feature encoding of a table).
"""

from __future__ import annotations

import importlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasforge.errors import ConfigError, NasforgeError
from nasforge.space import Arch, ModelSpace


def space_spec(space: ModelSpace) -> dict[str, Any] | None:
    """`{"class": "module:Name", "args": [...], "kwargs": {...}}`, or None if the arguments are not JSON."""
    cls = type(space)
    args, kwargs = space._nas_init_args
    spec = {"class": f"{cls.__module__}:{cls.__qualname__}", "args": list(args), "kwargs": dict(kwargs)}
    try:
        json.dumps(spec)
    except TypeError:
        return None
    return spec


def space_from_spec(spec: Mapping[str, Any]) -> ModelSpace:
    module_name, _, qualname = str(spec.get("class", "")).partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise NasforgeError(
            f"Cannot import the space class {spec.get('class')!r} ({exc}); install the package that defines it."
        ) from exc
    space = obj(*spec.get("args", []), **spec.get("kwargs", {}))
    if not isinstance(space, ModelSpace):
        raise NasforgeError(f"{spec.get('class')!r} is not a ModelSpace.")
    return space


def export_model(
    model: nn.Module,
    space: ModelSpace,
    arch: Arch,
    path: str | os.PathLike[str],
    metrics: Mapping[str, float] | None = None,
    input_shape: Sequence[int] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
) -> Path:
    """Write `model` (a frozen network of `space` for `arch`) to the folder `path`, with the data's
    `preprocessing` (JSON) when raw input must be encoded before the model reads it."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"The export path {str(out)!r} exists and is not a folder; choose a folder path.")
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    (out / "arch.json").write_text(arch.to_json(indent=2) + "\n")
    spec = space_spec(space)
    if spec is not None:
        (out / "space.json").write_text(json.dumps(spec, indent=2) + "\n")
    torch.save(model.state_dict(), out / "weights.pt")
    if metrics is not None:
        (out / "metrics.json").write_text(json.dumps(dict(metrics), indent=2, sort_keys=True) + "\n")
    if preprocessing:
        (out / "preprocessing.json").write_text(json.dumps(dict(preprocessing), indent=1) + "\n")
    if input_shape is not None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript still serves deployment here
            traced = torch.jit.trace(model, torch.zeros(1, *input_shape))
        traced.save(str(out / "model.torchscript.pt"))
    return out


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """Rebuild an exported network with its trained weights (needs the package defining the space)."""
    folder = Path(path)
    for name in ("arch.json", "space.json", "weights.pt"):
        if not (folder / name).is_file():
            raise NasforgeError(
                f"{str(folder / name)!r} is missing; `path` must be a folder written by `nasforge export`."
            )
    space = space_from_spec(json.loads((folder / "space.json").read_text()))
    model = space.freeze(Arch.from_json((folder / "arch.json").read_text()))
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
