"""One-shot search against the main job on Fashion-MNIST, in CPU seconds.

Runs the `fashion_mnist` preset (the README's main job) with its strategy replaced by a one-shot method,
through the same `Experiment`, storage and export: the supernet is trained on the preset's training part
(`evaluator.train_fraction`) and validation split, the derived arch is evaluated as the experiment's one
trial, then retrained and tested exactly as the main job's best arch is (train + valid, at most
`export.epochs` epochs / `export.time_budget` seconds, one test pass). With `--baseline` it runs the
unchanged preset (the multi-trial search) the same way, for a side-by-side figure.

CPU time is the process's own user + system time plus that of its finished worker processes
(`resource.getrusage`), for the search (`Experiment.run`) and the retraining apart.

    python benchmarks/oneshot_fashion_mnist.py --seeds 0 1 2
    python benchmarks/oneshot_fashion_mnist.py --baseline --seeds 0

Writes a new record under records/oneshot/ (benchmarks/records.py), one run per seed.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from nasforge.config import apply_overrides, build_experiment, load_preset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_once(args: argparse.Namespace, seed: int, folder: Path) -> dict[str, Any]:
    cfg = load_preset("fashion_mnist")
    cfg.update(name=f"run-{seed}", storage=str(folder / "nas.db"), seed=seed)
    if not args.baseline:
        cfg["strategy"] = {"name": args.method, "epochs": args.epochs, "fixed": args.fixed, "batch_size": 128}
        cfg["executor"] = {"name": "sequential"}
        cfg["evaluator"] = {**cfg.get("evaluator", {}), "train_fraction": args.train_fraction}
    cfg = apply_overrides(cfg, args.set)
    experiment = build_experiment(cfg)
    run = cfg.get("run", {})
    wall, cpu = time.perf_counter(), cpu_seconds()
    experiment.run(max_trials=run.get("max_trials"), timeout=run.get("timeout"))
    search_wall, search_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    best = experiment.best_trial
    assert best is not None, "no trial completed"
    export = cfg["export"]
    wall, cpu = time.perf_counter(), cpu_seconds()
    _, metrics = experiment.export(str(folder / "out"), epochs=export["epochs"], time_budget=export["time_budget"])
    out: dict[str, Any] = {
        "seed": seed,
        "strategy": cfg["strategy"],
        "trials": len(experiment.trials),
        "search_cpu_s": round(search_cpu, 1),
        "search_wall_s": round(search_wall, 1),
        "retrain_cpu_s": round(cpu_seconds() - cpu, 1),
        "retrain_wall_s": round(time.perf_counter() - wall, 1),
        "best_val_acc": round(float(best.metrics["val_acc"]), 4),
        "test_acc": round(float(metrics["test_acc"]), 4),
        "retrain_epochs": metrics.get("epochs"),
        "arch": best.arch.to_dict(),
    }
    result = getattr(experiment.strategy, "result", None)
    if result:
        out["supernet_search_s"] = round(result["search_time"], 1)
        out["pinned"] = result["pinned"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", action="store_true", help="run the unchanged preset (multi-trial search)")
    p.add_argument("--method", default="oneshot", help="one-shot strategy name (default: the default, DrNAS)")
    p.add_argument("--epochs", type=int, default=6, help="supernet epochs (the first third weight-only)")
    p.add_argument("--fixed", default="defaults", help="'defaults' or a YAML mapping of pinned decisions")
    p.add_argument("--train-fraction", type=float, default=0.25, help="part of the training split searched on")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="further config overrides")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--threads", type=int, default=2, help="torch threads of the driver")
    args = p.parse_args()
    if args.fixed != "defaults":
        args.fixed = yaml.safe_load(args.fixed)
    torch.set_num_threads(args.threads)
    record = Record(
        "oneshot_fashion_mnist_baseline" if args.baseline else "oneshot_fashion_mnist",
        area="oneshot",
        config=vars(args),
    )
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            run = run_once(args, seed, Path(tmp))
        record.add_run(run)
        print(json.dumps({k: v for k, v in run.items() if k not in ("arch", "pinned")}), flush=True)
    accs = [r["test_acc"] for r in record.runs]
    print(f"record: {record.save(summary={'mean_test_acc': sum(accs) / len(accs), 'seeds': len(accs)})}")


if __name__ == "__main__":
    main()
