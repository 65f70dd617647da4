"""Benchmark harnesses: NAS-Bench-201 on a simulated clock."""

from nasforge.bench.report import PUBLISHED, format_table, mean_std, paired_difference, plot, save_json, summary
from nasforge.bench.runner import RunResult, RunSpec, run_many, run_one

__all__ = [
    "PUBLISHED",
    "RunResult",
    "RunSpec",
    "format_table",
    "mean_std",
    "paired_difference",
    "plot",
    "run_many",
    "run_one",
    "save_json",
    "summary",
]
