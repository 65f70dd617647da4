"""Executors: where evaluations run."""

from nasforge.executors.base import BaseExecutor, Job, JobResult, run_job
from nasforge.executors.pool import LocalPoolExecutor
from nasforge.executors.sequential import SequentialExecutor
from nasforge.executors.simulated import SimulatedExecutor

__all__ = [
    "BaseExecutor",
    "Job",
    "JobResult",
    "LocalPoolExecutor",
    "SequentialExecutor",
    "SimulatedExecutor",
    "run_job",
]
