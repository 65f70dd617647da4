"""Write a chosen network to a folder a user can deploy (weights, TorchScript, ONNX, plain PyTorch source),
check every file against the network, and load it back.

The folder holds `arch.json` (the arch), `space.json` (how to rebuild the space), `weights.pt` (a state
dict, loadable with `weights_only=True`), `metrics.json`, `preprocessing.json` when the data needs
preparing before the model can read it (a text model's tokenizer vocabulary, the feature encoding of a
table), `export.json` (the files and their measured agreement with the network), and per format:
`model.torchscript.pt` (traced TorchScript), `model.onnx` (ONNX, dynamic batch) and `model.py` (the
network in plain PyTorch, `nasforge.export.standalone`); none of these three needs nasforge to run.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasforge.errors import ConfigError, NasforgeError
from nasforge.export.ensemble import Ensemble
from nasforge.export.folder_readme import write_readme
from nasforge.export.standalone import ExportError
from nasforge.space import Arch, ModelSpace

_TENSOR = "__tensor__"


def space_spec(space: ModelSpace) -> dict[str, Any] | None:
    """`{"class": "module:Name", "args": [...], "kwargs": {...}}`, or None if the arguments are not JSON.

    A tensor argument (a text space's word vectors or lexicon scores) is written as its shape only and
    rebuilt as zeros: the network keeps what it uses of it in its weights, which `load_model` loads after."""
    cls = type(space)
    args, kwargs = space._nas_init_args

    def plain(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return {_TENSOR: {"shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch.")}}
        return value

    spec = {
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "args": [plain(a) for a in args],
        "kwargs": {k: plain(v) for k, v in kwargs.items()},
    }
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

    def value(v: Any) -> Any:
        if isinstance(v, Mapping) and set(v) == {_TENSOR}:
            return torch.zeros(v[_TENSOR]["shape"], dtype=getattr(torch, v[_TENSOR].get("dtype", "float32")))
        return v

    args = [value(a) for a in spec.get("args", [])]
    space = obj(*args, **{k: value(v) for k, v in spec.get("kwargs", {}).items()})
    if not isinstance(space, ModelSpace):
        raise NasforgeError(f"{spec.get('class')!r} is not a ModelSpace.")
    return space


#: what `export_model` can write besides the weights (always written: `weights.pt`, `arch.json`, `space.json`)
FORMATS = ("pt", "torchscript", "onnx", "python")
DEFAULT_FORMATS = ("pt", "torchscript")
#: largest difference in logits an exported file may show against the PyTorch network on the example batch
TOLERANCE = 1e-4


def check_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    """`formats` as a tuple of known names (`all` for every one); a `ConfigError` names unknown ones."""
    names = [formats] if isinstance(formats, str) else list(formats)
    names = [part.strip() for name in names for part in str(name).split(",") if part.strip()]
    if "all" in names:
        return FORMATS
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ConfigError(
            f"Export formats must be among {', '.join(FORMATS)} (or all), but got {unknown or names!r}; "
            "e.g. --format torchscript,onnx."
        )
    return tuple(dict.fromkeys(names))


def write_metrics(folder: Path, metrics: Mapping[str, float]) -> None:
    """`metrics.json` in an export folder (written again when the job's account is complete)."""
    (folder / "metrics.json").write_text(json.dumps(dict(metrics), indent=2, sort_keys=True) + "\n")


def export_model(
    model: nn.Module,
    space: ModelSpace,
    arch: Arch,
    path: str | os.PathLike[str],
    metrics: Mapping[str, float] | None = None,
    input_shape: Sequence[int] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    formats: Sequence[str] | str = DEFAULT_FORMATS,
    example: torch.Tensor | None = None,
    members: Sequence[Mapping[str, Any]] | None = None,
    retrain: Mapping[str, Any] | None = None,
) -> Path:
    """Write `model` (a frozen network of `space` for `arch`) to the folder `path`.

    With `members`, `model` is an `Ensemble` of frozen networks of `space`, one per member (each a JSON
    mapping with its `arch`, and whatever else describes it: trial number, test accuracy); they are written
    to `ensemble.json`, and `arch` (the best member's) to `arch.json`.

    Always: `arch.json`, `space.json`, `weights.pt`, `metrics.json`, and the data's `preprocessing` when raw
    input must be encoded before the model reads it. Then each of `formats`: `torchscript`
    (`model.torchscript.pt`), `onnx` (`model.onnx`, batch axis dynamic; needs the `onnx` extra) and `python`
    (`model.py`, the network in plain PyTorch). Every file is run on `example` (a batch the network accepts;
    default zeros of `input_shape`) and must give the network's logits within `TOLERANCE`; the differences
    are recorded in `export.json`, with `retrain` (how the network was trained: per member, its epochs and
    time) when given. A `README.md` says what each file is and how to use the model.
    """
    wanted = check_formats(formats)
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"The export path {str(out)!r} exists and is not a folder; choose a folder path.")
    if example is None and input_shape is not None:
        example = torch.zeros(2, *input_shape)
    needs_input = [f for f in wanted if f != "pt"]
    if needs_input and example is None:
        raise ConfigError(f"Exporting as {', '.join(needs_input)} needs the input shape (or an example batch).")
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    (out / "arch.json").write_text(arch.to_json(indent=2) + "\n")
    ensemble_file = out / "ensemble.json"
    if members is not None:
        ensemble_file.write_text(json.dumps({"members": [dict(m) for m in members]}, indent=2) + "\n")
    elif ensemble_file.exists():  # left by an earlier export to this folder: it would describe another model
        ensemble_file.unlink()
    spec = space_spec(space)
    if spec is not None:
        (out / "space.json").write_text(json.dumps(spec, indent=2) + "\n")
    torch.save(model.state_dict(), out / "weights.pt")
    if metrics is not None:
        write_metrics(out, metrics)
    if preprocessing:
        (out / "preprocessing.json").write_text(json.dumps(dict(preprocessing), indent=1) + "\n")
    manifest: dict[str, Any] = {"files": {"pt": "weights.pt"}, "max_abs_diff": {}}
    if example is not None:
        example = example.cpu()
        manifest["input_shape"] = list(example.shape[1:])
        with torch.no_grad():
            reference = model(example)
        for fmt in wanted:
            if fmt == "pt":
                continue
            file, logits = _WRITERS[fmt](model, example, out)
            diff = float((logits - reference).abs().max()) if logits.shape == reference.shape else float("inf")
            if not diff <= TOLERANCE:
                raise ExportError(
                    f"The {fmt} export gives logits up to {diff:.3g} away from the PyTorch network's (at most "
                    f"{TOLERANCE:g} must hold); the file {file} is left for inspection."
                )
            manifest["files"][fmt] = file
            manifest["max_abs_diff"][fmt] = diff
    if retrain:
        manifest["retrain"] = dict(retrain)
    (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n")
    write_readme(out)
    return out


def _write_torchscript(model: nn.Module, example: torch.Tensor, out: Path) -> tuple[str, torch.Tensor]:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript still serves deployment here
        traced = torch.jit.trace(model, example)
        traced.save(str(out / "model.torchscript.pt"))
        loaded = torch.jit.load(str(out / "model.torchscript.pt"), map_location="cpu")
    with torch.no_grad():
        return "model.torchscript.pt", loaded(example)


def _write_onnx(model: nn.Module, example: torch.Tensor, out: Path) -> tuple[str, torch.Tensor]:
    try:
        import onnx  # noqa: F401  (the TorchScript-based exporter needs it)
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(
            f"The onnx export needs onnx and onnxruntime ({exc.name} is missing): pip install 'nasforge[onnx]'."
        ) from exc
    path = out / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,  # the TorchScript-based exporter: the dynamo one would need onnxscript
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": example.numpy()})
    return "model.onnx", torch.from_numpy(logits)


def _write_python(model: nn.Module, example: torch.Tensor, out: Path) -> tuple[str, torch.Tensor]:
    from nasforge.export.standalone import load_standalone, standalone_source

    source = standalone_source(model, example)
    (out / "model.py").write_text(source)
    net = load_standalone(source, model.state_dict())
    with torch.no_grad():
        return "model.py", net(example)


_WRITERS = {"torchscript": _write_torchscript, "onnx": _write_onnx, "python": _write_python}


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """Rebuild an exported network (or ensemble) with its trained weights (needs the package defining the
    space)."""
    folder = Path(path)
    for name in ("arch.json", "space.json", "weights.pt"):
        if not (folder / name).is_file():
            raise NasforgeError(
                f"{str(folder / name)!r} is missing; `path` must be a folder written by `nasforge export`."
            )
    space = space_from_spec(json.loads((folder / "space.json").read_text()))
    model: nn.Module
    if (folder / "ensemble.json").is_file():
        members = json.loads((folder / "ensemble.json").read_text())["members"]
        model = Ensemble([space.freeze(Arch.from_json(json.dumps(m["arch"]))) for m in members])
    else:
        model = space.freeze(Arch.from_json((folder / "arch.json").read_text()))
    try:
        state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise NasforgeError(
            f"{str(folder / 'weights.pt')!r} is not a plain state dict of tensors, so it was not loaded "
            f"(nasforge never unpickles code): {str(exc).splitlines()[0]}"
        ) from exc
    model.load_state_dict(state)
    return model.eval()
