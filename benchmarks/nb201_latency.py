"""Measure the CPU latency of the project's own NAS-Bench-201 networks, cell by cell, into a table.

Each cell's network (`nasforge.zoo.nb201`, C=16, N=5, CIFAR-10 input 3x32x32, batch 1) is built, put in eval
mode and timed with `nasforge.multiobjective.measure_latency` (PyTorch eager, one thread): `--warmup` untimed
runs, then the median and the minimum of `--repeats` timed ones. Isomorphic cells are measured one by one,
since eager PyTorch computes an edge whose result goes unused. Cells go in a seeded random order, so that a
busy spell on the machine lands on random cells rather than on a block of similar ones, and the file is
written every 500 cells, so a killed run resumes where it stopped. `--retest N` measures N random cells a
second time and prints the rank correlation between the two passes.

    OMP_NUM_THREADS=1 python benchmarks/nb201_latency.py [--cells 15625]

writes a new record under records/multiobjective/ (benchmarks/records.py) with the device and settings, and the
table beside it, the record's name with `.csv.gz` (arch_index, latency_ms = median, latency_min_ms), which
`NB201Evaluator(latency_table=...)` reads. `--resume FILE.csv.gz` continues a table that a killed run left.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nasforge.cost import LatencySetting, device_key, measure_latency
from nasforge.tables import NB201Table
from nasforge.zoo.nb201 import NB201Space, str_to_arch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

SHAPE = (3, 32, 32)


def read(path: Path) -> dict[int, tuple[float, float]]:
    if not path.exists():
        return {}
    with gzip.open(path, "rt", newline="") as f:
        return {int(r["arch_index"]): (float(r["latency_ms"]), float(r["latency_min_ms"])) for r in csv.DictReader(f)}


def write(path: Path, rows: dict[int, tuple[float, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch_index", "latency_ms", "latency_min_ms"])
        for i in sorted(rows):
            w.writerow([i, f"{rows[i][0]:.4f}", f"{rows[i][1]:.4f}"])
    tmp.replace(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=15625, help="how many cells (a seeded random subset)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--retest", type=int, default=300, help="cells measured twice, for the test-retest figure")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", type=Path, default=None, help="a table a killed run left, to continue")
    args = p.parse_args()
    torch.set_num_threads(1)
    setting = LatencySetting(warmup=args.warmup, repeats=args.repeats, threads=1)
    table = NB201Table.load()
    space = NB201Space()
    order = np.random.default_rng(args.seed).permutation(len(table))[: args.cells]
    record = Record("nb201_latency_cpu", area="multiobjective", config=vars(args))
    out = record.path.with_suffix(".csv.gz")
    rows = read(args.resume) if args.resume else {}
    arch_strs = table.arch_strs

    def measure(i: int) -> tuple[float, float]:
        result = measure_latency(space.freeze(str_to_arch(arch_strs[i])), SHAPE, setting)
        return result.median_ms, result.min_ms

    start, todo = time.perf_counter(), [int(i) for i in order if int(i) not in rows]
    for n, i in enumerate(todo, 1):
        rows[i] = measure(i)
        if n % 500 == 0 or n == len(todo):
            write(out, rows)
            print(f"{len(rows)} cells, {(time.perf_counter() - start) / n * 1e3:.0f} ms per cell", flush=True)
    retest = [int(i) for i in order[: args.retest]]
    again = np.array([measure(i)[0] for i in retest])
    first = np.array([rows[i][0] for i in retest])
    rho = float(np.corrcoef(np.argsort(np.argsort(first)), np.argsort(np.argsort(again)))[0, 1])
    ratio = float(np.median(again / first))
    meta = {
        "device_key": device_key(setting, SHAPE),
        "setting": {"warmup": setting.warmup, "repeats": setting.repeats, "threads": 1, "backend": "eager"},
        "input_shape": list(SHAPE),
        "cells": len(rows),
        "retest": {"cells": len(retest), "spearman": rho, "median_ratio": ratio},
        "latency_ms": {"min": min(v[0] for v in rows.values()), "max": max(v[0] for v in rows.values())},
    }
    record.runs = [{"cell": i, "retest_ms": float(a), "first_ms": float(f)} for i, a, f in zip(retest, again, first)]
    print(json.dumps(meta))
    print(f"record: {record.save(summary={**meta, 'table': out.name})}")


if __name__ == "__main__":
    main()
