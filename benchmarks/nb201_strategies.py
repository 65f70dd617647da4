"""NAS-Bench-201: every strategy x seed x dataset on the simulated clock, as `nasforge bench` runs them.

The same harness and settings as `nasforge bench` (`nasforge.bench`: the 12-epoch validation accuracy as the
signal, the 12-epoch training time as each evaluation's cost, the per-dataset budgets, evolution with
population 10 and sample 3), written as a record:

    python benchmarks/nb201_strategies.py [--seeds 200] [--strategies random,evolution,...] [--processes 1]
        [--plots FOLDER]

Writes a new record under records/bench/ (benchmarks/records.py): one run per strategy, dataset and seed (its
final test accuracy and trial count) and the summary `nasforge bench` prints (mean, std and published figure per
strategy and dataset). The record is saved after each strategy and dataset; a run stopped with Ctrl-C keeps the
finished ones, summarised, and names where it stopped (`stopped_in` in the summary).
With `--plots`, the anytime plots of `nasforge bench` (one PNG per dataset) go to that folder as well.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nasforge.bench import RunResult, RunSpec, format_table, plot, run_many, summary
from nasforge.bench.runner import datasets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

ALL = "random,evolution,reinforce,local_search,successive_halving,hyperband,asha,bohb,bo"
#: the strategy options `nasforge bench` uses (nasforge/cli/bench_cmd.py)
KWARGS = {"evolution": {"population_size": 10, "sample_size": 3}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=200, help="runs per strategy and dataset (seeds 0..N-1)")
    parser.add_argument("--strategies", default=ALL, help="comma-separated strategy names")
    parser.add_argument("--datasets", default=",".join(datasets()), help="comma-separated datasets")
    parser.add_argument("--processes", type=int, default=1, help="processes running searches side by side")
    parser.add_argument("--plots", type=Path, help="folder for the anytime plots (needs matplotlib)")
    args = parser.parse_args()
    strategies, names = args.strategies.split(","), args.datasets.split(",")
    config = {**vars(args), "strategy_kwargs": KWARGS, "budget": "the protocol's per dataset", "workers": 1}
    record = Record("nb201_strategies", area="bench", config=config)
    results: list[RunResult] = []
    stopped = ""
    try:
        for strategy in strategies:
            for dataset in names:
                start = time.perf_counter()
                specs = [RunSpec(strategy, dataset, s, KWARGS.get(strategy, {})) for s in range(args.seeds)]
                done = run_many(specs, workers=args.processes)
                wall = time.perf_counter() - start
                results += done
                record.runs += [
                    {
                        "strategy": r.spec.name,
                        "dataset": dataset,
                        "seed": r.spec.seed,
                        "final_test": r.final_test,
                        "n_trials": r.n_trials,
                        "group_wall_s": round(wall, 2),  # the wall time of all seeds of this strategy and dataset
                    }
                    for r in done
                ]
                record.save()  # once per strategy and dataset: add_run would rewrite the file once per run
                print(f"{strategy} {dataset}: {len(done)} runs in {wall:.1f} s", flush=True)
    except KeyboardInterrupt:  # Ctrl-C: the finished strategies and datasets stay, and the record says where it stopped
        stopped = f"{strategy} {dataset}"
        print(f"stopped before the end of {stopped}", flush=True)
    rows = summary(results)
    print(format_table(rows))
    print(f"record: {record.save(summary={'rows': rows, **({'stopped_in': stopped} if stopped else {})})}")
    if args.plots:
        for png in plot(results, args.plots):
            print(f"plot: {png}")


if __name__ == "__main__":
    main()
