"""Zero-cost proxies of NAS-Bench-201 cells against the benchmark's accuracies and NASLib's published scores.

Builds each sampled cell as the benchmark's network (`NB201Space()`: C=16, N=5, 3 x 32 x 32 inputs, PyTorch's
default initialisation, seeded per cell), computes every proxy of `nasforge.estimation.PROXIES` on the CPU
and records the CPU seconds of each. `synflow`, `params` and `flops` are data-free (they use only the input
shape); the others get one batch of real images: Fashion-MNIST training images (the 50k split of
`FashionMNIST(valid_size=10000, seed=0)`), resized to 32 x 32 and repeated over 3 channels, the same batch for
every cell.

Reported, per proxy: the Spearman rank correlation with the CIFAR-10 test accuracy after 200 epochs
(`c10_test_acc_200` of `NB201Table`), and, on the cells NASLib also scored
(`nasforge.tables.load_naslib_zero_cost`: the file that ships with nasforge, CIFAR-10 part), the Spearman between our score and
NASLib's, and NASLib's own Spearman with the table on those cells. A score that is NaN (a degenerate network,
e.g. a cell whose output does not depend on its input) ranks below every finite score. The combination
`rank(synflow, naswot, flops)` is the mean of the three per-proxy ranks.

Scales differ from NASLib's where only ranks matter: its synflow is the natural log of ours, its FLOPs count
a multiply-add once (ours twice), and its naswot and jacob_cov come out about half ours (a smaller batch).

By default the sample starts with NASLib's cells (in a seeded random order) and continues with other cells
drawn uniformly, so that the comparison with NASLib uses as many cells as possible; `--sample random` draws
all cells uniformly. NASLib's cells are themselves a uniform-looking sample of the space.

NASLib's keys are op tuples (skip_connect=0, none=1, nor_conv_3x3=2, nor_conv_1x1=3, avg_pool_3x3=4) over the
edges (1,2), (1,3), (1,4), (2,3), (2,4), (3,4) of its 1-based nodes, i.e. our edges 1<-0, 2<-0, 3<-0, 2<-1,
3<-1, 3<-2. The script checks this mapping: NASLib's single-seed validation accuracies must rank like the
table's `c10valid_valid_acc_200` (Spearman > 0.95; it is 0.99 with this mapping, 0.74 with the edges in our
order).

    OMP_NUM_THREADS=1 python benchmarks/zero_cost_nb201.py --n 1000 --seed 0

Writes a new record under records/estimation/ (benchmarks/records.py; rewritten every 25 cells, so an interrupted run keeps its
cells) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata, spearmanr

from nasforge.data import FashionMNIST
from nasforge.estimation import PROXIES
from nasforge.tables import NB201Table, load_naslib_zero_cost
from nasforge.zoo.nb201 import NB201Space, str_to_arch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

TARGET = "c10_test_acc_200"
NASLIB_NAMES = {
    "synflow": "synflow",
    "naswot": "nwot",
    "grad_norm": "grad_norm",
    "snip": "snip",
    "fisher": "fisher",
    "jacob_cov": "jacov",
    "params": "params",
    "flops": "flops",
}
DATA_FREE = ("synflow", "params", "flops")
COMBINED = ("synflow", "naswot", "flops")
COMBINED_NAME = "rank(" + ", ".join(COMBINED) + ")"


def naslib_cells(table: NB201Table) -> dict[str, dict[str, Any]]:
    """NASLib's CIFAR-10 records keyed by our cell string; checks the edge mapping against the table."""
    cells = load_naslib_zero_cost(dataset="cifar10")
    valid = table.column("c10valid_valid_acc_200")
    ours = [valid[table.index(s)] for s in cells]
    theirs = [r["val_accuracy"] for r in cells.values()]
    rho = float(spearmanr(ours, theirs)[0])
    if rho < 0.95:
        raise SystemExit(f"NASLib's cells do not match the table (Spearman of validation accuracies {rho:.3f}).")
    return cells


def image_batch(size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` Fashion-MNIST training images as 3 x 32 x 32 and their labels."""
    train = FashionMNIST(valid_size=10000, seed=0).load().train
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:size]
    x = F.interpolate(train.x[idx], size=(32, 32), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    return x.contiguous(), train.y[idx].clone()


def sample(n: int, seed: int, table: NB201Table, first: list[str]) -> list[int]:
    """`n` distinct table rows: those of `first` (shuffled), then uniformly drawn others."""
    rng = np.random.default_rng(seed)
    head = [table.index(s) for s in first]
    rng.shuffle(head)
    chosen = head[:n]
    taken = set(chosen)
    rest = [int(i) for i in rng.permutation(len(table)) if int(i) not in taken]
    return chosen + rest[: n - len(chosen)]


def ranks(values: list[float]) -> np.ndarray:
    """Ranks with NaN below every finite value."""
    a = np.array(values, dtype=float)
    a[~np.isfinite(a)] = -np.inf
    return rankdata(a)


def spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    rho = spearmanr(ranks(a), ranks(b))[0]
    return None if math.isnan(rho) else float(rho)


def summarise(rows: list[dict[str, Any]], naslib: dict[str, dict[str, Any]]) -> dict[str, Any]:
    acc = [r["accuracy"] for r in rows]
    both = [r for r in rows if r["arch_str"] in naslib]
    both_acc = [r["accuracy"] for r in both]
    out: dict[str, Any] = {"cells": len(rows), "cells_with_naslib": len(both), "proxies": {}}
    for name in PROXIES:
        ours = [r["scores"][name] for r in rows]
        scored = [r for r in both if NASLIB_NAMES[name] in naslib[r["arch_str"]]]  # NASLib lacks a few scores
        theirs = [naslib[r["arch_str"]][NASLIB_NAMES[name]]["score"] for r in scored]
        out["proxies"][name] = {
            "spearman_vs_table": spearman(ours, acc),
            "nan_scores": int(sum(not math.isfinite(v) for v in ours)),
            "spearman_vs_naslib": spearman([r["scores"][name] for r in scored], theirs),
            "naslib_spearman_vs_table": spearman(theirs, [r["accuracy"] for r in scored]),
            "cpu_seconds_per_cell": float(np.mean([r["seconds"][name] for r in rows])) if rows else None,
        }
    combined = np.mean([ranks([r["scores"][n] for r in rows]) for n in COMBINED], axis=0) if rows else []
    out["combined"] = {"name": COMBINED_NAME, "spearman_vs_table": spearman(list(combined), acc)}
    if both:
        theirs_combined = np.mean(
            [
                ranks([naslib[r["arch_str"]].get(NASLIB_NAMES[n], {}).get("score", math.nan) for r in both])
                for n in COMBINED
            ],
            axis=0,
        )
        out["combined"]["naslib_spearman_vs_table"] = spearman(list(theirs_combined), both_acc)
    out["cpu_seconds_per_cell"] = float(np.mean([sum(r["seconds"].values()) for r in rows])) if rows else None
    return out


def clean(value: Any) -> Any:
    """NaN and infinities as null, for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['cells']} cells ({summary['cells_with_naslib']} also scored by NASLib); "
        f"CPU seconds per cell, all proxies: {fmt(summary['cpu_seconds_per_cell'], 2)}",
        "",
        "| proxy | Spearman vs c10_test_acc_200 | vs NASLib's score | NASLib's vs c10_test_acc_200 | NaN | CPU s / cell |",
        "|---|---|---|---|---|---|",
    ]
    for name, p in summary["proxies"].items():
        lines.append(
            f"| {name} | {fmt(p['spearman_vs_table'])} | {fmt(p['spearman_vs_naslib'])} | "
            f"{fmt(p['naslib_spearman_vs_table'])} | {p['nan_scores']} | {fmt(p['cpu_seconds_per_cell'], 3)} |"
        )
    c = summary["combined"]
    lines.append(
        f"| {c['name']} | {fmt(c['spearman_vs_table'])} | - | {fmt(c.get('naslib_spearman_vs_table'))} | - | - |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="cells to score (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample, the batch and the initialisations")
    parser.add_argument("--batch", type=int, default=64, help="images in the batch of the data-dependent proxies")
    parser.add_argument("--sample", choices=("naslib-first", "random"), default="naslib-first")
    args = parser.parse_args()
    if args.n < 3 or args.batch < 2:
        parser.error("--n must be at least 3 and --batch at least 2")

    torch.set_num_threads(1)
    table = NB201Table.load()
    naslib = naslib_cells(table)
    first = sorted(naslib) if args.sample == "naslib-first" else []
    indices = sample(args.n, args.seed, table, first)
    x, y = image_batch(args.batch, args.seed)
    accuracy = table.column(TARGET)
    space = NB201Space()

    config = {
        "n": args.n,
        "seed": args.seed,
        "batch": args.batch,
        "sample": args.sample,
        "target": TARGET,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
    }
    rows: list[dict[str, Any]] = []
    record = Record("zero_cost_nb201", area="estimation", config=vars(args))
    start = time.perf_counter()

    def save() -> dict[str, Any]:
        summary = summarise(rows, naslib)
        summary["wall_seconds"] = time.perf_counter() - start
        record.runs = clean(rows)
        record.save(summary=clean({"settings": config, **summary}))
        return summary

    for k, i in enumerate(indices, start=1):
        arch_str = table.arch_strs[i]
        torch.manual_seed(args.seed * 100_003 + i)
        net = space.freeze(str_to_arch(arch_str))
        scores: dict[str, float] = {}
        seconds: dict[str, float] = {}
        for name in PROXIES:
            proxy = PROXIES[name]
            t = time.process_time()
            scores[name] = proxy(net, x, y)
            seconds[name] = time.process_time() - t
        rows.append(
            {"index": i, "arch_str": arch_str, "accuracy": float(accuracy[i]), "scores": scores, "seconds": seconds}
        )
        if k % 25 == 0 or k == len(indices):
            save()
            print(f"{k}/{len(indices)} cells, {time.perf_counter() - start:.0f} s", flush=True)
    print(markdown(save()))
    print(f"\nrecord: {record.path}")


if __name__ == "__main__":
    main()
