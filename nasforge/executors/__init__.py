"""Executors: where evaluations run: in this process, in a pool of local worker processes, on a simulated
clock, or on a Ray cluster."""

from __future__ import annotations

from typing import Any

from nasforge.errors import unknown_name
from nasforge.executors.base import BaseExecutor, Job, JobResult, run_job
from nasforge.executors.pool import LocalPoolExecutor
from nasforge.executors.sequential import SequentialExecutor
from nasforge.executors.simulated import SimulatedExecutor

#: the names a configuration's `executor` section takes
EXECUTOR_NAMES = ("sequential", "pool", "ray")


def executor_class(name: str) -> Any:
    """The executor class for a configuration name; Ray's is imported only when asked for."""
    if name == "sequential":
        return SequentialExecutor
    if name == "pool":
        return LocalPoolExecutor
    if name == "ray":
        from nasforge.executors.ray_executor import RayExecutor

        return RayExecutor
    raise unknown_name("executor", name, EXECUTOR_NAMES)


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":  # lazily: importing nasforge never imports ray
        return executor_class("ray")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
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
