"""The README's table of headline results: one row per area, each from the records its page's figures use,
with a link to that page (where the full tables, commands and records are)."""

from __future__ import annotations

import statistics

from figures import figure, latest, table
from figures_nb201 import bench_summary
from figures_other import text_baseline
from figures_scale import scaling_headline
from figures_text import lexicon


def _nb201() -> list[str]:
    rows = bench_summary()
    bo, rea, rnd = (rows[(s, "cifar10")] for s in ("bo", "evolution", "random"))
    return [
        "[NAS-Bench-201](docs/benchmarks.md), CIFAR-10, 200 seeds per strategy",
        f"`bo` (the default) {bo['mean']:.2f} %; regularized evolution {rea['mean']:.2f} % (published "
        f"{rea['published'].split()[0]}); random {rnd['mean']:.2f} % (published {rnd['published'].split()[0]})",
    ]


def _translation() -> list[str]:
    rec = latest("translation", "translation_baseline")
    s = rec["summary"]
    seeds = len(rec["config"]["seeds"])
    return [
        f"[Translation](docs/translation.md), English to French, held-out packages, {seeds} seeds",
        f"searched {s['searched']['test_bleu_mean']:.1f} BLEU; the hand-made Transformer of its size "
        f"{s['handmade']['test_bleu_mean']:.1f}; copying the source {s['copy_source']['test_bleu']:.1f}",
    ]


def _federated() -> list[str]:
    rec = latest("federated", "federated_1core")
    m = rec["summary"]["methods"]
    seeds = min(v["runs"] for v in m.values())
    return [
        f"[Federated search](docs/federated.md), spoken digits over 12 clients split by voice, {seeds} seeds",
        f"federated search {100 * m['federated']['mean_test_acc']:.2f} %; the same search on pooled data "
        f"{100 * m['central']['mean_test_acc']:.2f} %; a fixed model trained with FedAvg "
        f"{100 * m['fixed']['mean_test_acc']:.2f} %",
    ]


def _text() -> list[str]:
    lex = lexicon()
    acc = [100 * r["test_acc"] for r in lex["runs"]]
    return [
        f"[Text](docs/benchmarks.md), Rotten Tomatoes split by movie, {len(acc)} searches",
        f"searched {statistics.mean(acc):.2f} %; TF-IDF + logistic regression {100 * text_baseline()['test_acc']:.2f} %",
    ]


def _scale() -> list[str]:
    return ["[Scale](docs/scaling.md), trials per hour against workers", scaling_headline()]


@figure("readme_headlines")
def readme_headlines() -> str:
    rows = [_nb201(), _translation(), _federated(), _text(), _scale()]
    return table(["area", "result (mean over seeds or searches; test data)"], rows)
