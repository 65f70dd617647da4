"""Zero-cost proxies inside search strategies on NAS-Bench-201: each strategy with and without them.

Three ways in (`--method`): `warmup` wraps the strategy in `ZeroCostWarmup` (random proposals from the top
of a proxy-ranked pool); `filter` wraps it in `ZeroCostFilter` (only archs above the `1 - keep` quantile of
a 100-arch pool are evaluated); `features` gives BO the proxy as one more predictor feature
(`proxy_features`; only for `bo` and `bananas`).

Abdelfattah et al. 2021 ("Zero-Cost Proxies for Lightweight NAS", ICLR, Section 5) score a pool of random
archs with a proxy before the search and let the strategy's random proposals come from the pool's top:
evolution's first population, BO's initial design, random search's order, local search's starts. Here the
proxy is `synflow` computed with the project's own code (`ProxyScorer`: `NB201Space()`, C=16, N=5,
3 x 32 x 32 input of ones, PyTorch's default initialisation seeded per cell), once for all 15,625 cells of
the table, cached in `benchmarks/.cache/` (about 10 min on one thread). The same scores serve the three
datasets (the CIFAR-10 network; synflow does not look at data). During the search the middleware reads them
through a lookup, so a run costs milliseconds; the CPU time the proxy would have cost inside a run (pool x
seconds per cell) is reported beside the simulated budget.

Protocol: `nasforge.bench.runner` unchanged (12-epoch validation accuracy as the signal, 12-epoch training
time as the cost, budgets 12,000 / 40,000 / 120,000 simulated s, result = 200-epoch test accuracy of the
arch with the best signal). Both arms run the same seeds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/zero_cost_search_nb201.py \
        --seeds 200 --bo-seeds 30 --pool 1000

Writes a new record under records/estimation/ (benchmarks/records.py; zero_cost_<method>_nb201-*.json) and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from nasforge.bench import RunSpec, mean_std, paired_difference, run_one
from nasforge.estimation import ProxyScorer
from nasforge.strategies import ZeroCostFilter, ZeroCostWarmup
from nasforge.tables import NB201Table
from nasforge.zoo.nb201 import NB201Space, arch_to_str, str_to_arch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from records import Record  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
OUTS = {"warmup": "zero_cost_search_nb201", "filter": "zero_cost_filter_nb201", "features": "zero_cost_features_nb201"}
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
STRATEGY_KWARGS: dict[str, dict[str, Any]] = {"evolution": {"population_size": 10, "sample_size": 3}}
PROXY = "synflow"
SCORE_SEED = 0


def precompute(table: NB201Table, path: Path) -> dict[str, Any]:
    """`synflow` of every table row (official order), computed once and cached; resumes a partial cache."""
    cache: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"scores": [], "cpu_seconds": 0.0}
    n = len(table.arch_strs)
    if len(cache["scores"]) < n:
        torch.set_num_threads(1)
        space = NB201Space()
        scorer = ProxyScorer(PROXY, input_shape=(3, 32, 32), seed=SCORE_SEED)
        start = time.perf_counter()
        for lo in range(len(cache["scores"]), n, 500):
            archs = [str_to_arch(s) for s in table.arch_strs[lo : lo + 500]]
            before = scorer.cpu_seconds
            cache["scores"].extend(_json_float(v) for v in scorer(space, archs))
            cache["cpu_seconds"] += scorer.cpu_seconds - before
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cache))
            done = len(cache["scores"])
            print(f"synflow: {done}/{n} cells, {time.perf_counter() - start:.0f} s", flush=True)
    cache["cpu_seconds_per_cell"] = cache["cpu_seconds"] / n
    return cache


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def markdown(
    rows: list[dict[str, Any]], pool: int, cpu_per_cell: float, rho: dict[str, float], method: str = "warmup"
) -> str:
    spearman = ", ".join(f"{d} {r:.3f}" for d, r in rho.items())
    cost = {
        "warmup": f"Pool {pool} cells scored by {PROXY}: {pool * cpu_per_cell:.0f} CPU s per run",
        "filter": f"{PROXY} of 100 pool cells plus every proposal: {cpu_per_cell * 1000:.1f} ms per cell",
        "features": f"{PROXY} of every candidate: {cpu_per_cell * 1000:.1f} ms per cell",
    }[method]
    lines = [
        f"Method {method}. {cost} on one thread ({cpu_per_cell * 1000:.1f} ms per cell), against simulated "
        f"budgets of 12,000 / 40,000 / 120,000 s. Spearman of {PROXY} with the 200-epoch test accuracy over all "
        f"cells: {spearman}.",
        "",
        "| strategy | dataset | seeds | without the proxy | with it | difference +- SE (paired SE) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        a, b, d = r["without"], r["with"], r["difference"]
        lines.append(
            f"| {r['strategy']} | {r['dataset']} | {a['n']} | {a['mean']:.2f} +- {a['std']:.2f} | "
            f"{b['mean']:.2f} +- {b['std']:.2f} | {d['mean']:+.2f} +- {d['se']:.2f} ({d['se_paired']:.2f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200, help="seeds per strategy and dataset (default 200)")
    parser.add_argument("--bo-seeds", type=int, default=30, help="seeds for bo, about 2 s per run (0: skip bo)")
    parser.add_argument("--pool", type=int, default=1000, help="random cells scored before the search")
    parser.add_argument("--strategies", default="random,evolution,local_search", help="cheap strategies to run")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--precompute-only", action="store_true", help="fill the score cache and stop")
    parser.add_argument("--method", choices=list(OUTS), default="warmup", help="how the proxy enters (default warmup)")
    parser.add_argument("--keep", type=float, default=0.5, help="fraction the filter lets through (default 0.5)")
    args = parser.parse_args()
    if args.seeds < 2 or args.pool < 1 or args.bo_seeds < 0:
        parser.error("--seeds must be at least 2, --pool at least 1 and --bo-seeds at least 0")
    torch.set_num_threads(1)

    table = NB201Table.load()
    cache = precompute(table, CACHE / f"nb201_{PROXY}_seed{SCORE_SEED}.json")
    if args.precompute_only:
        return
    scores = cache["scores"]
    lookup = {s: v for s, v in zip(table.arch_strs, scores, strict=True)}
    finite = [i for i, v in enumerate(scores) if v is not None]
    rho = {  # how well the proxy ranks the cells, as a reference for the search results
        d: float(spearmanr([scores[i] for i in finite], [table.column(c)[i] for i in finite])[0])
        for d, c in (
            ("cifar10", "c10_test_acc_200"),
            ("cifar100", "c100_test_acc_200"),
            ("imagenet16-120", "in16_test_acc_200"),
        )
    }
    scorer = ProxyScorer(PROXY, lookup=lookup, key=arch_to_str)
    record = Record(OUTS[args.method], area="estimation", config=vars(args))
    wrap: Any = None
    if args.method == "warmup":
        wrap = functools.partial(ZeroCostWarmup, scorer=scorer, pool=args.pool)
    elif args.method == "filter":
        wrap = functools.partial(ZeroCostFilter, scorer=scorer, keep=args.keep, pool=100)

    plan = [(s, args.seeds) for s in args.strategies.split(",") if s] + (
        [("bo", args.bo_seeds)] if args.bo_seeds else []
    )
    datasets = [d for d in args.datasets.split(",") if d]
    rows: list[dict[str, Any]] = []
    runs: dict[str, dict[str, list[float]]] = {}
    start = time.perf_counter()
    for strategy, seeds in plan:
        for dataset in datasets:
            finals: dict[str, list[float]] = {"without": [], "with": []}
            trials: dict[str, list[int]] = {"without": [], "with": []}
            for seed in range(seeds):
                kw = STRATEGY_KWARGS.get(strategy, {})
                for arm in ("without", "with"):
                    arm_kw = {**kw, "proxy_features": scorer} if arm == "with" and args.method == "features" else kw
                    arm_wrap = wrap if arm == "with" else None
                    spec = RunSpec(strategy, dataset, seed, arm_kw, wrap=arm_wrap, label=f"{strategy}-{arm}")
                    res = run_one(spec)
                    finals[arm].append(res.final_test)
                    trials[arm].append(res.n_trials)
            row = {
                "strategy": strategy,
                "dataset": dataset,
                "without": mean_std(finals["without"]),
                "with": mean_std(finals["with"]),
                "difference": paired_difference(finals["with"], finals["without"]),
                "mean_trials": {arm: float(np.mean(t)) for arm, t in trials.items()},
            }
            rows.append(row)
            runs[f"{strategy}/{dataset}"] = finals
            print(
                f"{strategy} {dataset}: {row['without']['mean']:.2f} -> {row['with']['mean']:.2f} "
                f"({seeds} seeds, {time.perf_counter() - start:.0f} s)",
                flush=True,
            )
            save(record, args, cache, rho, rows, runs, time.perf_counter() - start)
    print(markdown(rows, args.pool, cache["cpu_seconds_per_cell"], rho, args.method))
    print(f"\nrecord: {record.path}")


def save(
    record: Record,
    args: argparse.Namespace,
    cache: dict[str, Any],
    rho: dict[str, float],
    rows: list[dict[str, Any]],
    runs: dict[str, Any],
    wall: float,
) -> None:
    config = {
        "proxy": PROXY,
        "score_seed": SCORE_SEED,
        "method": args.method,
        "pool": args.pool,
        "keep": args.keep if args.method == "filter" else None,
        "seeds": args.seeds,
        "bo_seeds": args.bo_seeds,
        "strategy_kwargs": STRATEGY_KWARGS,
        "network": "NB201Space() C=16 N=5, input 3x32x32 of ones",
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    proxy = {
        "cells": len(cache["scores"]),
        "nan_scores": sum(v is None for v in cache["scores"]),
        "cpu_seconds_all_cells": cache["cpu_seconds"],
        "cpu_seconds_per_cell": cache["cpu_seconds_per_cell"],
        "cpu_seconds_per_run": cache["cpu_seconds_per_cell"] * args.pool,
        "spearman_vs_test_acc_200": rho,
    }
    record.runs = rows
    record.save(summary={"settings": config, "proxy": proxy, "final_test": runs, "wall_seconds": wall})


if __name__ == "__main__":
    main()
