"""Executors: where evaluations run: in this process, in a pool of local worker processes, on a simulated
clock, or on a Ray cluster."""

from __future__ import annotations

from typing import Any

from nasforge.executors.base import BaseExecutor, Job, JobResult, run_job
from nasforge.executors.pool import LocalPoolExecutor
from nasforge.executors.sequential import SequentialExecutor
from nasforge.executors.simulated import SimulatedExecutor
from nasforge.registry import Registry

#: the names a configuration's `executor` section takes
EXECUTORS: Registry[BaseExecutor] = Registry("executor")
EXECUTORS.add("sequential", SequentialExecutor, "Trials one after another in this process (the default).")
EXECUTORS.add("pool", LocalPoolExecutor, "Trials in a pool of worker processes on this machine.")
# imported on first use: `import nasforge` never imports ray
EXECUTORS.add_lazy("ray", "nasforge.executors.ray_executor:RayExecutor", "Trials on a Ray cluster (nasforge[ray]).")
EXECUTOR_NAMES = tuple(EXECUTORS)  # kept for code that imported it; EXECUTORS is the source


def executor_class(name: str) -> Any:
    """The executor class for a configuration name (`EXECUTORS.get`); Ray's is imported only when asked for."""
    return EXECUTORS.get(name)


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":  # lazily: importing nasforge never imports ray
        return executor_class("ray")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EXECUTORS",
    "EXECUTOR_NAMES",
    "BaseExecutor",
    "Job",
    "JobResult",
    "LocalPoolExecutor",
    "RayExecutor",
    "SequentialExecutor",
    "SimulatedExecutor",
    "executor_class",
    "run_job",
]
