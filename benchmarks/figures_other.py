"""The figures of multi-objective search, scale, exports, the domain presets and the main job's CPU speed (the
text domain's: figures_text.py)."""

from __future__ import annotations

import json
import re
from typing import Any

from figures import RECORDS, cite, figure, latest, provenance, record, table

DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16-120": "ImageNet16-120"}


# -- multi-objective -------------------------------------------------------------------------------------------
def mo_rows(benchmark: str) -> list[dict[str, Any]]:
    """One row per strategy and dataset of the newest record of multiobjective_nb201.py (`nb201_params` or
    `nb201_latency`)."""
    return list(latest("multiobjective", benchmark)["runs"])


def mo_cite(benchmark: str) -> str:
    rec = latest("multiobjective", benchmark)
    return f"Record `{rec['benchmark']}` of {rec['started'][:10]}, commit {rec['commit']}: `{rec['command']}`."


@figure("mo_params")
def mo_params() -> str:
    import multiobjective_nb201 as bench

    return f"{mo_cite('nb201_params')}\n\n{bench.table(mo_rows('nb201_params'))}"


@figure("mo_params_best")
def mo_params_best() -> str:
    rows = mo_rows("nb201_params")
    parts = []
    for dataset, name in DATASET_NAMES.items():
        best = max((r for r in rows if r["dataset"] == dataset), key=lambda r: r["signal_nadir"])
        parts.append(f"{name} {100 * best['signal_nadir']:.2f} % (`{best['strategy']}`)")
    return ", ".join(parts)


@figure("mo_params_imagenet")
def mo_params_imagenet() -> str:
    rows = [r for r in mo_rows("nb201_params") if r["dataset"] == "imagenet16-120"]
    return f"{100 * max(r['signal_nadir'] for r in rows):.2f} %"


@figure("mo_latency")
def mo_latency() -> str:
    import multiobjective_nb201 as bench

    return f"{mo_cite('nb201_latency')}\n\n{bench.table(mo_rows('nb201_latency'))}"


@figure("mo_latency_table")
def mo_latency_table() -> str:
    m = record("multiobjective/legacy/nb201_latency_cpu.json")
    return (
        f"{m['latency_ms']['min']:.2f} to {m['latency_ms']['max']:.1f} ms over {m['cells']:,} cells. Measured again, "
        f"{m['retest']['cells']} cells rank with Spearman {m['retest']['spearman']:.3f} against the first pass "
        f"(median ratio {m['retest']['median_ratio']:.2f})"
    )


@figure("mo_fashion_mnist_latency")
def mo_fashion_mnist_latency() -> str:
    log = (RECORDS / "multiobjective/legacy/fashion_mnist_latency.txt").read_text()
    rejected = re.search(r"(\d+) proposals broke the constraints", log)
    val = re.search(r"best trial \d+: val_acc=([\d.]+)", log)
    test = re.search(r"test accuracy of the exported model: ([\d.]+) %", log)
    fresh = json.loads(log.strip().splitlines()[-1])
    assert rejected and val and test, "records/multiobjective/legacy/fashion_mnist_latency.txt lacks a line"
    return (
        f"{rejected[1]} proposals broke the constraint and were rejected before any training (the strategy is "
        f"told they failed; they are not stored). The best (validation {val[1]}, test {test[1]} % after "
        f"retraining) measured {fresh['search_latency_ms']:.3f} ms during the search; before export nasforge "
        f"measures the chosen model again ({fresh['export_latency_ms']:.3f} ms; had it broken the constraint, the "
        f"next best would have been taken), and a fresh process measures the exported files at "
        f"{fresh['fresh_eager_ms']:.2f} ms eager and {fresh['fresh_torchscript_ms']:.2f} ms TorchScript"
    )


# -- scale ---------------------------------------------------------------------------------------------------
ARMS = {
    "sequential-1": "one process, 1 torch thread",
    "sequential-2": "one process, 2 torch threads",
    "pool-2x1": "`LocalPoolExecutor`, 2 workers x 1 thread",
}


@figure("pool_throughput")
def pool_throughput() -> str:
    rec = latest("scale", "pool_throughput")
    rows = {r["arm"]: r for r in rec["runs"]}
    body = [
        [
            name,
            f"{r['wall_s']:.1f}",
            f"{r['per_s']:.3f}",
            f"{r['speedup_vs_sequential_1']:.2f}",
            f"{r['speedup_vs_sequential_2']:.2f}",
        ]
        for arm, name in ARMS.items()
        for r in [rows[arm]]
    ]
    pool, one = rows["pool-2x1"], rows["sequential-1"]
    return (
        table(["arm", "wall s", "trials / s", "vs one process, 1 thread", "vs one process, 2 threads"], body)
        + f"\n\nTwo workers give {pool['speedup_vs_sequential_1']:.2f} times the throughput of one single-threaded "
        f"process, start-up included ({pool['steady_per_s'] / one['steady_per_s']:.2f} between the first and the "
        f"last trial's end), and {pool['speedup_vs_sequential_2']:.2f} times that of one process using both cores "
        f"through torch's own threads.\n\n{provenance(rec)}"
    )


@figure("ray_overhead")
def ray_overhead() -> str:
    rec = latest("scale", "ray_overhead")
    runs = {run["loop"]: run for run in rec["runs"]}
    names = {
        "nasforge + SequentialExecutor": "nasforge, `SequentialExecutor`",
        "nasforge + LocalPoolExecutor (2)": "nasforge, `LocalPoolExecutor` (2 workers)",
        "nasforge + RayExecutor (2 actors)": "nasforge, `RayExecutor` (2 actors)",
        "Ray Tune (reuse_actors, 2 at once)": "Ray Tune, reused actors",
    }
    body = [
        [
            name,
            f"{runs[k]['per_trial_ms']:.2f}",
            f"{runs[k]['startup_s']:.2f}",
            f"{runs[k]['total_s']:.1f}",
        ]
        for k, name in names.items()
    ]
    lat = rec["summary"]["report_latency"]
    return (
        table(["loop", "ms / trial", "start-up s", f"{rec['summary']['trials']:,} trials s"], body)
        + f"\n\nA report made inside a Ray actor reaches the driver in {lat['median_ms']:.0f} ms (median; p95 "
        f"{lat['p95_ms']:.0f} ms).\n\n{provenance(rec)}"
    )


# -- exports ---------------------------------------------------------------------------------------------------
@figure("export_agreement")
def export_agreement() -> str:
    rec = latest("ux", "export_agreement")
    formats = {run["format"]: run for run in rec["runs"]}
    names = {
        "torchscript": "TorchScript (`model.torchscript.pt`)",
        "onnx": "ONNX Runtime (`model.onnx`)",
        "python": "plain PyTorch source (`model.py`, imported without nasforge)",
    }
    n = rec["summary"]["test_images"]
    body = []
    for key, name in names.items():
        f = formats[key]
        diff = f["max_abs_logit_diff"]
        body.append([name, "0" if diff == 0 else f"{diff:.2e}", f"{f['predictions_differing']} of {n:,}"])
    return (
        table(["format", "largest logit difference from PyTorch", "predictions that differ"], body)
        + f"\n\nThe exported model's own test accuracy in that run: {100 * rec['summary']['test_acc_pytorch']:.2f} %. "
        + provenance(rec)
    )


# -- other domains ---------------------------------------------------------------------------------------------
def text_baseline() -> dict[str, Any]:
    """The TF-IDF + logistic-regression baseline's run in the newest record of benchmarks/text_baseline.py."""
    return dict(next(r for r in latest("domains", "text_baseline")["runs"] if r["kind"] == "baseline"))


def minutes(seconds: float) -> str:
    return f"{int(seconds) // 60} min {int(seconds) % 60} s"


def by(rec: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    """The runs of a record that did not fail, by `key` (the first of each)."""
    runs: dict[str, dict[str, Any]] = {}
    for run in rec["runs"]:
        if "error" not in run:
            runs.setdefault(run[key], run)
    return runs


@figure("domains_presets")
def domains_presets() -> str:
    presets_rec = latest("domains", "domains_presets")
    tab_rec, speech_rec = latest("domains", "domains_tabular"), latest("domains", "domains_speech")
    p = by(presets_rec, "preset")
    tab = next(r for r in tab_rec["runs"] if r["table"] == "credit_data")
    speech = by(speech_rec, "preset")
    text = text_baseline()
    rows = [
        (
            "tabular",
            "R's credit_data (891 test rows)",
            f"logistic regression {100 * tab['logistic_regression']:.2f} %, HistGradientBoosting "
            f"{100 * tab['hist_gradient_boosting']:.2f} % (*)",
        ),
        (
            "japanese_vowels",
            "9 speakers (370 utterances)",
            f"logistic regression on the flattened padded frames "
            f"{100 * speech['japanese_vowels']['logistic_regression_test_acc']:.2f} % (*)",
        ),
        (
            "spoken_digits",
            "espeak-ng digits, 18 voices never heard in training (1,080 utterances)",
            f"logistic regression on the flattened log-mels "
            f"{100 * speech['spoken_digits']['logistic_regression_test_acc']:.2f} % (*)",
        ),
        (
            "rotten_tomatoes",
            "fresh / rotten snippets of held-out movies (2,581)",
            f"TF-IDF (1-{text['best']['ngram_range'][1]} grams) + logistic regression {100 * text['test_acc']:.2f} %; "
            f"majority class {100 * text['majority_test_acc']:.2f} %",
        ),
    ]
    body = [
        [
            f"`{name}`",
            data,
            minutes(p[name]["wall_s"]),
            p[name]["completed"],
            f"{p[name]['best_val_acc']:.4f}",
            f"**{100 * p[name]['test_acc']:.2f} %**",
            base,
        ]
        for name, data, base in rows
    ]
    head = [
        "preset",
        "data (test part)",
        "wall time",
        "trials",
        "best val_acc",
        "**test accuracy**",
        "baseline on the same split",
    ]
    lead = (
        f"Each preset was run through `nasforge run PRESET` (its own settings: two worker processes, its time limits, "
        f"its export), one after another, each from an empty cache, so the spoken digits' time includes "
        f"generating them; record {cite(presets_rec)}, {presets_rec['started'][:10]}"
    )
    if len(presets_rec["machine"].get("usable_cpus") or []) == 1:
        lead += " (both workers shared that core, where a preset is made for two)"
    lead += ":"
    note = (
        f"(*) from the domain benchmarks, on the preset's split (their own searches are not in the table): "
        f"{cite(tab_rec)} and {cite(speech_rec)}; the text baseline, C and n-gram range chosen on the validation "
        f"movies, then refit on train + valid and tested once: {cite(latest('domains', 'text_baseline'))}."
    )
    return f"{lead}\n\n{table(head, body)}\n\n{note}"


@figure("domains_targets")
def domains_targets() -> str:
    p = by(latest("domains", "domains_presets"), "preset")
    longest = max(p.values(), key=lambda r: r["wall_s"])
    asked = {
        "spoken_digits": (0.95, "on held-out voices of the noisy spoken digits"),
        "japanese_vowels": (0.97, "on the JapaneseVowels test set"),
    }
    parts = [
        f"{100 * p[name]['test_acc']:.2f} % {where} (>= {100 * floor:.0f} % asked: "
        f"{'held' if p[name]['test_acc'] >= floor else 'missed'})"
        for name, (floor, where) in asked.items()
    ]
    within = "within" if longest["wall_s"] <= 900 else "past"
    tab = next(r for r in latest("domains", "domains_tabular")["runs"] if r["table"] == "credit_data")
    speech = by(latest("domains", "domains_speech"), "preset")
    best = max(("logistic_regression", "hist_gradient_boosting"), key=lambda k: tab[k])
    names = {"logistic_regression": "logistic regression", "hist_gradient_boosting": "HistGradientBoosting"}
    baselines = {
        "tabular": (tab[best], f"the better baseline ({names[best]})"),
        "japanese_vowels": (speech["japanese_vowels"]["logistic_regression_test_acc"], "logistic regression"),
        "spoken_digits": (speech["spoken_digits"]["logistic_regression_test_acc"], "logistic regression"),
    }
    against = []
    for name, (base, what) in baselines.items():
        gap = 100 * (p[name]["test_acc"] - base)
        side = "above" if gap > 0 else "below" if gap < 0 else "from"
        against.append(f"`{name}` {abs(gap):.2f} points {side} {what}")
    return (
        f"The longest preset, `{longest['preset']}`, took {minutes(longest['wall_s'])}, {within} the 15 minutes "
        f"asked. The speech targets: {parts[0]}; {parts[1]}. Against the baselines on the same split: "
        f"{'; '.join(against)}"
    )


# -- the main job's CPU speed ------------------------------------------------------------------------------------
def cpu_speed(threads: int) -> dict[str, Any]:
    paths = sorted((RECORDS / "mainjob").glob("cpu_training_speed-*.json"))
    found = [r for r in (json.loads(p.read_text()) for p in paths) if r and r["config"]["threads"] == threads]
    return max(found, key=lambda r: r["started"])["summary"]


@figure("mainjob_cpu_speed")
def mainjob_cpu_speed() -> str:
    two = cpu_speed(2)
    return (
        f"an epoch of those above took {two['median_epoch_s_over_limit']:.1f} s (median, 2 threads) against "
        f"{two['median_epoch_s_under_limit']:.1f} s for those under"
    )


@figure("mainjob_channels_last")
def mainjob_channels_last() -> str:
    one, two = cpu_speed(1), cpu_speed(2)
    return (
        f"{one['median_speedup']:.2f} times faster training steps (median over the archs, {one['min_speedup']:.2f} "
        f"to {one['max_speedup']:.2f}) with one thread, {two['median_speedup']:.2f} ({two['min_speedup']:.2f} to "
        f"{two['max_speedup']:.2f}) with two"
    )


@figure("mainjob_retrain_inherit")
def mainjob_retrain_inherit() -> str:
    body = latest("mainjob", "mainjob_retrain")
    s = body["summary"]
    gains = ", ".join(f"{p['gain_points']:+.2f}" for p in s["pairs"].values())
    return (
        f"in {s['warm_better']} of {s['n']} archs the main job chose, a 450-s retrain on one core that started from "
        f"the 180-s search trial's weights scored higher on held-out training images than one from scratch "
        f"({gains} points; mean {s['mean_gain_points']:+.2f})"
    )
