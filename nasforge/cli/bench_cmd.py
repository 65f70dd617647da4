"""`nasforge bench`: strategies x seeds x datasets on NAS-Bench-201, on a simulated clock."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

from nasforge.errors import ConfigError, unknown_name


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark strategies on NAS-Bench-201 (tabular, simulated time)")
    p.add_argument("--strategies", default="random,evolution", help="comma-separated strategy names")
    p.add_argument("--datasets", default="cifar10,cifar100,imagenet16-120", help="comma-separated datasets")
    p.add_argument("--seeds", type=int, default=200, help="runs per strategy and dataset (default 200)")
    p.add_argument("--budget", type=float, help="simulated seconds per run (default: the protocol's per dataset)")
    p.add_argument("--workers", type=int, default=1, help="simulated parallel workers inside each search")
    p.add_argument("--processes", type=int, help="processes running searches side by side (default: CPUs)")
    p.add_argument(
        "--table", help="NAS-Bench-201 CSV (default: $NASFORGE_NB201 or $NASFORGE_DATA/nb201/, else the bundled one)"
    )
    p.add_argument(
        "--out", default="bench-out", help="folder for results.json and the plots (a rerun adds results-2.json, ...)"
    )
    p.add_argument("--dedup", action="store_true", help="wrap each strategy in Deduplicate (isomorphism-aware)")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from nasforge.bench import RunSpec, format_table, plot, run_many, save_json, summary
    from nasforge.bench.runner import datasets
    from nasforge.oneshot import ONESHOT_NAMES
    from nasforge.strategies import STRATEGIES
    from nasforge.tables import NB201Table

    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for s in strategies:
        STRATEGIES.get(s)
        if s in ONESHOT_NAMES:
            raise ConfigError(
                f"Strategy {s!r} is one-shot: it trains a supernet on real images, which a table replay has none "
                "of; benchmark it with benchmarks/oneshot_nb201.py."
            )
    for d in names:
        if d not in datasets():
            raise unknown_name("NAS-Bench-201 dataset", d, datasets())
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, but got {args.seeds}.")
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, but got {args.workers}.")
    NB201Table.load(args.table)  # a missing table fails here, before any work
    plots = not args.no_plots
    if plots and importlib.util.find_spec("matplotlib") is None:  # say so before the work, not after it
        print(
            "nasforge bench: matplotlib is not installed, so no plots will be drawn (pip install 'nasforge[plot]'); "
            "the results are written as usual.",
            file=sys.stderr,
        )
        plots = False
    kwargs = {"evolution": {"population_size": 10, "sample_size": 3}}
    specs = [
        RunSpec(s, d, seed, kwargs.get(s, {}), args.budget, args.workers, dedup=args.dedup)
        for s in strategies
        for d in names
        for seed in range(args.seeds)
    ]
    start = time.perf_counter()
    results = run_many(specs, workers=args.processes, table_path=args.table)
    elapsed = time.perf_counter() - start
    print(format_table(summary(results)))
    print(f"{len(specs)} runs in {elapsed:.1f} s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path, suffix = free_name(out)
    save_json(results, path, about(args, elapsed))
    print(f"results: {path}")
    if plots:
        for png in plot(results, out, suffix):
            print(f"plot: {png}")
    return 0


def free_name(out: Path) -> tuple[Path, str]:
    """`out/results.json`, or `results-N.json` with the first free N (and its suffix `-N` for the plots), taken
    at once: a rerun into the same folder never replaces an earlier run's results."""
    n = 1
    while True:
        suffix = f"-{n}" if n > 1 else ""
        path = out / f"results{suffix}.json"
        try:
            path.open("x").close()
            return path, suffix
        except FileExistsError:
            n += 1


def about(args: argparse.Namespace, elapsed: float) -> dict[str, Any]:
    """What ran: the settings, the versions and the date, written before the results."""
    import datetime as dt
    import platform

    import torch

    import nasforge

    keys = ("strategies", "datasets", "seeds", "budget", "workers", "dedup", "table")
    return {
        "command": "nasforge bench",
        "settings": {k: getattr(args, k) for k in keys},
        "nasforge": nasforge.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(elapsed, 1),
    }
