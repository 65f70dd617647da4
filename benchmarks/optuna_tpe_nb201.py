"""Side by side on NAS-Bench-201: Optuna's TPESampler against nasforge's strategies, same protocol.

The six edges of the cell are six categorical parameters for Optuna. Every evaluation returns the
12-epoch validation accuracy and costs the 12-epoch training time. Each run is sequential and stops once
the summed cost reaches the dataset's budget, counting the evaluation that crosses it, as nasforge's
simulated executor does. The result of a run is the 200-epoch test accuracy of its best-validation arch.
The nasforge strategies run through `nasforge.bench` on the same tables, budgets and seeds.

    pip install optuna
    python benchmarks/optuna_tpe_nb201.py [--seeds 200] [--datasets cifar10,...]

Writes a new record under records/bench/ (benchmarks/records.py): one run per strategy and dataset with every
seed's final test accuracy, its mean, standard deviation and the wall time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from nasforge.bench import RunSpec, run_many
from nasforge.evaluators.tabular import NB201_BUDGETS, NB201_DATASETS
from nasforge.tables import NB201Table
from nasforge.zoo.nb201 import EDGES, OPS, arch_to_str

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record


def optuna_run(args: tuple[str, int]) -> float:
    import optuna

    dataset, seed = args
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = NB201Table.load()
    cols = NB201_DATASETS[dataset]
    valid, test = table.column(cols.signal[12]), table.column(cols.test)
    cost = table.column(cols.time_200) * 12 / 200
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    spent, best_valid, best_test = 0.0, -np.inf, float("nan")
    while spent < NB201_BUDGETS[dataset]:
        trial = study.ask()
        arch = {edge: trial.suggest_categorical(edge, list(OPS)) for edge in EDGES}
        i = table.index(arch_to_str(arch))
        study.tell(trial, float(valid[i]))
        spent += float(cost[i])
        if valid[i] > best_valid:
            best_valid, best_test = float(valid[i]), float(test[i])
    return best_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--datasets", default="cifar10,cifar100,imagenet16-120")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    datasets = args.datasets.split(",")
    record = Record("optuna_tpe_nb201", area="bench", config=vars(args))
    rows = []

    def add(name: str, dataset: str, finals: list[float], wall: float) -> None:
        rows.append((name, dataset, float(np.mean(finals)), float(np.std(finals)), wall))
        record.add_run(
            {
                "strategy": name,
                "dataset": dataset,
                "seeds": len(finals),
                "mean": rows[-1][2],
                "std": rows[-1][3],
                "wall_s": wall,
                "final_test": [float(f) for f in finals],
            }
        )

    for dataset in datasets:
        start = time.perf_counter()
        with mp.get_context("spawn").Pool(args.processes) as pool:
            tpe = pool.map(optuna_run, [(dataset, s) for s in range(args.seeds)])
        add("optuna TPESampler", dataset, tpe, time.perf_counter() - start)
        for name, kwargs in (
            ("random", {}),
            ("evolution", {"population_size": 10, "sample_size": 3}),
            ("reinforce", {}),
            ("local_search", {}),
        ):
            start = time.perf_counter()
            res = run_many([RunSpec(name, dataset, s, kwargs) for s in range(args.seeds)], workers=args.processes)
            finals = [r.final_test for r in res]
            add(f"nasforge {name}", dataset, finals, time.perf_counter() - start)
    print(f"{'strategy':<24} {'dataset':<15} {'test acc (mean +- std)':>23} {'wall s':>7}   ({args.seeds} seeds)")
    for name, dataset, mean, std, wall in rows:
        print(f"{name:<24} {dataset:<15} {mean:>15.2f} +- {std:<5.2f} {wall:>7.1f}")
    summary = {
        f"{name}/{dataset}": {"mean": mean, "std": std, "wall_s": wall} for name, dataset, mean, std, wall in rows
    }
    print(f"record: {record.save(summary=summary)}")


if __name__ == "__main__":
    main()
