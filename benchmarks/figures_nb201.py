"""The figures of NAS-Bench-201 (`nasforge bench`, Optuna's TPE, parameter counts) and of one-shot search."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
from figures import figure, latest, pm, record, table

#: `python benchmarks/nb201_strategies.py --seeds 200 [--strategies ...]`: a strategy's figures come from the
#: newest finished record that ran it, so strategies measured apart (a slow one on its own core) add up
BENCH_AREA, BENCH_NAME = "bench", "nb201_strategies"
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
NAMES = {
    "random": "random search",
    "evolution": "regularized evolution",
    "reinforce": "REINFORCE",
    "bohb": "BOHB",
    "bo": "Bayesian optimisation (`bo`, the default)",
    "local_search": "local search",
    "successive_halving": "successive halving",
    "hyperband": "Hyperband",
    "asha": "ASHA",
}


def bench_records() -> dict[str, dict[str, Any]]:
    """The record each strategy's figures come from: the newest finished `nb201_strategies` record that ran
    it, by strategy name."""
    from figures import RECORDS

    paths = sorted((RECORDS / BENCH_AREA).glob(f"{BENCH_NAME}-*.json"))
    done = [r for r in (record(str(p.relative_to(RECORDS))) for p in paths) if r and "summary" in r]
    by_strategy: dict[str, dict[str, Any]] = {}
    for rec in sorted(done, key=lambda r: r["started"]):
        for row in rec["summary"]["rows"]:
            by_strategy[row["strategy"]] = rec
    missing = sorted(set(NAMES) - set(by_strategy))
    if missing:
        raise SystemExit(f"no finished {BENCH_NAME} record ran {missing}: run benchmarks/{BENCH_NAME}.py")
    return by_strategy


def bench_summary() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (s["strategy"], s["dataset"]): s
        for strategy, rec in bench_records().items()
        for s in rec["summary"]["rows"]
        if s["strategy"] == strategy
    }


def bench_runs(strategy: str) -> list[dict[str, Any]]:
    """Every run of `strategy` in the record its figures come from."""
    return [r for r in bench_records()[strategy]["runs"] if r["strategy"] == strategy]


def bench_sources(*strategies: str) -> str:
    """The records behind the figures of `strategies` (default: all): command and commit of each."""
    chosen = {s: r for s, r in bench_records().items() if not strategies or s in strategies}
    recs = {id(r): r for r in chosen.values()}.values()
    return "; ".join(
        f"`{r['command']}` at commit {r['commit']} ({', '.join(s for s, x in chosen.items() if x is r)})"
        for r in sorted(recs, key=lambda r: r["started"])
    )


@figure("nb201_strategies")
def nb201_strategies() -> str:
    rows = bench_summary()
    best = {d: max(s["mean"] for (_, dd), s in rows.items() if dd == d) for d in DATASETS}
    header = ["strategy"] + [h for d in ("CIFAR-10", "CIFAR-100", "ImageNet16-120") for h in (d, "published")]
    body = []
    for strategy, name in NAMES.items():
        cells: list[Any] = [name]
        for d in DATASETS:
            s = rows[(strategy, d)]
            value = pm(s["mean"], s["std"])
            cells += [f"**{value}**" if s["mean"] == best[d] else value, s["published"] or "-"]
        body.append(cells)
    optimum = " / ".join(f"{rows[('random', d)]['optimum']:.2f}" for d in DATASETS)
    note = f"{rows[('random', 'cifar10')]['seeds']} seeds per cell, mean +- std of the 200-epoch test accuracy"
    return (
        f"{note}; published figures from the NAS-Bench-201 paper, Table 5 (optimum {optimum}). Records: "
        f"{bench_sources()}.\n\n" + table(header, body)
    )


@figure("nb201_ceiling")
def nb201_ceiling() -> str:
    from nasforge.evaluators.tabular import NB201_DATASETS
    from nasforge.tables import NB201Table

    tab = NB201Table.load()
    ceiling = []
    for d in DATASETS:
        cols = NB201_DATASETS[d]
        signal, test = tab.column(cols.signal[12]), tab.column(cols.test)
        ties = np.flatnonzero(signal == np.nanmax(signal))  # CIFAR-100 has two cells with the best signal
        ceiling.append(float(test[ties].max()))
    runs = [r for r in bench_runs("bo") if r["dataset"] == "imagenet16-120"]
    reached = sum(r["final_test"] >= ceiling[2] - 1e-9 for r in runs)
    return (
        f"{' / '.join(f'{c:.2f}' for c in ceiling)}. On ImageNet16-120, {reached} of {len(runs)} `bo` runs end on a "
        f"cell at that ceiling or better"
    )


@figure("nb201_optuna")
def nb201_optuna() -> str:
    rec = latest("bench", "optuna_tpe_nb201")
    runs = {(r["strategy"], r["dataset"]): r for r in rec["runs"]}
    names = sorted({s for s, _ in runs}, key=lambda s: (not s.startswith("optuna"), s))
    body = [
        [n]
        + [pm(runs[(n, d)]["mean"], runs[(n, d)]["std"]) for d in DATASETS]
        + [f"{sum(runs[(n, d)]['wall_s'] for d in DATASETS):.0f} s"]
        for n in names
    ]
    bo = bench_summary()
    body.append(
        ["nasforge bo (`nasforge bench`, the table above)"]
        + [pm(bo[("bo", d)]["mean"], bo[("bo", d)]["std"]) for d in DATASETS]
        + ["not recorded"]
    )
    seeds = runs[(names[0], DATASETS[0])]["seeds"]
    head = ["", "CIFAR-10", "CIFAR-100", "ImageNet16-120", f"wall time, 3 x {seeds} runs"]
    diffs = []
    bo_runs = bench_runs("bo")
    for d in DATASETS:
        a = np.array(sorted((r["seed"], r["final_test"]) for r in bo_runs if r["dataset"] == d))[:, 1]
        b = np.array(runs[("optuna TPESampler", d)]["final_test"])
        diff = a.mean() - b.mean()
        se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
        diffs.append(f"{diff:+.2f} ({diff / se:.1f} unpaired standard errors)")
    return (
        table(head, body)
        + f"\n\n`bo` against Optuna's TPE, difference of the means: {', '.join(diffs)} on CIFAR-10, CIFAR-100 and "
        f"ImageNet16-120 (record `{rec['benchmark']}` of {rec['started'][:10]}, commit {rec['commit']}, and `bo`'s from {bench_sources('bo')})."
    )


@figure("nb201_params")
def nb201_params() -> str:
    s = latest("bench", "nb201_params")["summary"]
    return (
        f"{s['cells_within']:,} cells agree to within {s['max_rel_error_within']:.1e} (the table's rounding), and "
        f"{s['cells_beyond']} cells differ by more than {s['tolerance']:.0%}; {s['beyond_explained_by_isomorphic_cell']} "
        f"of them hold the parameter count of another cell of the same isomorphism class"
    )


# -- one-shot on Fashion-MNIST -----------------------------------------------------------------------------
FM_MAIN = ("oneshot/legacy/fashion_mnist_main_job_seed0.json", "oneshot/legacy/fashion_mnist_main_job_seed1.json")
FM_ONESHOT = "oneshot/legacy/fashion_mnist_oneshot.json"
FM_OLD = (
    "oneshot/legacy/fashion_mnist_oneshot_4ep_old_defaults_seed0.json",
    "oneshot/legacy/fashion_mnist_oneshot_4ep_old_defaults_seed12.json",
)


def runs_of(*paths: str) -> list[dict[str, Any]]:
    return [run for p in paths for run in record(p)["runs"]]


@figure("oneshot_fashion_mnist")
def oneshot_fashion_mnist() -> str:
    body = []
    for label, runs in (
        ("main job: evolution, 2 workers", runs_of(*FM_MAIN)),
        ("one-shot: DrNAS, 6 epochs, `fixed: defaults`, one thread", runs_of(FM_ONESHOT)),
    ):
        for i, r in enumerate(runs):
            body.append(
                [
                    label if i == 0 else label.split(":")[0],
                    r["seed"],
                    f"{r['search_cpu_s']:.0f}",
                    f"{r['search_wall_s']:.0f}",
                    r["trials"],
                    f"{r['retrain_epochs']:.0f}",
                    f"{100 * r['test_acc']:.2f}",
                ]
            )
    head = ["search", "seed", "search CPU s", "wall s", "trials", "retrained epochs", "test accuracy"]
    return table(head, body)


@figure("oneshot_fashion_mnist_summary")
def oneshot_fashion_mnist_summary() -> str:
    main, one = runs_of(*FM_MAIN), runs_of(FM_ONESHOT)
    cpu_m, cpu_o = [r["search_cpu_s"] for r in main], [r["search_cpu_s"] for r in one]
    acc_o, best_m = [100 * r["test_acc"] for r in one], max(100 * r["test_acc"] for r in main)
    sup = [r["supernet_search_s"] for r in one]
    return (
        f"- **Cost.** The one-shot search takes {statistics.mean(cpu_o) / statistics.mean(cpu_m):.2f} of the main "
        f"job's search CPU time ({min(cpu_o):.0f}-{max(cpu_o):.0f} s against {min(cpu_m):.0f}-{max(cpu_m):.0f} s); "
        f"{min(sup):.0f}-{max(sup):.0f} s of it is the supernet, the rest the derived arch's trial and data loading.\n"
        f"- **Accuracy.** The retrained test accuracy averages {statistics.mean(acc_o):.2f} ({min(acc_o):.2f}-"
        f"{max(acc_o):.2f}), {best_m - statistics.mean(acc_o):.2f} points under the best main-job run of this table "
        f"({best_m:.2f})."
    )


@figure("oneshot_fashion_mnist_old")
def oneshot_fashion_mnist_old() -> str:
    runs = runs_of(*FM_OLD)
    accs = ", ".join(f"{100 * r['test_acc']:.2f}" for r in sorted(runs, key=lambda r: r["seed"]))
    cpu = [r["search_cpu_s"] for r in runs]
    return f"{accs} (seeds 0-2) for {min(cpu):.0f}-{max(cpu):.0f} CPU s of search"


# -- one-shot on NAS-Bench-201 -------------------------------------------------------------------------------
LEGACY = "oneshot/legacy/"
TWELVE = {
    "drnas": (
        "**DrNAS (the default, `oneshot`)**",
        ("results_12ep_warmup4_drnas", "results_12ep_warmup4_drnas_seeds345"),
    ),
    "beta-darts": ("beta-DARTS", ("results_12ep_warmup4_beta_darts",)),
    "darts": ("DARTS", ("results_12ep_warmup4_darts", "results_12ep_warmup4_darts_seeds345")),
    "darts-pt": (
        "DARTS-PT (perturbation-based selection on the DARTS supernet)",
        ("results_12ep_warmup4_gdas_darts_pt",),
    ),
    "gdas": ("GDAS", ("results_12ep_warmup4_gdas_darts_pt",)),
    "spos": ("SPOS (12 epochs of uniform single paths, then evolution on the supernet)", ("results_12ep_spos_enas",)),
    "enas": ("ENAS (12 epochs)", ("results_12ep_spos_enas",)),
}


def oneshot_runs(method: str, files: tuple[str, ...]) -> list[dict[str, Any]]:
    return [r for r in runs_of(*(f"{LEGACY}{f}.json" for f in files)) if r["method"] == method]


def mean_std(runs: list[dict[str, Any]]) -> tuple[float, float]:
    accs = [r["c10_test_acc_200"] for r in runs]
    return statistics.mean(accs), statistics.pstdev(accs)


def free(runs: list[dict[str, Any]]) -> str:
    return f"{statistics.mean(r['param_free_ops'] for r in runs):.3g}"


@figure("oneshot_nb201_default")
def oneshot_nb201_default() -> str:
    return f"{mean_std(oneshot_runs('drnas', TWELVE['drnas'][1]))[0]:.2f}"


@figure("oneshot_nb201")
def oneshot_nb201() -> str:
    body = []
    for method, (name, files) in TWELVE.items():
        runs = oneshot_runs(method, files)
        mean, std = mean_std(runs)
        value = pm(mean, std)
        body.append(
            [
                name,
                len(runs),
                f"**{value}**" if method == "drnas" else value,
                f"{min(r['c10_test_acc_200'] for r in runs):.2f}",
                free(runs),
            ]
        )
    head = [
        "method (12 epochs, 4 of warm-up)",
        "seeds",
        "CIFAR-10 test of the derived cell",
        "worst seed",
        "free ops (of 6)",
    ]
    return table(head, body)


@figure("oneshot_nb201_seeds")
def oneshot_nb201_seeds() -> str:
    body = []
    for method, (_, files) in TWELVE.items():
        for r in sorted(oneshot_runs(method, files), key=lambda r: r["seed"]):
            body.append([method, r["seed"], f"{r['c10_test_acc_200']:.2f}", r["param_free_ops"], f"`{r['cell']}`"])
    return table(["method", "seed", "CIFAR-10 test", "free ops", "derived cell"], body)


@figure("oneshot_nb201_first")
def oneshot_nb201_first() -> str:
    eight = record(f"{LEGACY}results.json")["runs"]
    sixteen = runs_of(f"{LEGACY}results_16ep_darts.json", f"{LEGACY}results_16ep_drnas_beta.json")
    names = {
        "darts": "DARTS (first order)",
        "beta-darts": "beta-DARTS",
        "drnas": "DrNAS",
        "darts-pt": "DARTS-PT (no fine-tuning between edges)",
        "gdas": "GDAS",
        "spos": "SPOS",
        "enas": "ENAS (factorised policy, no LSTM)",
    }
    body = []
    for method, name in names.items():
        row: list[Any] = [name]
        for runs in (eight, sixteen):
            mine = [r for r in runs if r["method"] == method]
            row += [pm(*mean_std(mine)), free(mine)] if mine else ["-", "-"]
        body.append(row)
    return table(["method", "8 epochs", "free ops", "16 epochs", "free ops"], body)


@figure("oneshot_nb201_settings")
def oneshot_nb201_settings() -> str:
    rows = (
        ("28x28 images", "results_8ep_size28"),
        ("two cells per stage", "results_8ep_N2"),
        ("crop + flip augmentation", "results_8ep_augment"),
    )
    body = [
        [name, f"{mean_std([r for r in runs_of(f'{LEGACY}{f}.json') if r['method'] == 'drnas'])[0]:.2f}"]
        for name, f in rows
    ]
    return table(["setting", "DrNAS mean"], body)


@figure("oneshot_nb201_bn")
def oneshot_nb201_bn() -> str:
    before = [r for r in record(f"{LEGACY}results.json")["runs"] if r["method"] == "darts"]
    after = [r for r in record(f"{LEGACY}results_8ep_nonaffine_bn.json")["runs"] if r["method"] == "darts"]
    return f"{mean_std(before)[0]:.2f} to {mean_std(after)[0]:.2f}"


@figure("oneshot_fashion_mnist_brief")
def oneshot_fashion_mnist_brief() -> str:
    main, one = runs_of(*FM_MAIN), runs_of(FM_ONESHOT)
    share = statistics.mean(r["search_cpu_s"] for r in one) / statistics.mean(r["search_cpu_s"] for r in main)
    gap = max(r["test_acc"] for r in main) - statistics.mean(r["test_acc"] for r in one)
    first = min(one, key=lambda r: r["seed"])
    return (
        f"{share:.2f} of the search CPU time, for {100 * gap:.2f} points less test accuracy than the best main-job "
        f'run of that comparison (docs/benchmarks.md, "One-shot on Fashion-MNIST"). Its seed-0 run with one thread '
        f"took {first['search_cpu_s'] + first['retrain_cpu_s']:.0f} CPU s (search and retraining; "
        f"{first['search_wall_s'] + first['retrain_wall_s']:.0f} s of wall time), including the "
        f"{first['retrain_epochs']:.0f}-epoch retraining, and gave {100 * first['test_acc']:.2f} % test accuracy"
    )
