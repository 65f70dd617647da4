"""Evolution on Fashion-MNIST with and without weight inheritance and early stopping, in CPU seconds.

Every variant runs the main job's search (the `fashion_mnist` preset: the `cnn` space, regularized evolution
with population 10 and tournament 3, validation on 10,000 held-out training images) through the same
`Experiment`, with trials of `--epochs` epochs on `--train-fraction` of the training split, one after another
in one process on one torch thread, until the trials have used `--budget` CPU seconds (the `BudgetLimit`
middleware summing each trial's `cpu_time` metric; the trial running at the limit finishes). Variants:

- `baseline`: every trial trains from scratch for all its epochs;
- `inherit`: a mutated child starts from its parent's trained weights and trains half the epochs;
- `stop`: the median stopping rule ends a trial whose best validation accuracy so far is below the median of
  the completed trials' at the same epoch;
- `inherit+stop`: both.

Reported per run: the best validation accuracy at the end of the budget; and for each variant the CPU time
at which its best validation accuracy first reached the baseline's final best (same seed), and that time
over the baseline's total. An inheriting child's validation accuracy is that of a network trained over its
whole lineage, so the best arch of every run is also trained again from scratch as a baseline trial would be
(`scratch_val_acc`, same epochs and data), to show whether the arch itself is as good.

    NASFORGE_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/cheap_evaluation_fashion_mnist.py \\
        --variants baseline inherit+stop --seeds 0

Results are appended to docs/estimation/cheap_evaluation_fashion_mnist.json (one record per run; rerunning
a variant, seed and budget replaces its record) and the table is printed from all records. Runs made in
parallel processes write their own `--out` files; `--merge FILE...` adds them to the main file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from nasforge.config import build_experiment, load_preset
from nasforge.evaluators import EvalContext
from nasforge.trial import TrialState

OUT = Path(__file__).resolve().parents[1] / "docs" / "estimation" / "cheap_evaluation_fashion_mnist.json"
VARIANTS = {
    "baseline": {},
    "inherit": {"inherit_weights": {"epochs": 0.5}},
    "stop": {"early_stopping": "median"},
    "inherit+stop": {"inherit_weights": {"epochs": 0.5}, "early_stopping": "median"},
}


def run_once(variant: str, seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    cfg = load_preset("fashion_mnist")
    cfg.update(name=f"{variant}-{seed}", storage=str(folder / "nas.db"), seed=seed)
    cfg["strategy"] = {**cfg["strategy"], "max_cost": args.budget, "cost_metric": "cpu_time"}
    cfg["evaluator"] = {**cfg["evaluator"], "epochs": args.epochs, "train_fraction": args.train_fraction}
    cfg["executor"] = {"name": "sequential"}
    cfg["estimation"] = VARIANTS[variant]
    experiment = build_experiment(cfg)
    wall = time.perf_counter()
    experiment.run(max_trials=10_000)
    wall = time.perf_counter() - wall
    trials = sorted((t for t in experiment.trials if t.state.finished), key=lambda t: t.finished_at or 0.0)
    curve, spent, best = [], 0.0, 0.0
    for t in trials:
        spent += float(t.metrics.get("cpu_time", 0.0))
        if t.state is TrialState.COMPLETE:
            best = max(best, float(t.metrics["val_acc"]))
        curve.append([round(spent, 2), round(best, 4)])
    best_trial = experiment.best_trial
    assert best_trial is not None, "no trial completed"
    # the best arch trained from scratch as a baseline trial is: is the arch itself as good?
    evaluator = experiment.evaluator
    scratch = evaluator.evaluate(EvalContext(experiment.space, best_trial.arch, None, number=0, seed=seed))
    return {
        "variant": variant,
        "seed": seed,
        "epochs": args.epochs,
        "train_fraction": args.train_fraction,
        "budget_cpu_s": args.budget,
        "trials": len(trials),
        "pruned": sum(t.state is TrialState.PRUNED for t in trials),
        "inherited": sum(float(t.metrics.get("inherited", 0.0)) > 0 for t in trials),
        "cpu_s": round(spent, 1),
        "wall_s": round(wall, 1),
        "best_val_acc": round(best, 4),
        "scratch_val_acc": round(float(scratch["val_acc"]), 4),
        "best_arch": best_trial.arch.to_dict(),
        "curve": curve,
    }


def time_to_reach(curve: list[list[float]], target: float) -> float | None:
    for spent, best in curve:
        if best >= target:
            return spent
    return None


def table(records: list[dict[str, Any]]) -> str:
    """One row per run. The last two columns compare the CPU time at which the run first reached the
    baseline's final best with the time the baseline itself needed to get there, and with its whole budget."""
    base = {(r["seed"], r["budget_cpu_s"]): r for r in records if r["variant"] == "baseline"}
    lines = [
        "| variant | seed | budget CPU s | trials (pruned, inherited) | best val acc | scratch val acc of best arch "
        "| CPU s to reach baseline's best | / baseline's time to it | / baseline's budget |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: (r["budget_cpu_s"], r["seed"], list(VARIANTS).index(r["variant"]))):
        reach, frac, frac_all = "-", "-", "-"
        b = base.get((r["seed"], r["budget_cpu_s"]))
        if b is not None:
            t = time_to_reach(r["curve"], b["best_val_acc"])
            t_base = time_to_reach(b["curve"], b["best_val_acc"])
            if t is not None and t_base is not None:
                reach, frac, frac_all = f"{t:.0f}", f"{t / t_base:.2f}", f"{t / b['cpu_s']:.2f}"
            else:
                reach = "not reached"
        lines.append(
            f"| {r['variant']} | {r['seed']} | {r['budget_cpu_s']:.0f} | {r['trials']} ({r['pruned']}, "
            f"{r['inherited']}) | {r['best_val_acc']:.4f} | {r['scratch_val_acc']:.4f} | {reach} | {frac} "
            f"| {frac_all} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["baseline", "inherit+stop"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=4, help="epochs of a trial trained from scratch (default 4)")
    p.add_argument("--train-fraction", type=float, default=0.125, help="of the 50,000 training images")
    p.add_argument("--budget", type=float, default=600.0, help="CPU seconds of trials per run (default 600)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--merge", nargs="*", type=Path, default=[], help="add the records of these files to --out")
    p.add_argument("--table", action="store_true", help="print the table of --out and stop")
    args = p.parse_args()
    if args.merge or args.table:
        records = json.loads(args.out.read_text()) if args.out.exists() else []
        for path in args.merge:
            extra = json.loads(path.read_text())
            keys = {(r["variant"], r["seed"], r["budget_cpu_s"]) for r in extra}
            records = [r for r in records if (r["variant"], r["seed"], r["budget_cpu_s"]) not in keys] + extra
        args.out.write_text(json.dumps(records, indent=1) + "\n")
        print(table(records))
        return
    torch.set_num_threads(1)
    for seed in args.seeds:
        for variant in args.variants:
            with tempfile.TemporaryDirectory() as tmp:
                record = run_once(variant, seed, args, Path(tmp))
            print(json.dumps({k: v for k, v in record.items() if k not in ("curve", "best_arch")}), flush=True)
            records = json.loads(args.out.read_text()) if args.out.exists() else []
            key = (variant, seed, args.budget)
            records = [r for r in records if (r["variant"], r["seed"], r["budget_cpu_s"]) != key] + [record]
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(records, indent=1) + "\n")
    print(table(json.loads(args.out.read_text())))


if __name__ == "__main__":
    main()
