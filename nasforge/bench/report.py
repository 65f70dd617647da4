"""Tables and anytime plots of benchmark runs."""

from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.bench.runner import RunResult
from nasforge.errors import ConfigError
from nasforge.evaluators.tabular import NB201_BUDGETS

#: NAS-Bench-201 paper, Table 5 (mean +- std of the 200-epoch test accuracy), and the optimum.
PUBLISHED = {
    "random": {"cifar10": (93.70, 0.36), "cifar100": (71.04, 1.07), "imagenet16-120": (44.57, 1.25)},
    "evolution": {"cifar10": (93.92, 0.30), "cifar100": (71.84, 0.99), "imagenet16-120": (45.54, 1.03)},
    "reinforce": {"cifar10": (93.85, 0.37), "cifar100": (71.71, 1.09), "imagenet16-120": (45.24, 1.18)},
    "bohb": {"cifar10": (93.61, 0.52), "cifar100": (70.85, 1.28), "imagenet16-120": (44.42, 1.49)},
}
OPTIMUM = {"cifar10": 94.37, "cifar100": 73.51, "imagenet16-120": 47.31}


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation and count."""
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "n": len(a)}


def paired_difference(with_: Sequence[float], without: Sequence[float]) -> dict[str, float]:
    """Mean difference (with - without) of two arms run on the same seeds: its standard error as
    independent samples (`se`) and as pairs by seed (`se_paired`)."""
    a, b = np.asarray(with_, dtype=float), np.asarray(without, dtype=float)
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) if len(a) > 1 else float("nan")
    d = a - b
    se_paired = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {"mean": float(d.mean()), "se": se, "se_paired": se_paired}


def group(results: Sequence[RunResult]) -> dict[tuple[str, str], list[RunResult]]:
    groups: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for r in results:
        groups[(r.spec.name, r.spec.dataset)].append(r)
    return dict(groups)


def summary(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    rows = []
    for (name, dataset), runs in sorted(group(results).items()):
        finals = np.array([r.final_test for r in runs])
        published = PUBLISHED.get(runs[0].spec.strategy, {}).get(dataset)
        rows.append(
            {
                "strategy": name,
                "dataset": dataset,
                "seeds": len(runs),
                "mean": float(finals.mean()),
                "std": float(finals.std()),
                "trials": float(np.mean([r.n_trials for r in runs])),
                "published": None if published is None else f"{published[0]:.2f} +- {published[1]:.2f}",
                "optimum": OPTIMUM.get(dataset),
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        f"{'strategy':<14} {'dataset':<15} {'seeds':>5} {'test acc (mean +- std)':>23} {'trials':>7} {'published':>15}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['strategy']:<18} {r['dataset']:<15} {r['seeds']:>5} {r['mean']:>15.2f} +- {r['std']:<4.2f} "
            f"{r['trials']:>7.0f} {r['published'] or '-':>15}"
        )
    return "\n".join(lines)


def regret_curves(runs: Sequence[RunResult], grid: np.ndarray) -> np.ndarray:
    """Per run, the test regret of its best-signal arch at each grid time (NaN before its first result)."""
    out = np.full((len(runs), len(grid)), np.nan)
    for k, r in enumerate(runs):
        if not r.times:
            continue
        pos = np.searchsorted(np.asarray(r.times), grid, side="right") - 1
        have = pos >= 0
        out[k, have] = r.optimum - np.asarray(r.best_test)[pos[have]]
    return out


def plot(results: Sequence[RunResult], folder: str | Path, suffix: str = "") -> list[Path]:
    """One PNG per dataset, `nb201_<dataset><suffix>.png`: median test regret against simulated time, with the
    interquartile band."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("Plots need matplotlib: pip install 'nasforge[plot]' (or pass --no-plots).") from exc
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    by_dataset: dict[str, dict[str, list[RunResult]]] = defaultdict(dict)
    for (name, dataset), runs in group(results).items():
        by_dataset[dataset][name] = runs
    for dataset, strategies in sorted(by_dataset.items()):
        budget = max(r.spec.budget or NB201_BUDGETS[dataset] for runs in strategies.values() for r in runs)
        grid = np.geomspace(budget / 200, budget, 120)
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        for name, runs in sorted(strategies.items()):
            curves = regret_curves(runs, grid)
            with warnings.catch_warnings():  # grid times before any run's first result are all-NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(curves, axis=0)
                q1, q3 = np.nanpercentile(curves, [25, 75], axis=0)
            ax.plot(grid, med, label=f"{name} ({len(runs)} seeds)")
            ax.fill_between(grid, q1, q3, alpha=0.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("simulated time (s)")
        ax.set_ylabel("test regret (%), median and quartiles")
        ax.set_title(f"NAS-Bench-201 {dataset}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / f"nb201_{dataset}{suffix}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def save_json(results: Sequence[RunResult], path: str | Path, about: Mapping[str, Any] | None = None) -> None:
    """The summary and every run as JSON, after `about` (what ran: settings, versions, date) if given."""
    data = {
        **dict(about or {}),
        "summary": summary(results),
        "runs": [
            {
                "strategy": r.spec.name,
                "dataset": r.spec.dataset,
                "seed": r.spec.seed,
                "final_test": r.final_test,
                "n_trials": r.n_trials,
            }
            for r in results
        ],
    }
    Path(path).write_text(json.dumps(data, indent=1))
