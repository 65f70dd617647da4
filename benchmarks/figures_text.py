"""The figures of the text domain: the `rotten_tomatoes` preset's searches, its baseline and the validation
evidence behind its choices (docs/benchmarks.md, README.md, docs/roadmap.md)."""

from __future__ import annotations

import statistics
from typing import Any

from figures import figure, latest, record, table
from figures_other import minutes, text_baseline

WIDE = 262144  # the wide n-gram term's buckets in benchmarks/text_ngram.py and the preset
SETTINGS = ("off", "on")  # the lexicon decision in benchmarks/text_lexicon.py


def cite(rec: dict[str, Any]) -> str:
    return f"record `{rec['benchmark']}` of {rec['started'][:10]}, commit {rec['commit']}: `{rec['command']}`"


# -- the preset's searches (records/domains/legacy/text.json, before the record helper) -------------------------
def lexicon() -> dict[str, Any]:
    return dict(record("domains/legacy/text.json")["lexicon_runs"])


@figure("text_searches")
def text_searches() -> str:
    lex = lexicon()
    runs = sorted(lex["runs"], key=lambda r: r["search_seed"])
    acc = [100 * r["test_acc"] for r in runs]
    single = [100 * r["best_member_test_acc"] for r in runs]
    base = 100 * text_baseline()["test_acc"]
    return (
        f"over three fresh searches (seeds {', '.join(str(r['search_seed']) for r in runs)}; "
        f"{', '.join(str(r['trials']) for r in runs)} trials; {', '.join(minutes(r['wall_s']) for r in runs)} with "
        f"nothing else running) the preset's model scores {', '.join(f'{a:.2f}' for a in acc)} % (mean "
        f"{statistics.mean(acc):.2f} %) against the TF-IDF + logistic-regression baseline's {base:.2f} %; each "
        f"exported model is the best arch retrained on train + valid five times (seeds N to N + 4) and averaged, "
        f"and the single retrain at seed N alone scores {', '.join(f'{a:.2f}' for a in single)} % (mean "
        f"{statistics.mean(single):.2f} %). The margin, {min(acc) - base:+.2f} to {max(acc) - base:+.2f} points"
    )


@figure("text_headline")
def text_headline() -> str:
    lex = lexicon()
    acc = [100 * r["test_acc"] for r in lex["runs"]]
    return (
        f"{min(acc):.2f}-{max(acc):.2f} % over three searches, mean {statistics.mean(acc):.2f} %, against the "
        f"TF-IDF + logistic-regression baseline's {100 * text_baseline()['test_acc']:.2f} %"
    )


@figure("text_lexicon")
def text_lexicon() -> str:
    rec = latest("domains", "text_lexicon")
    val, test = rec["summary"]["mean_val_acc"], rec["summary"]["mean_test_acc"]
    seeds = ", ".join(str(r["seed"]) for r in rec["runs"] if r["lexicon"] == "off")
    off, on = (
        [r["val_acc"] for r in sorted(rec["runs"], key=lambda r: r["seed"]) if r["lexicon"] == x] for x in SETTINGS
    )
    return (
        f"the mean validation accuracy from {val['off']:.4f} to {val['on']:.4f}, {wins(off, on)} (seeds {seeds}; mean test "
        f"accuracy, for reporting, {100 * test['off']:.2f} and {100 * test['on']:.2f} %; {cite(rec)})"
    )


@figure("text_lexicon_chosen")
def text_lexicon_chosen() -> str:
    runs = sorted(lexicon()["runs"], key=lambda r: r["search_seed"])
    on = [r for r in runs if r["best_arch"].get("lexicon") == "on"]
    best = ", ".join(f"{r['search_val_acc']:.4f} {r['best_arch'].get('lexicon')}" for r in runs)
    return f"the best trial by validation accuracy had it on in {len(on)} of {len(runs)} searches ({best})"


@figure("text_blocks")
def text_blocks() -> str:
    lex = lexicon()
    blocks = lex["other_runs_this_session"]["lexicon_with_blocks_seed0"]
    runs = sorted(lex["runs"], key=lambda r: r["search_seed"])
    without = ", ".join(f"{r['search_val_acc']:.4f}" for r in runs)
    return (
        f"one search with the lexicon and blocks allowed reached a best validation accuracy of "
        f"{blocks['search_val_acc']:.4f} in {blocks['trials']} trials, the three without blocks {without} in "
        f"{', '.join(str(r['trials']) for r in runs)}"
    )


@figure("text_not_kept")
def text_not_kept() -> str:
    b = lexicon()["other_runs_this_session"]["no_lexicon_3x3_seed0"]
    return (
        f"three archs with three seeds each at export (`--ensemble 3 --ensemble-seeds 3`, one search without the "
        f"lexicon, {b['trials']} trials): {100 * b['test_acc']:.2f} % on test"
    )


@figure("text_before_lexicon")
def text_before_lexicon() -> str:
    fresh = [s for s in record("domains/legacy/text.json")["searched"] if "seeds5-fresh" in s["file"]]
    acc = [100 * s["test_acc"] for s in sorted(fresh, key=lambda s: s["file"])]
    return f"{statistics.mean(acc):.2f} % over three searches ({', '.join(f'{a:.2f}' for a in acc)} %)"


# -- single decisions on one arch (benchmarks/text_ngram.py, benchmarks/text_vectors.py) ------------------------
def ngram_settings() -> list[dict[str, Any]]:
    """text_ngram.py's settings with each seed's validation accuracy, in the record's order."""
    rec = latest("domains", "text_ngram")
    settings = [dict(s) for s in rec["summary"]["settings"]]
    for s in settings:
        mine = [r for r in rec["runs"] if r["min_freq"] == s["min_freq"] and r["change"] == s["change"]]
        s["val_accs"] = [r["val_acc"] for r in sorted(mine, key=lambda r: r["seed"])]
    return settings


def setting(min_freq: int, **change: Any) -> dict[str, Any]:
    return next(s for s in ngram_settings() if s["min_freq"] == min_freq and s["change"] == change)


@figure("text_ngram")
def text_ngram() -> str:
    rec = latest("domains", "text_ngram")
    settings = ngram_settings()
    seeds = "/".join(str(s) for s in settings[0]["seeds"])
    body = [
        [
            s["min_freq"],
            ", ".join(f"{k}={v}" for k, v in s["change"].items()) or "(the base arch)",
            " / ".join(f"{v:.4f}" for v in s["val_accs"]),
            f"**{s['mean_val_acc']:.4f}**",
            f"{100 * s['mean_test_acc']:.2f} %",
        ]
        for s in settings
    ]
    head = [
        "min_freq",
        "change from the base arch",
        f"val_acc, seeds {seeds}",
        "**mean val_acc**",
        "mean test accuracy",
    ]
    best = rec["summary"]["best_by_mean_val_acc"]
    best_change = ", ".join(f"{k}={v}" for k, v in best["change"].items())
    return (
        f"{cite(rec)[0].upper()}{cite(rec)[1:]}. Highest mean validation accuracy: min_freq {best['min_freq']}, "
        f"{best_change} ({best['mean_val_acc']:.4f}).\n\n{table(head, body)}"
    )


def vectors() -> dict[str, Any]:
    return latest("domains", "text_vectors")


@figure("text_vectors")
def text_vectors() -> str:
    rec = vectors()
    val, test = rec["summary"]["mean_val_acc"], rec["summary"]["mean_test_acc"]
    found = next(r["found"] for r in rec["runs"] if r["found"])
    seeds = ", ".join(str(r["seed"]) for r in rec["runs"] if r["setting"] == "no vectors")
    names = ("no vectors", "dictionary vectors, frozen", "dictionary vectors, fine-tuned")
    return (
        f"mean validation accuracy {val[names[0]]:.4f} without vectors, {val[names[1]]:.4f} with them frozen, "
        f"{val[names[2]]:.4f} fine-tuned (seeds {seeds}; mean test accuracy, for reporting: "
        f"{', '.join(f'{100 * test[n]:.2f} %' for n in names)}; {cite(rec)}). Dictionary vectors found "
        f"{found:,} of the training words"
    )


def wins(a: list[float], b: list[float]) -> str:
    """At how many seeds `b` beat `a` (both listed in seed order)."""
    return f"higher at {sum(y > x for x, y in zip(a, b, strict=True))} of {len(a)} seeds"


def versus(a: dict[str, Any], b: dict[str, Any]) -> str:
    """`a`'s mean validation accuracy to `b`'s, with the difference and at how many seeds `b` was higher."""
    diff = b["mean_val_acc"] - a["mean_val_acc"]
    return f"{a['mean_val_acc']:.4f} to {b['mean_val_acc']:.4f} ({diff:+.4f}, {wins(a['val_accs'], b['val_accs'])})"


@figure("text_choices")
def text_choices() -> str:
    rec, vec = latest("domains", "text_ngram"), vectors()
    settings = ngram_settings()
    spread = max(max(s["val_accs"]) - min(s["val_accs"]) for s in settings)
    seeds = ", ".join(str(s) for s in settings[0]["seeds"])
    wide = {"ngram_buckets": WIDE}
    val = vec["summary"]["mean_val_acc"]
    lines = [
        f"Mean validation accuracy over seeds {seeds} ({cite(rec)}); one setting's seeds differ by up to {spread:.4f}:",
        f"- **`ngram_buckets: [{WIDE}]`** (the wide term on): from {versus(setting(1), setting(1, **wide))} at "
        f"min_freq 1, from {versus(setting(2), setting(2, **wide))} at min_freq 2.",
        f"- **`min_freq: 1`**: min_freq 2 to 1, with the wide term {versus(setting(2, **wide), setting(1, **wide))}, "
        f"without it {versus(setting(2), setting(1))}.",
        f"- **`learning_rates: [0.01, 0.003]`**: 0.003 to 0.01, max pooling "
        f"{versus(setting(1, **wide), setting(1, **wide, learning_rate=0.01))}, mean pooling "
        f"{versus(setting(1, **wide, pool='mean'), setting(1, **wide, pool='mean', learning_rate=0.01))}.",
        f"- **`embed_dims: [64, 128]`**: 128 to 64 (mean pooling, rate 0.01) "
        f"{versus(setting(1, **wide, pool='mean', learning_rate=0.01), setting(1, **wide, pool='mean', learning_rate=0.01, embed_dim=64))}.",
        f"- **no word vectors**: {val['no vectors']:.4f} without, {val['dictionary vectors, frozen']:.4f} frozen, "
        f"{val['dictionary vectors, fine-tuned']:.4f} fine-tuned ({cite(vec)}).",
    ]
    return "\n".join(lines)
