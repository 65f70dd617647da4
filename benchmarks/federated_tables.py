"""The federated benchmark's summary and Markdown tables (`benchmarks/federated.py`), apart from its runs so that
the figures (`figures_federated.py`) read a record without importing torch."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

METHODS = ("federated", "central", "fixed", "fednas")
#: the issue's done-when: federated search within this many points of the central one, this many above fixed
MARGIN = 2.0


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean per method, and per seed the differences the done-when names (points of test accuracy)."""
    ok = [r for r in runs if r.get("test_acc") is not None]
    out: dict[str, Any] = {"runs": len(runs), "failed": len(runs) - len(ok), "methods": {}}
    for method in [m for m in METHODS if any(r["method"] == m for r in ok)]:
        mine = [r for r in ok if r["method"] == method]
        out["methods"][method] = {
            "runs": len(mine),
            "mean_test_acc": statistics.fmean(r["test_acc"] for r in mine),
            "min_test_acc": min(r["test_acc"] for r in mine),
            "max_test_acc": max(r["test_acc"] for r in mine),
            "mean_trials": statistics.fmean(r.get("trials", 0) for r in mine),
            "mean_comm_bytes": statistics.fmean(r.get("comm_bytes", 0) for r in mine),
            "mean_client_acc_std": statistics.fmean(r["client_acc_std"] for r in mine),
            "mean_wall_s": statistics.fmean(r["wall_s"] for r in mine),
        }
    by_seed = {(r["method"], r["seed"]): r["test_acc"] for r in ok}
    for other, wanted in (("central", -MARGIN), ("fixed", MARGIN)):
        diffs = [
            100 * (acc - by_seed[(other, seed)])
            for (method, seed), acc in sorted(by_seed.items())
            if method == "federated" and (other, seed) in by_seed
        ]
        if diffs:
            mean = statistics.fmean(diffs)
            out[f"federated_minus_{other}"] = {
                "seeds": len(diffs),
                "mean_points": mean,
                "per_seed_points": diffs,
                "wanted_points": f">= {wanted:g}",
                "met": mean >= wanted,
                "short_by_points": max(0.0, wanted - mean),
            }
    return out


def pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f} %"


def markdown(record: dict[str, Any]) -> str:
    """The record as Markdown tables: every run, the mean per method, and the done-when's differences."""
    lines = [
        "| method | seed | **test accuracy** | trials | rounds (search + final) | MB exchanged | client acc (mean ± std) "
        "| wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = {m: i for i, m in enumerate(METHODS)}
    for run in sorted(record["runs"], key=lambda r: (order.get(r["method"], 99), r["seed"])):
        if run.get("test_acc") is None:
            lines.append(f"| {run['method']} | {run['seed']} | failed | | | | | {run.get('wall_s', 0):.0f} s |")
            continue
        rounds = f"{run.get('search_rounds', 0):.0f} + {run.get('final_rounds', 0):.0f}"
        spread = f"{pct(run['client_acc_mean'])} ± {100 * run['client_acc_std']:.2f}"
        lines.append(
            f"| {run['method']} | {run['seed']} | **{pct(run['test_acc'])}** | {run.get('trials', 0)} | {rounds} | "
            f"{run.get('comm_bytes', 0) / 1e6:.1f} | {spread} | {run['wall_s']:.0f} s |"
        )
    summary = record.get("summary") or summarize(record["runs"])
    lines += ["", "| method | runs | **mean test accuracy** | lowest | mean trials |", "|---|---|---|---|---|"]
    for method, s in summary["methods"].items():
        lines.append(
            f"| {method} | {s['runs']} | **{pct(s['mean_test_acc'])}** | {pct(s['min_test_acc'])} | "
            f"{s['mean_trials']:.1f} |"
        )
    diffs = [(k, v) for k, v in summary.items() if k.startswith("federated_minus_")]
    if diffs:
        lines += ["", "| difference | seeds | mean (points) | wanted | met |", "|---|---|---|---|---|"]
        for key, d in diffs:
            met = "yes" if d["met"] else f"no, short by {d['short_by_points']:.2f}"
            lines.append(
                f"| {key.replace('_', ' ')} | {d['seeds']} | {d['mean_points']:+.2f} | {d['wanted_points']} | {met} |"
            )
    room = headroom(summary)
    if room is not None:
        lines += ["", room]
    return "\n".join(lines)


def headroom(summary: dict[str, Any]) -> str | None:
    """Whether the two targets can hold at once on this record: the federated search must reach the fixed
    model's mean + MARGIN, and the central search (the upper bound) says how far any search of this space
    got in the same time. None without both methods."""
    methods = summary["methods"]
    if "fixed" not in methods or "central" not in methods:
        return None
    wanted = 100 * methods["fixed"]["mean_test_acc"] + MARGIN
    bound = 100 * methods["central"]["mean_test_acc"]
    relation = "above" if wanted > bound else "at or below"
    return (
        f"The fixed model's mean + {MARGIN:g} points is {wanted:.2f} %, {relation} the central search's mean "
        f"({bound:.2f} %, the upper bound) by {abs(wanted - bound):.2f} points."
    )
