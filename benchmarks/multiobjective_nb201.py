"""Multi-objective search on NAS-Bench-201: accuracy against parameters or CPU latency, hypervolume at the
[bench] budget.

Every search maximises the 12-epoch validation accuracy (the [bench] search signal) and minimises the
parameter count (millions, from the table) or, with `--cost latency`, the median CPU latency of the project's
own `nb201` network for the cell (`benchmarks/nb201_latency.py`, CIFAR-10 input, batch 1, one thread), pays the 12-epoch training time per evaluation and stops at the
dataset's [bench] budget (12,000 s CIFAR-10, 40,000 s CIFAR-100, 120,000 s ImageNet16-120; the evaluation
that crosses it counts). nasforge's strategies run through `nasforge.bench` (the real experiment loop on a
simulated clock); Optuna's `NSGAIISampler` runs on the same table, budget and seeds, the six edges being six
categorical parameters.

Two figures per run, each as a fraction of the hypervolume of the true Pareto front of all 15,625 cells:

- `signal HV`: the evaluated points in the search's own objectives (12-epoch validation accuracy,
  parameters) against the true front in the same objectives: how well the search covers the front it sees;
- `test HV`: the cells on the run's own front (by its signal) scored by their 200-epoch test accuracy,
  against the true front of test accuracy and parameters: what a user deploying the front would get.

Two reference points, per dataset: the nadir of the whole table (its worst accuracy, most parameters), the
usual choice, under which even random search scores high, since any fair cell covers the wide low-accuracy
part of the box; and the table's median accuracy with the most parameters, which counts only the better half
of the space and so separates the strategies.

    python benchmarks/multiobjective_nb201.py --seeds 50
    python benchmarks/multiobjective_nb201.py --seeds 50 --cost latency --datasets cifar10

write a new record under records/multiobjective/ (benchmarks/records.py; nb201_params-*.json or nb201_latency-*.json)
with one run per strategy and dataset (its seeds' scores under `per_seed`) and print the table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.bench import RunSpec, run_many
from nasforge.evaluators.tabular import NB201_BUDGETS, NB201_DATASETS, read_latency_table
from nasforge.multiobjective import hypervolume, pareto_mask
from nasforge.tables import NB201Table
from nasforge.zoo.nb201 import EDGES, OPS, arch_to_str

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

# the table benchmarks/nb201_latency.py measured, that the latency figures rest on
LATENCY_TABLE = Path(__file__).resolve().parents[1] / "records/multiobjective/legacy/nb201_latency_cpu.csv.gz"
STRATEGIES: dict[str, dict[str, Any]] = {
    "random": {},
    "nsga2": {"population_size": 20},
    "mo_evolution": {"population_size": 20, "sample_size": 5},
    "parego": {},
    "mo_asha": {},
}


class Columns:
    """The table's columns a run is scored with, for one dataset, and the true fronts' hypervolumes over
    each reference point: `nadir` (the worst accuracy and the most parameters of the whole table) and
    `median` (the table's median accuracy and the most parameters: only cells better than half the space
    count, which leaves the easy part of the front out)."""

    REFERENCES = ("nadir", "median")

    def __init__(self, dataset: str, cost_metric: str) -> None:
        table = NB201Table.load()
        cols = NB201_DATASETS[dataset]
        self.table = table
        self.signal = table.column(cols.signal[12])
        self.test = table.column(cols.test)
        self.hardware = (
            table.column(cols.params) if cost_metric == "params" else read_latency_table(str(LATENCY_TABLE), len(table))
        )
        self.cost = table.column(cols.time_200) * 12 / 200
        ok = np.flatnonzero(np.isfinite(self.signal) & np.isfinite(self.test) & np.isfinite(self.hardware))
        most = -np.max(self.hardware[ok])
        self.refs: dict[tuple[str, str], np.ndarray] = {}
        self.true_hv: dict[tuple[str, str], float] = {}
        for kind, acc in (("signal", self.signal), ("test", self.test)):
            for ref_name, level in (("nadir", np.min(acc[ok])), ("median", np.median(acc[ok]))):
                ref = np.array([level, most])
                self.refs[kind, ref_name] = ref
                self.true_hv[kind, ref_name] = hypervolume(self._points(acc, ok), ref)

    def _points(self, acc: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.column_stack([acc[idx], -self.hardware[idx]])

    def score(self, indices: list[int]) -> dict[str, float]:
        """Hypervolume fractions of the evaluated cells (`signal_nadir`, `test_median`, ...) and the size of
        the run's own front."""
        idx = np.unique(np.asarray(indices, dtype=int))
        idx = idx[np.isfinite(self.signal[idx]) & np.isfinite(self.test[idx])]
        out: dict[str, float] = {"front_size": 0.0}
        if not idx.size:
            return {**{f"{k}_{r}": 0.0 for k, r in self.refs}, **out}
        seen = self._points(self.signal, idx)
        front = idx[pareto_mask(seen)]
        for (kind, ref_name), ref in self.refs.items():
            points = seen if kind == "signal" else self._points(self.test, front)
            out[f"{kind}_{ref_name}"] = hypervolume(points, ref) / self.true_hv[kind, ref_name]
        out["front_size"] = float(front.size)
        return out


_COLUMNS: dict[tuple[str, str], Columns] = {}


def columns(dataset: str, cost_metric: str) -> Columns:
    if (dataset, cost_metric) not in _COLUMNS:
        _COLUMNS[dataset, cost_metric] = Columns(dataset, cost_metric)
    return _COLUMNS[dataset, cost_metric]


def optuna_run(args: tuple[str, str, int, int]) -> list[int]:
    """The cells Optuna's NSGA-II evaluates within the budget, in order."""
    import optuna

    dataset, cost_metric, seed, population = args
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    c = columns(dataset, cost_metric)
    sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    spent, indices = 0.0, []
    while spent < NB201_BUDGETS[dataset]:
        trial = study.ask()
        arch = {edge: trial.suggest_categorical(edge, list(OPS)) for edge in EDGES}
        i = c.table.index(arch_to_str(arch))
        study.tell(trial, [float(c.signal[i]), float(c.hardware[i])])
        spent += float(c.cost[i])
        indices.append(i)
    return indices


def summarise(name: str, dataset: str, cost_metric: str, runs: list[list[int]], wall: float) -> dict[str, Any]:
    scores = [columns(dataset, cost_metric).score(r) for r in runs]
    n = len(runs)
    row: dict[str, Any] = {"strategy": name, "dataset": dataset, "cost": cost_metric, "seeds": n}
    for key in scores[0]:
        values = np.array([s[key] for s in scores])
        row[key] = float(values.mean())
        row[f"{key}_se"] = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    row["evaluations"] = float(np.mean([len(r) for r in runs]))
    row["wall_s"] = round(wall, 1)
    # every run (seeds 0..n-1): its scores and evaluation count, so the means above can be checked and redone
    row["per_seed"] = [{"seed": i, **s, "evaluations": len(r)} for i, (s, r) in enumerate(zip(scores, runs))]
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--datasets", default="cifar10,cifar100,imagenet16-120")
    p.add_argument("--strategies", default=",".join([*STRATEGIES, "optuna_nsga2"]))
    p.add_argument("--processes", type=int, default=2)
    p.add_argument(
        "--cost",
        choices=("params", "latency"),
        default="params",
        help="the minimised objective: parameters from the table, or the CPU latency that "
        "benchmarks/nb201_latency.py measured (CIFAR-10 networks)",
    )
    p.add_argument("--latency-table", type=Path, default=LATENCY_TABLE, help="a table of nb201_latency.py")
    args = p.parse_args()
    metric = "params" if args.cost == "params" else "latency_ms"
    record = Record(f"nb201_{args.cost}", area="multiobjective", config=vars(args))
    objectives = ("max:val_acc", f"min:{metric}")
    evaluator_kwargs = {"latency_table": str(args.latency_table)} if args.cost == "latency" else {}
    rows: list[dict[str, Any]] = record.runs
    for dataset in args.datasets.split(","):
        for name in args.strategies.split(","):
            start = time.perf_counter()
            if name.startswith("optuna_nsga2"):
                population = int(name.split("@")[1]) if "@" in name else 50
                jobs = [(dataset, metric, s, population) for s in range(args.seeds)]
                with mp.get_context("spawn").Pool(args.processes) as pool:
                    runs = pool.map(optuna_run, jobs)
            else:
                specs = [
                    RunSpec(
                        name,
                        dataset,
                        s,
                        STRATEGIES.get(name, {}),
                        objectives=objectives,
                        evaluator_kwargs=evaluator_kwargs,
                    )
                    for s in range(args.seeds)
                ]
                runs = [r.indices for r in run_many(specs, workers=args.processes)]
            row = summarise(name, dataset, metric, runs, time.perf_counter() - start)
            print(json.dumps({k: v for k, v in row.items() if k != "per_seed"}), flush=True)
            record.add_run(row)
    print(table(rows))
    print(f"record: {record.save(summary={'table': table(rows)})}")


def table(rows: list[dict[str, Any]]) -> str:
    """Mean +- standard error over seeds of each hypervolume fraction, in %."""
    keys = [f"{k}_{r}" for r in Columns.REFERENCES for k in ("signal", "test")]
    lines = [
        "| dataset | strategy | seeds | evaluations | " + " | ".join(f"{k} HV %" for k in keys) + " | front size |",
        "|---|---|---|---|" + "---|" * len(keys) + "---|",
    ]
    for r in sorted(rows, key=lambda r: (list(NB201_DATASETS).index(r["dataset"]), -r["signal_median"])):
        cells = " | ".join(f"{100 * r[k]:.2f} +- {100 * r[k + '_se']:.2f}" for k in keys)
        lines.append(
            f"| {r['dataset']} | {r['strategy']} | {r['seeds']} | {r['evaluations']:.0f} | {cells} "
            f"| {r['front_size']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
