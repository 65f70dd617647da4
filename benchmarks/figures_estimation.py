"""The figures of cheaper evaluation (zero-cost proxies, warm starts, inheritance and early stopping).

Each table is what the benchmark script itself prints from its record: the script's own renderer, applied to
the record the figure rests on.
"""

from __future__ import annotations

import statistics
from typing import Any

from figures import figure, latest, provenance, record

LEGACY = "estimation/legacy/"


@figure("zero_cost_nb201")
def zero_cost_nb201() -> str:
    import zero_cost_nb201 as bench

    return str(bench.markdown(record(f"{LEGACY}zero_cost_nb201.json")["summary"]))


@figure("zero_cost_naslib375")
def zero_cost_naslib375() -> str:
    # the 1,000-cell random sample shares the benchmark's name: this figure is the NASLib cells'
    rec = latest("estimation", "zero_cost_nb201", where=lambda r: r["config"].get("sample") == "naslib-first")
    s = rec["summary"]
    syn, grad = s["proxies"]["synflow"], s["proxies"]["grad_norm"]
    return (
        f"on those, our synflow ranks them {syn['spearman_vs_table']:.3f} and theirs "
        f"{syn['naslib_spearman_vs_table']:.3f}, with {syn['spearman_vs_naslib']:.3f} agreement cell by cell, and "
        f"the combination reaches {s['combined']['spearman_vs_table']:.3f}. The data-dependent proxies rank a "
        f"little lower than NASLib's on the same cells (grad_norm {grad['spearman_vs_table']:.3f} against "
        f"{grad['naslib_spearman_vs_table']:.3f}; record `records/estimation/{rec['_file']}`, commit "
        f"{rec['commit'][:7]}: `{rec['command']}`)"
    )


def search_table(name: str) -> str:
    import zero_cost_search_nb201 as bench

    rec = latest("estimation", name)
    settings, proxy = rec["summary"]["settings"], rec["summary"]["proxy"]
    rho = proxy["spearman_vs_test_acc_200"]
    table = bench.markdown(rec["runs"], settings["pool"], proxy["cpu_seconds_per_cell"], rho, settings["method"])
    return f"{provenance(rec)}\n\n{table}"


@figure("zero_cost_warmup")
def zero_cost_warmup() -> str:
    return search_table("zero_cost_search_nb201")


@figure("zero_cost_filter")
def zero_cost_filter() -> str:
    return search_table("zero_cost_filter_nb201")


@figure("warm_start")
def warm_start() -> str:
    import warm_start_nb201 as bench

    return str(bench.markdown(record(f"{LEGACY}warm_start_nb201.json")["results"]))


def cheap_runs() -> list[dict[str, Any]]:
    return list(record(f"{LEGACY}cheap_evaluation_fashion_mnist.json"))


@figure("cheap_evaluation")
def cheap_evaluation() -> str:
    import cheap_evaluation_fashion_mnist as bench

    return str(bench.table(cheap_runs()))


@figure("cheap_evaluation_scratch")
def cheap_evaluation_scratch() -> str:
    runs = cheap_runs()
    means = {
        v: statistics.mean(r["scratch_val_acc"] for r in runs if r["variant"] == v)
        for v in ("baseline", "inherit+stop", "inherit+stop v1")
    }
    return (
        f"the inherit+stop winners score {means['inherit+stop']:.4f} on average, against "
        f"{means['baseline']:.4f} for the baseline's winners; v1's winners score {means['inherit+stop v1']:.4f}"
    )


@figure("cheap_evaluation_brief")
def cheap_evaluation_brief() -> str:
    import re

    import cheap_evaluation_fashion_mnist as bench

    line = next(x for x in str(bench.summary(cheap_runs())).splitlines() if "inherit+stop after" in x)
    found = re.search(
        r"after half the baseline's CPU time ([\d.]+) \(mean\), the baseline at its end ([\d.]+).*?(\d+ of \d+) seeds",
        line,
    )
    assert found, line
    return f"on {found[3]} Fashion-MNIST seeds (mean {found[1]} against {found[2]})"


@figure("cheap_evaluation_scratch_brief")
def cheap_evaluation_scratch_brief() -> str:
    runs = cheap_runs()
    mean = {
        v: statistics.mean(r["scratch_val_acc"] for r in runs if r["variant"] == v)
        for v in ("baseline", "inherit+stop")
    }
    return f"{mean['inherit+stop']:.3f} against {mean['baseline']:.3f}"
