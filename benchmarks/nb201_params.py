"""Parameter counts of `NB201Space` against the NAS-Bench-201 table, for every cell.

Builds each cell's network with `freeze`, counts its parameters and compares the count with the table's
`c10_params_mb` (millions, rounded to 6 significant digits). Prints the largest relative error, how many
cells are off by more than 1 %, and the wall time. The networks are built on PyTorch's meta device, which
allocates and initialises nothing, so the time is that of constructing the modules.

About 1 % of the table's rows (150 of 15,625) carry the parameter count of another cell of their isomorphism
class (same `unique_str`) rather than their own; the data's sources were merged by isomorphism class, and
the per-seed file repeats the same values. Training times in those rows fit the cell's own operations. The
script says how many mismatches such a sibling explains.

    python benchmarks/nb201_params.py [--limit N] [--dataset c10|c100|in16] [--table PATH]

Without `--table` the table is found as `NB201Table.load()` finds it: `$NASFORGE_NB201` or `$NASFORGE_DATA`
if set, else the copy that ships with nasforge. Writes a new record under records/bench/ (benchmarks/records.py):
one run per cell beyond the tolerance, and the counts above as the summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.tables import NB201Table
from nasforge.zoo.nb201 import NB201Space, str_to_arch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

DATASETS: dict[str, dict[str, Any]] = {  # constructor arguments of the benchmark's networks
    "c10": {"num_classes": 10},
    "c100": {"num_classes": 100},
    "in16": {"num_classes": 120, "input_shape": (3, 16, 16)},
}
TOLERANCE = 0.01


class Counter:
    """Parameter counts of frozen cells, built once each."""

    def __init__(self, space: NB201Space, table: NB201Table) -> None:
        self.space = space
        self.table = table
        self.counts: dict[int, int] = {}

    def __call__(self, i: int) -> int:
        if i not in self.counts:
            with torch.device("meta"):
                net = self.space.freeze(str_to_arch(self.table.arch_strs[i]))
            self.counts[i] = sum(p.numel() for p in net.parameters())
        return self.counts[i]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="check only the first N cells")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="c10")
    parser.add_argument("--table", default=None, help="path of nb201.csv.gz")
    args = parser.parse_args()
    record = Record("nb201_params", area="bench", config=vars(args))

    table = NB201Table.load(args.table)
    expected = table.column(f"{args.dataset}_params_mb") * 1e6
    n = len(table) if args.limit is None else min(args.limit, len(table))
    count = Counter(NB201Space(**DATASETS[args.dataset]), table)

    start = time.perf_counter()
    counts = np.array([count(i) for i in range(n)], dtype=np.float64)
    elapsed = time.perf_counter() - start

    rel = np.abs(counts - expected[:n]) / expected[:n]
    worst = int(np.argmax(rel))
    beyond = np.flatnonzero(rel > TOLERANCE)
    within = rel[rel <= TOLERANCE]
    explained = [
        i
        for i in beyond
        if any(
            abs(count(int(j)) - expected[i]) <= TOLERANCE * expected[i]
            for j in np.flatnonzero(table.unique_keys == table.unique_keys[i])
        )
    ]
    print(f"cells checked: {n} ({args.dataset}_params_mb)")
    print(f"max relative error: {rel[worst]:.3e} (cell {worst}: {int(counts[worst])} vs {expected[worst]:.0f})")
    if len(within):
        print(f"max relative error of the cells within 1%: {within.max():.3e}")
    print(f"cells beyond 1%: {len(beyond)}, of which {len(explained)} hold the count of an isomorphic cell")
    print(f"wall time: {elapsed:.1f} s ({1000 * elapsed / n:.2f} ms per cell)")
    for i in beyond:
        record.runs.append(
            {"cell": int(i), "count": int(counts[i]), "table": float(expected[i]), "isomorphic_match": i in explained}
        )
    summary = {
        "cells": n,
        "max_rel_error": float(rel[worst]),
        "max_rel_error_within": float(within.max()) if len(within) else None,
        "tolerance": TOLERANCE,
        "cells_within": len(within),
        "cells_beyond": len(beyond),
        "beyond_explained_by_isomorphic_cell": len(explained),
        "wall_s": elapsed,
        "ms_per_cell": 1000 * elapsed / n,
    }
    print(f"record: {record.save(summary=summary)}")


if __name__ == "__main__":
    main()
