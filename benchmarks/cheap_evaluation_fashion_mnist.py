"""Evolution on Fashion-MNIST with and without weight inheritance and early stopping, in CPU seconds.

Every variant runs the main job's search (the `fashion_mnist` preset: the `cnn` space, regularized evolution
with population 10 and tournament 3, validation on 10,000 held-out training images) through the same
`Experiment`, with trials of `--epochs` epochs on `--train-fraction` of the training split, one after another
in one process on one torch thread, until the trials have used their CPU budget (the `BudgetLimit`
middleware summing each trial's `cpu_time` metric; the trial running at the limit finishes). The baseline
gets `--budget` CPU seconds, every other variant `--cheap-fraction` (default half) of it. Variants:

- `baseline`: every trial trains from scratch for all its epochs and is validated once, after the last;
- `inherit`: a mutated child starts from its parent's trained weights (keeping its function where cheap) and
  fine-tunes at 0.3 times its learning rate, cosine-decayed, for a quarter of the epochs when it inherited
  everything, up to all of them when it inherited nothing (`INHERIT`);
- `stop`: the median stopping rule ends a trial whose best validation accuracy so far is below the median of
  the completed trials' at the same epoch; the epochs before the last are scored on a fixed 2,000 of the
  validation images (`interim_valid`), the last on all of them;
- `inherit+stop`: both;
- `inherit+stop v1`: both, as first built (commit fac35ae): inheritance without the cheap morphisms and the
  matching of layers moved into or out of a wrapper, and one epoch for every child.

Reported per run: the best validation accuracy at the end of its budget; for each cheap variant the CPU time
at which its best validation accuracy first reached the baseline's final best (same seed), over the
baseline's whole CPU time (the issue's target: at most half) and over the time the baseline itself took to
first reach it. An inheriting child's validation accuracy is that of a network trained over its whole
lineage, so the best arch of every run is also trained again from scratch as a baseline trial would be
(`scratch_val_acc`, same epochs and data), to show whether the arch itself is as good.

    OMP_NUM_THREADS=1 python benchmarks/cheap_evaluation_fashion_mnist.py \\
        --variants baseline inherit+stop --seeds 0

Each invocation writes a new record under records/estimation/ (benchmarks/records.py), one run per variant and
seed, and prints their table. Runs made in parallel processes write records of their own; `--table FILE...`
prints the table of several records' runs together.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from nasforge.config import build_experiment, load_preset
from nasforge.evaluators import EvalContext
from nasforge.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from records import Record  # noqa: E402

INHERIT = {"epochs": 0.25, "lr_scale": 0.3, "by_fraction": True}
STOP = {"name": "median", "min_trials": 5}
#: per variant: the `estimation` section, and the evaluator's `interim_valid` (validation of the epochs before
#: the last: only early stopping reads them, so a variant without it scores the last epoch only)
VARIANTS: dict[str, tuple[dict[str, Any], float]] = {
    "baseline": ({}, 0),
    "inherit": ({"inherit_weights": INHERIT}, 0),
    "stop": ({"early_stopping": STOP}, 2000),
    "inherit+stop": ({"inherit_weights": INHERIT, "early_stopping": STOP}, 2000),
    # the first version (commit fac35ae): no morphisms, no renamed layers, one epoch whatever was inherited
    "inherit+stop v1": (
        {"inherit_weights": {"epochs": 0.25, "lr_scale": 0.3, "preserve": False}, "early_stopping": STOP},
        2000,
    ),
}


def run_once(variant: str, seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    estimation, interim = VARIANTS[variant]
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    budget = args.budget if variant == "baseline" else args.budget * args.cheap_fraction
    cfg = load_preset("fashion_mnist")
    cfg.update(name=f"{variant}-{seed}", storage=str(folder / "nas.db"), seed=seed)
    cfg["strategy"] = {**cfg["strategy"], "max_cost": budget, "cost_metric": "cpu_time"}
    cfg["evaluator"] = {
        **cfg["evaluator"],
        "epochs": args.epochs,
        "train_fraction": args.train_fraction,
        "interim_valid": interim,
    }
    cfg["executor"] = {"name": "sequential"}
    cfg["estimation"] = estimation
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
        "commit": commit,
        "seed": seed,
        "epochs": args.epochs,
        "train_fraction": args.train_fraction,
        "estimation": estimation,
        "interim_valid": interim,
        "baseline_budget_cpu_s": args.budget,
        "budget_cpu_s": budget,
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


def key(record: dict[str, Any]) -> tuple[str, int, float]:
    return record["variant"], record["seed"], record.get("baseline_budget_cpu_s", record["budget_cpu_s"])


def time_to_reach(curve: list[list[float]], target: float) -> float | None:
    for spent, best in curve:
        if best >= target:
            return spent
    return None


def best_at(curve: list[list[float]], cpu: float) -> float:
    return max([best for spent, best in curve if spent <= cpu], default=0.0)


def table(records: list[dict[str, Any]]) -> str:
    """One row per run. A cheap variant runs `--cheap-fraction` of the baseline's budget; the last columns give
    the CPU time at which it first reached the baseline's final best, over the baseline's whole CPU time (the
    criterion: at most 0.5), and over the time the baseline itself took to first reach that value."""
    base = {key(r)[1:]: r for r in records if r["variant"] == "baseline"}
    lines = [
        "| variant | seed | budget CPU s | trials (pruned, inherited) | best val acc | its best arch from scratch "
        "| CPU s to reach baseline's best | / baseline's CPU s | / baseline's time to it |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = list(VARIANTS)
    for r in sorted(records, key=lambda r: (key(r)[2], r["seed"], order.index(r["variant"]))):
        reach, frac_all, frac = "-", "-", "-"
        b = base.get(key(r)[1:])
        if b is not None:
            t = time_to_reach(r["curve"], b["best_val_acc"])
            t_base = time_to_reach(b["curve"], b["best_val_acc"])
            if t is not None and t_base is not None:
                reach, frac_all, frac = f"{t:.0f}", f"{t / b['cpu_s']:.2f}", f"{t / t_base:.2f}"
            else:
                reach = f"not within {r['cpu_s']:.0f}"
        lines.append(
            f"| {r['variant']} | {r['seed']} | {r['budget_cpu_s']:.0f} | {r['trials']} ({r['pruned']}, "
            f"{r['inherited']}) | {r['best_val_acc']:.4f} | {r['scratch_val_acc']:.4f} | {reach} | {frac_all} "
            f"| {frac} |"
        )
    lines.append("")
    lines.append(summary(records))
    return "\n".join(lines)


def summary(records: list[dict[str, Any]]) -> str:
    """Over the seeds every variant ran: the mean best validation accuracy after half the baseline's CPU time
    and at its end, against the baseline's mean at its end."""
    out = []
    budgets = sorted({key(r)[2] for r in records})
    for budget in budgets:
        runs = [r for r in records if key(r)[2] == budget]
        base = {r["seed"]: r for r in runs if r["variant"] == "baseline"}
        for variant in [v for v in VARIANTS if v != "baseline"]:
            mine = {r["seed"]: r for r in runs if r["variant"] == variant and r["seed"] in base}
            if not mine:
                continue
            seeds = sorted(mine)
            half = [best_at(mine[s]["curve"], base[s]["cpu_s"] / 2) for s in seeds]
            full = [base[s]["best_val_acc"] for s in seeds]
            base_half = [best_at(base[s]["curve"], base[s]["cpu_s"] / 2) for s in seeds]
            reached = sum(h >= f for h, f in zip(half, full, strict=True))
            out.append(
                f"budget {budget:.0f} CPU s, seeds {seeds}: {variant} after half the baseline's CPU time "
                f"{sum(half) / len(half):.4f} (mean), the baseline at its end {sum(full) / len(full):.4f}, "
                f"the baseline at half {sum(base_half) / len(base_half):.4f}; "
                f"{reached} of {len(seeds)} seeds reached the baseline's best within half its CPU time"
            )
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["baseline", "inherit+stop"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=4, help="epochs of a trial trained from scratch (default 4)")
    p.add_argument("--train-fraction", type=float, default=0.0625, help="of the 50,000 training images")
    p.add_argument("--budget", type=float, default=1500.0, help="CPU seconds of the baseline's trials per run")
    p.add_argument(
        "--cheap-fraction", type=float, default=0.5, help="the other variants' budget, a fraction of --budget"
    )
    p.add_argument("--table", nargs="+", type=Path, help="print the table of these records' runs and stop")
    args = p.parse_args()
    if args.table:
        runs: list[dict[str, Any]] = []
        for path in args.table:
            body = json.loads(path.read_text())
            runs += body["runs"] if isinstance(body, dict) else body  # a record, or an older list of runs
        print(table(runs))
        return
    saved = Record("cheap_evaluation_fashion_mnist", area="estimation", config=vars(args))
    torch.set_num_threads(1)
    for seed in args.seeds:
        for variant in args.variants:
            with tempfile.TemporaryDirectory() as tmp:
                record = run_once(variant, seed, args, Path(tmp))
            print(json.dumps({k: v for k, v in record.items() if k not in ("curve", "best_arch")}), flush=True)
            saved.add_run(record)
    print(table(saved.runs))
    print(f"record: {saved.save(summary={'table': table(saved.runs)})}")


if __name__ == "__main__":
    main()
