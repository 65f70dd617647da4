"""Measured inference latency of a network.

`measure_latency` times forward passes of a network (eager PyTorch, TorchScript or ONNX Runtime) on a batch of
zeros with a fixed number of threads; `device_key` names everything that changes the result (device model,
torch version, backend, batch size, threads and input shape). `nasforge.cost.meter` caches results per arch.

>>> from torch import nn
>>> result = measure_latency(nn.Linear(8, 2), (8,), {"warmup": 1, "repeats": 3})
>>> result.backend, result.batch_size, result.input_shape
('eager', 1, (8,))
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasforge.errors import ConfigError, suggest

BACKENDS = ("eager", "torchscript", "onnxruntime")
_DEVICE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")
_ONNX_HINT = "pip install onnxruntime onnx (or nasforge[onnx])"


@dataclass(frozen=True)
class LatencySetting:
    """How latency is measured: `warmup` untimed then `repeats` timed forward passes of one batch."""

    backend: str = "eager"  # "eager" | "torchscript" | "onnxruntime"
    device: str = "cpu"  # "cpu" | "cuda" | "cuda:N"
    batch_size: int = 1
    threads: int = 1  # torch intra-op threads (and ONNX Runtime's intra_op_num_threads) while measuring
    warmup: int = 10
    repeats: int = 30

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"`backend` of LatencySetting must be one of {', '.join(BACKENDS)}, but got {self.backend!r}."
                + (suggest(self.backend, BACKENDS) if isinstance(self.backend, str) else "")
            )
        if not isinstance(self.device, str) or not _DEVICE.match(self.device) or self.device.startswith("cpu:"):
            raise ConfigError(f"`device` of LatencySetting must be 'cpu', 'cuda' or 'cuda:N', but got {self.device!r}.")
        for name, minimum in (("batch_size", 1), ("threads", 1), ("warmup", 0), ("repeats", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ConfigError(f"`{name}` of LatencySetting must be an int >= {minimum}, but got {value!r}.")

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | LatencySetting | None) -> LatencySetting:
        """`None` (the defaults), a mapping of some of the fields (as in a YAML config) or a `LatencySetting`."""
        if spec is None:
            return cls()
        if isinstance(spec, LatencySetting):
            return spec
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"A latency setting must be a mapping such as {{backend: eager, threads: 1}}, but got {spec!r:.80}."
            )
        valid = [f.name for f in fields(cls)]
        unknown = [k for k in spec if k not in valid]
        if unknown:
            raise ConfigError(
                f"Unknown latency setting key(s) {unknown}.{suggest(str(unknown[0]), valid)} "
                f"Valid keys are: {', '.join(valid)}."
            )
        return cls(**spec)


@dataclass(frozen=True)
class LatencyResult:
    """Statistics of the timed runs, in milliseconds per batch, and what they were measured with."""

    median_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    p90_ms: float
    backend: str
    device: str
    device_name: str
    batch_size: int
    threads: int
    warmup: int
    repeats: int
    input_shape: tuple[int, ...]
    cached: bool = False  # True when it came from a `LatencyCache` rather than a fresh measurement

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LatencyResult:
        names = {f.name for f in fields(cls)}
        missing = sorted(names - {"cached"} - set(d))
        unknown = sorted(set(d) - names)
        if missing or unknown:
            raise ConfigError(
                f"A LatencyResult dict must have the keys {sorted(names)}, but {missing} are missing and "
                f"{unknown} are unknown."
            )
        return cls(**{**d, "input_shape": tuple(int(n) for n in d["input_shape"])})


def check_shape(input_shape: Sequence[int], where: str) -> tuple[int, ...]:
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        shape: Any = None
    else:
        shape = tuple(input_shape)
    if not shape or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in shape):
        raise ConfigError(
            f"`input_shape` of {where} must be the shape of one sample, a non-empty list of ints >= 1 without the "
            f"batch dimension (e.g. [3, 32, 32]), but got {input_shape!r}."
        )
    return shape


def _torch_device(device: str) -> torch.device:
    """`device` as a torch device, or a `ConfigError` when it is a CUDA device that this process cannot see."""
    if device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"Latency `device` {device!r} needs CUDA, but no CUDA device is visible to this process (CUDA build: "
            f"{torch.version.cuda or 'none'}); measure on 'cpu', or run on a machine with a GPU."
        )
    dev = torch.device(device)
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        raise ConfigError(f"Latency `device` {device!r} does not exist: {count} CUDA device(s) are visible.")
    return dev


@functools.cache
def device_name(device: str) -> str:
    """The hardware behind `device`: the CPU model name, or the GPU name that torch reports."""
    dev = _torch_device(LatencySetting(device=device).device)
    if dev.type == "cuda":
        return str(torch.cuda.get_device_name(dev))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux
    return platform.processor() or platform.machine() or "unknown cpu"


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            f"Latency backend 'onnxruntime' needs ONNX Runtime, which is not installed: {_ONNX_HINT}."
        ) from None
    return onnxruntime


def device_key(setting: LatencySetting, input_shape: Sequence[int]) -> str:
    """Everything that changes a latency, as a JSON string: results with the same key are interchangeable.

    The CUDA index is left out (two GPUs of one model are the same hardware), and so are `warmup` and
    `repeats`, which change how precise a measurement is but not what it measures.
    """
    key: dict[str, Any] = {
        "device": setting.device.split(":")[0],
        "device_name": device_name(setting.device),
        "torch": torch.__version__,
        "backend": setting.backend,
        "batch_size": setting.batch_size,
        "threads": setting.threads,
        "input_shape": list(check_shape(input_shape, "device_key")),
    }
    if setting.backend == "onnxruntime":
        key["onnxruntime"] = _onnxruntime().__version__
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _runner(model: nn.Module, x: torch.Tensor, setting: LatencySetting, tmp: str) -> Callable[[], object]:
    """One forward pass of `model` on `x` with the setting's backend."""
    if setting.backend == "eager":
        return lambda: model(x)
    with warnings.catch_warnings():  # TorchScript and its ONNX exporter are deprecated, but still the way to go
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return _compiled_runner(model, x, setting, tmp)


def _compiled_runner(model: nn.Module, x: torch.Tensor, setting: LatencySetting, tmp: str) -> Callable[[], object]:
    if setting.backend == "torchscript":
        traced = torch.jit.trace(model, x, check_trace=False)
        try:  # freezing folds parameters and batch norms; not every traced graph survives it
            optimized = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            optimized(x)
            return lambda: optimized(x)
        except Exception:
            return lambda: traced(x)
    ort = _onnxruntime()
    providers: list[Any] = ["CPUExecutionProvider"]
    if x.device.type == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ConfigError(
                f"Latency backend 'onnxruntime' on {setting.device!r} needs ONNX Runtime's CUDAExecutionProvider, "
                f"but this onnxruntime has only {ort.get_available_providers()}; pip install onnxruntime-gpu."
            )
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": x.device.index or 0}))
    path = os.path.join(tmp, "model.onnx")
    # the TorchScript-based exporter: the dynamo one would need onnxscript
    torch.onnx.export(model, (x,), path, input_names=["input"], dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = setting.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, sess_options=options, providers=providers)
    feed = {"input": x.cpu().numpy()}  # on CUDA each run includes the copy to the GPU, as in serving
    return lambda: session.run(None, feed)


def measure_latency(
    model: nn.Module, input_shape: Sequence[int], setting: LatencySetting | Mapping[str, Any] | None = None
) -> LatencyResult:
    """Time `model` on a batch of zeros of shape (batch_size, *input_shape) in eval mode without gradients.

    The model is moved to `setting.device` (and left there); its train/eval mode is restored. Errors of the
    model itself propagate; a setting that cannot be measured here raises `ConfigError`.
    """
    setting = LatencySetting.parse(setting)
    shape = check_shape(input_shape, "measure_latency")
    dev = _torch_device(setting.device)
    name = device_name(setting.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    was_training = model.training
    model.to(dev).eval()
    times: list[int] = []
    try:
        with _torch_threads(setting.threads), torch.no_grad(), tempfile.TemporaryDirectory() as tmp:
            run = _runner(model, torch.zeros(setting.batch_size, *shape, device=dev), setting, tmp)
            for _ in range(setting.warmup):
                run()
            for _ in range(setting.repeats):
                sync()
                start = time.perf_counter_ns()
                run()
                sync()
                times.append(time.perf_counter_ns() - start)
    finally:
        model.train(was_training)
    ms = [t / 1e6 for t in times]
    return LatencyResult(
        median_ms=statistics.median(ms),
        mean_ms=statistics.fmean(ms),
        std_ms=statistics.stdev(ms) if len(ms) > 1 else 0.0,
        min_ms=min(ms),
        p90_ms=float(np.percentile(ms, 90)),
        backend=setting.backend,
        device=setting.device,
        device_name=name,
        batch_size=setting.batch_size,
        threads=setting.threads,
        warmup=setting.warmup,
        repeats=setting.repeats,
        input_shape=shape,
    )
