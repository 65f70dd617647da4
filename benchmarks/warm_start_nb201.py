"""Warm start on NAS-Bench-201: searches that begin from a finished experiment, beside the same searches cold.

Two scenarios, each under the [bench] protocol (`nasforge.bench.runner`: 12-epoch validation accuracy as the
signal and its training time as the cost; result = 200-epoch test accuracy of the arch with the best signal):

- `transfer` (a related task, `enqueue`): a finished search on CIFAR-10 (the same strategy, its own seed,
  the CIFAR-10 budget of 12,000 simulated s) seeds a search on CIFAR-100 (40,000 s) or ImageNet16-120
  (120,000 s): its 10 best archs are the first random proposals (evolution's initial population, BO's initial
  design, local search's starts, random search's first draws). The auto mode picks `enqueue` by itself, as
  the evaluation task differs.
- `continue` (the same task, `tell`): a finished search with half the budget (its own seed) seeds a new
  search with the other half: its results are told to the strategy (evolution's population, BO's data,
  local search's incumbent). Reported beside the cold search with half and with the whole budget.

The source search's cost is not counted in the warm search's budget: it was paid by an earlier experiment.
Both arms of a comparison run the same seeds; the difference's standard error is given paired by seed. The
accuracy at 10 % of the budget shows what a warm start buys early.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/warm_start_nb201.py \\
        --seeds 200 --bo-seeds 30

Writes a new record under records/estimation/ (benchmarks/records.py) and prints markdown tables.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.bench import RunResult, RunSpec, mean_std, paired_difference, run_one
from nasforge.evaluators.tabular import NB201_BUDGETS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from records import Record  # noqa: E402

STRATEGY_KWARGS: dict[str, dict[str, Any]] = {"evolution": {"population_size": 10, "sample_size": 3}}
SOURCE_SEED = 100_000  # sources use seeds of their own, so they are not the target's search replayed
TOP_K = 10
EARLY = 0.1  # the fraction of the budget at which the early accuracy is read


def best_at(result: RunResult, until: float) -> float:
    """Test accuracy of the incumbent at simulated time `until` (nan before the first result)."""
    best = float("nan")
    for t, acc in zip(result.times, result.best_test, strict=True):
        if t > until:
            break
        best = acc
    return best


def transfer(strategy: str, dataset: str, seed: int) -> dict[str, RunResult]:
    kw = STRATEGY_KWARGS.get(strategy, {})
    source = RunSpec(strategy, "cifar10", SOURCE_SEED + seed, kw)
    return {
        "cold": run_one(RunSpec(strategy, dataset, seed, kw)),
        "warm": run_one(RunSpec(strategy, dataset, seed, kw, warm_from=source, warm_options={"top_k": TOP_K})),
    }


def continue_(strategy: str, dataset: str, seed: int) -> dict[str, RunResult]:
    kw = STRATEGY_KWARGS.get(strategy, {})
    half = NB201_BUDGETS[dataset] / 2
    source = RunSpec(strategy, dataset, SOURCE_SEED + seed, kw, budget=half)
    return {
        "cold": run_one(RunSpec(strategy, dataset, seed, kw, budget=half)),
        "warm": run_one(RunSpec(strategy, dataset, seed, kw, budget=half, warm_from=source)),
        "cold_full": run_one(RunSpec(strategy, dataset, seed, kw)),
    }


SCENARIOS = {
    "transfer": (transfer, ("cifar100", "imagenet16-120")),
    "continue": (continue_, ("cifar10", "cifar100", "imagenet16-120")),
}


def row(scenario: str, strategy: str, dataset: str, runs: dict[str, list[RunResult]]) -> dict[str, Any]:
    budget = next(iter(runs.values()))[0].spec.budget or NB201_BUDGETS[dataset]
    final = {arm: [r.final_test for r in rs] for arm, rs in runs.items()}
    early = {arm: [best_at(r, EARLY * budget) for r in rs] for arm, rs in runs.items() if arm != "cold_full"}
    out = {
        "scenario": scenario,
        "strategy": strategy,
        "dataset": dataset,
        "budget": budget,
        "final": {arm: mean_std(v) for arm, v in final.items()},
        "difference": paired_difference(final["warm"], final["cold"]),
        "early": {arm: mean_std(v) for arm, v in early.items()},
        "early_difference": paired_difference(early["warm"], early["cold"]),
        "mean_trials": {arm: float(np.mean([r.n_trials for r in rs])) for arm, rs in runs.items()},
    }
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for scenario in SCENARIOS:
        chosen = [r for r in rows if r["scenario"] == scenario]
        if not chosen:
            continue
        full = " | cold, whole budget" if scenario == "continue" else ""
        lines += [
            f"`{scenario}`",
            "",
            f"| strategy | dataset | seeds | at {EARLY:.0%}: cold | warm | final: cold | warm | difference +- SE "
            f"(paired){full} |",
            "|---|---|---|---|---|---|---|---|" + ("---|" if full else ""),
        ]
        for r in chosen:
            e, f, d = r["early"], r["final"], r["difference"]
            extra = f" | {f['cold_full']['mean']:.2f}" if full else ""
            lines.append(
                f"| {r['strategy']} | {r['dataset']} | {f['cold']['n']} | {e['cold']['mean']:.2f} | "
                f"{e['warm']['mean']:.2f} | {f['cold']['mean']:.2f} +- {f['cold']['std']:.2f} | "
                f"{f['warm']['mean']:.2f} +- {f['warm']['std']:.2f} | {d['mean']:+.2f} +- {d['se']:.2f} "
                f"({d['se_paired']:.2f}){extra} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200, help="seeds per strategy and dataset (default 200)")
    parser.add_argument("--bo-seeds", type=int, default=30, help="seeds for bo (0: skip bo)")
    parser.add_argument("--strategies", default="random,evolution,local_search", help="cheap strategies to run")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    if args.seeds < 2 or args.bo_seeds < 0:
        parser.error("--seeds must be at least 2 and --bo-seeds at least 0")
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario {unknown}; choose from {', '.join(SCENARIOS)}")
    torch.set_num_threads(1)
    plan = [(s, args.seeds) for s in args.strategies.split(",") if s] + (
        [("bo", args.bo_seeds)] if args.bo_seeds else []
    )
    rows: list[dict[str, Any]] = []
    record = Record("warm_start_nb201", area="estimation", config=vars(args))
    start = time.perf_counter()
    for scenario in scenarios:
        run, datasets = SCENARIOS[scenario]
        for strategy, seeds in plan:
            for dataset in datasets:
                runs: dict[str, list[RunResult]] = {}
                for seed in range(seeds):
                    for arm, result in run(strategy, dataset, seed).items():
                        runs.setdefault(arm, []).append(result)
                rows.append(row(scenario, strategy, dataset, runs))
                f = rows[-1]["final"]
                print(
                    f"{scenario} {strategy} {dataset}: {f['cold']['mean']:.2f} -> {f['warm']['mean']:.2f} "
                    f"({seeds} seeds, {time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
                save(record, rows, time.perf_counter() - start)
    print(markdown(rows))
    print(f"record: {record.path}")


def save(record: Record, rows: list[dict[str, Any]], wall: float) -> None:
    config = {
        "strategy_kwargs": STRATEGY_KWARGS,
        "top_k": TOP_K,
        "source_seed_offset": SOURCE_SEED,
        "early_fraction": EARLY,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    record.runs = rows
    record.save(summary={"settings": config, "wall_seconds": wall})


if __name__ == "__main__":
    main()
