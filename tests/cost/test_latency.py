from __future__ import annotations

import json
import pickle
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from nasforge.cost import meter as meter_mod
from nasforge.cost.latency import LatencyResult, LatencySetting, device_key, device_name, measure_latency
from nasforge.cost.meter import LatencyCache, LatencyMeter, default_cache_path, network_key
from nasforge.errors import ConfigError
from tests.toys import ToySpace

FAST = {"warmup": 2, "repeats": 5}


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))


def _conv() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))


def _result(median: float = 1.0, **overrides: object) -> LatencyResult:
    fields = dict(
        median_ms=median,
        mean_ms=median * 1.1,
        std_ms=0.1,
        min_ms=median * 0.9,
        p90_ms=median * 1.3,
        backend="eager",
        device="cpu",
        device_name="Test CPU",
        batch_size=1,
        threads=1,
        warmup=2,
        repeats=5,
        input_shape=(8,),
    )
    return LatencyResult(**{**fields, **overrides})  # type: ignore[arg-type]


# --- measuring --------------------------------------------------------------------------------------------------
def test_measure_eager_reports_stats_and_setting() -> None:
    model = _tiny().train()
    result = measure_latency(model, [8], LatencySetting(batch_size=3, **FAST))
    assert 0 < result.min_ms <= result.median_ms <= result.p90_ms
    assert result.mean_ms > 0 and result.std_ms >= 0
    assert (result.backend, result.device, result.batch_size, result.threads) == ("eager", "cpu", 3, 1)
    assert (result.warmup, result.repeats, result.input_shape, result.cached) == (2, 5, (8,), False)
    assert result.device_name == device_name("cpu") != ""
    assert model.training  # the train/eval mode is restored


def test_bigger_model_is_slower() -> None:
    small = nn.Linear(256, 1)
    big = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1))
    setting = LatencySetting(batch_size=8, warmup=3, repeats=15)
    assert measure_latency(big, [256], setting).median_ms > 2 * measure_latency(small, [256], setting).median_ms


class _ThreadProbe(nn.Module):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.seen: set[tuple[int, bool]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.add((torch.get_num_threads(), torch.is_grad_enabled()))
        if self.fail:
            raise RuntimeError("forward failed")
        return x * 2


def test_threads_set_while_measuring_and_restored_after() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        probe = _ThreadProbe()
        measure_latency(probe, [4], {"threads": 1, **FAST})
        assert probe.seen == {(1, False)}
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="forward failed"):  # a broken model propagates its own error
            measure_latency(_ThreadProbe(fail=True), [4], {"threads": 1, **FAST})
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_torchscript_backend() -> None:
    result = measure_latency(_conv(), (3, 4, 4), {"backend": "torchscript", **FAST})
    assert result.backend == "torchscript" and result.median_ms > 0


def test_onnxruntime_backend() -> None:
    # onnxruntime and onnx are test dependencies (the `onnx` extra): no importorskip here
    result = measure_latency(_conv(), (3, 4, 4), {"backend": "onnxruntime", "threads": 1, **FAST})
    assert result.backend == "onnxruntime" and result.median_ms > 0


def test_onnxruntime_missing_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(ConfigError, match="pip install onnxruntime onnx"):
        measure_latency(_tiny(), [8], {"backend": "onnxruntime", **FAST})
    with pytest.raises(ConfigError, match="pip install onnxruntime onnx"):
        device_key(LatencySetting(backend="onnxruntime"), [8])


def test_cuda_without_cuda_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device_name.cache_clear()
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match="no CUDA device is visible"):
            measure_latency(_tiny(), [8], {"device": device, **FAST})
        with pytest.raises(ConfigError, match="no CUDA device is visible"):
            device_name(device)


# --- settings and results ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "eagre"}, "`backend` of LatencySetting must be one of .*Did you mean 'eager'"),
        ({"backend": "tensorrt"}, "must be one of eager, torchscript, onnxruntime, but got 'tensorrt'"),
        ({"device": "gpu"}, "`device` of LatencySetting must be 'cpu', 'cuda' or 'cuda:N', but got 'gpu'"),
        ({"device": "cpu:0"}, "`device` of LatencySetting"),
        ({"device": 0}, "`device` of LatencySetting"),
        ({"batch_size": 0}, r"`batch_size` of LatencySetting must be an int >= 1, but got 0"),
        ({"threads": 1.5}, r"`threads` of LatencySetting must be an int >= 1, but got 1.5"),
        ({"threads": True}, r"`threads` of LatencySetting must be an int >= 1"),
        ({"warmup": -1}, r"`warmup` of LatencySetting must be an int >= 0, but got -1"),
        ({"repeats": 0}, r"`repeats` of LatencySetting must be an int >= 1, but got 0"),
    ],
)
def test_setting_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LatencySetting(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=match):
        LatencySetting.parse(kwargs)


def test_setting_parse() -> None:
    assert LatencySetting.parse(None) == LatencySetting()
    setting = LatencySetting(threads=2)
    assert LatencySetting.parse(setting) is setting
    assert LatencySetting.parse({"backend": "torchscript", "device": "cuda:1"}).device == "cuda:1"
    with pytest.raises(ConfigError, match=r"Unknown latency setting key\(s\) \['thread'\]\. Did you mean 'threads'"):
        LatencySetting.parse({"thread": 1})
    with pytest.raises(ConfigError, match="Valid keys are: backend, device, batch_size, threads, warmup, repeats"):
        LatencySetting.parse({"runs": 1})
    with pytest.raises(ConfigError, match="must be a mapping"):
        LatencySetting.parse("eager")  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [[], [0, 3], [3.0], "3x32x32", None, [True]])
def test_bad_input_shape(shape: object) -> None:
    with pytest.raises(ConfigError, match="`input_shape` of measure_latency must be the shape of one sample"):
        measure_latency(_tiny(), shape, FAST)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="`input_shape` of LatencyMeter"):
        LatencyMeter(shape, cache=False)  # type: ignore[arg-type]


def test_result_dict_round_trip() -> None:
    result = _result(input_shape=(3, 8, 8))
    d = json.loads(json.dumps(result.to_dict()))
    assert LatencyResult.from_dict(d) == result
    with pytest.raises(ConfigError, match=r"\['median_ms'\] are missing"):
        LatencyResult.from_dict({k: v for k, v in d.items() if k != "median_ms"})


def test_device_key_changes_with_what_changes_latency() -> None:
    base = LatencySetting()
    key = device_key(base, [3, 8, 8])
    assert json.loads(key)["device_name"] == device_name("cpu")
    assert json.loads(key)["torch"] == torch.__version__
    assert device_key(LatencySetting(warmup=0, repeats=99), (3, 8, 8)) == key
    others = [
        device_key(LatencySetting(threads=2), [3, 8, 8]),
        device_key(LatencySetting(batch_size=4), [3, 8, 8]),
        device_key(LatencySetting(backend="torchscript"), [3, 8, 8]),
        device_key(base, [3, 16, 16]),
    ]
    assert len({key, *others}) == 5
    import onnxruntime

    assert json.loads(device_key(LatencySetting(backend="onnxruntime"), [8]))["onnxruntime"] == onnxruntime.__version__


# --- the cache ----------------------------------------------------------------------------------------------------
def test_cache_hit_miss_and_memory() -> None:
    cache = LatencyCache(":memory:")
    assert cache.get("a", "d") is None
    cache.put("a", "d", _result(2.0))
    hit = cache.get("a", "d")
    assert hit == _result(2.0, cached=True)
    assert cache.get("a", "other device") is None and cache.get("b", "d") is None
    cache.put("a", "d", _result(3.0))  # a new measurement replaces the old one
    assert cache.get("a", "d") == _result(3.0, cached=True)


def test_cache_file_survives_reopening_and_is_shared(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "latency.sqlite"
    first, second = LatencyCache(path), LatencyCache(str(path))
    first.put("a", "d", _result(1.5))
    assert second.get("a", "d") == _result(1.5, cached=True)
    second.put("b", "d", _result(2.5))
    assert first.get("b", "d") == _result(2.5, cached=True)
    first.close()
    second.close()
    reopened = pickle.loads(pickle.dumps(LatencyCache(path)))  # e.g. sent to a worker process
    assert reopened.get("a", "d") == _result(1.5, cached=True)
    assert reopened.get("b", "d") == _result(2.5, cached=True)


def test_default_cache_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NASFORGE_CACHE", str(tmp_path))
    assert default_cache_path() == tmp_path / "latency.sqlite"
    assert LatencyCache().path == str(tmp_path / "latency.sqlite")
    assert LatencyMeter([4], cache=True).cache.path == str(tmp_path / "latency.sqlite")  # type: ignore[union-attr]
    monkeypatch.delenv("NASFORGE_CACHE")
    assert default_cache_path() == Path.home() / ".cache" / "nasforge" / "latency.sqlite"


# --- the meter ----------------------------------------------------------------------------------------------------
def test_meter_measures_once_then_hits_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[nn.Module] = []
    real = meter_mod.measure_latency

    def counting(model: nn.Module, *args: object) -> LatencyResult:
        calls.append(model)
        return real(model, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(meter_mod, "measure_latency", counting)
    space = ToySpace()
    arch = space.default_arch()
    meter = LatencyMeter([4], FAST, cache=tmp_path / "latency.sqlite")
    first = meter.measure(space, arch)
    assert not first.cached and len(calls) == 1
    second = meter.measure(space, dict(arch))  # a plain mapping is the same arch
    assert second == replace(first, cached=True)
    assert meter(space, arch) == first.median_ms and len(calls) == 1
    key = network_key(space, space.validate(arch), space.freeze(arch))
    stored = LatencyCache(tmp_path / "latency.sqlite").get(key, device_key(meter.setting, [4]))
    assert stored is not None and stored.median_ms == first.median_ms
    other = space.mutate(arch, rng=0)
    assert not meter.measure(space, other).cached and len(calls) == 2
    uncached = LatencyMeter([4], FAST, cache=False)
    assert uncached.cache is None and not uncached.measure(space, arch).cached and len(calls) == 3


def test_meter_arguments() -> None:
    assert LatencyMeter([4], {"threads": 2}, cache=None).setting == LatencySetting(threads=2)
    cache = LatencyCache(":memory:")
    assert LatencyMeter([4], cache=cache).cache is cache
    with pytest.raises(
        ConfigError, match="`cache` of LatencyMeter must be True, False, None, a path or a LatencyCache"
    ):
        LatencyMeter([4], cache=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Unknown latency setting key"):
        LatencyMeter([4], {"repeat": 3})


def test_meter_measure_model_is_never_cached(tmp_path: Path) -> None:
    meter = LatencyMeter([8], FAST, cache=tmp_path / "latency.sqlite")
    first, second = meter.measure_model(_tiny()), meter.measure_model(_tiny())
    assert not first.cached and not second.cached and first.input_shape == (8,)
