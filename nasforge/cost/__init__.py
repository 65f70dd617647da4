"""Cost of a network: parameters, FLOPs and measured latency. A low layer: it knows networks and spaces, and
any layer above may use it (evaluators record cost, proxies score by it, objectives constrain it)."""

from nasforge.cost.flops import count_flops, count_params
from nasforge.cost.latency import LatencyResult, LatencySetting, device_key, measure_latency
from nasforge.cost.meter import (
    LatencyCache,
    LatencyMeter,
    default_cache_path,
    describe_latency,
    make_latency_meter,
    network_key,
)

__all__ = [
    "LatencyCache",
    "LatencyMeter",
    "LatencyResult",
    "LatencySetting",
    "count_flops",
    "count_params",
    "default_cache_path",
    "describe_latency",
    "device_key",
    "make_latency_meter",
    "measure_latency",
    "network_key",
]
