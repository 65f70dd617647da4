"""Figures of the translation benchmark (docs/translation.md, README.md), from the newest record of
`benchmarks/translation_baseline.py` under records/translation/."""

from __future__ import annotations

import statistics
from typing import Any

from figures import figure, latest, table


def baseline() -> dict[str, Any]:
    return latest("translation", "translation_baseline")


def _per_seed(rec: dict[str, Any], method: str, key: str) -> list[float]:
    return [r[key] for r in sorted((r for r in rec["runs"] if r.get("method") == method), key=lambda r: r["seed"])]


def _shape(arch: dict[str, Any]) -> str:
    ops = [arch[f"{side}/{i}/op"] for side in ("encoder", "decoder") for i in range(arch[side])]
    kinds = ", ".join(f"{ops.count(op)} {op}" for op in sorted(set(ops)))
    return f"{arch['encoder']} + {arch['decoder']} blocks, width {arch['embed_dim']}; {kinds}"


@figure("translation_baseline")
def translation_baseline() -> str:
    rec = baseline()
    s, cfg = rec["summary"], rec["config"]
    rows = []
    for method, label in (("searched", "searched"), ("handmade", "hand-made Transformer")):
        bleu = _per_seed(rec, method, "test_bleu")
        arch = rec["search"]["arch"] if method == "searched" else rec["handmade"]["arch"]
        steps = _per_seed(rec, method, "steps")
        rows.append(
            [
                f"{label} ({_shape(arch)})",
                f"{s[method]['params']:,}",
                f"{statistics.mean(bleu):.2f} +- {statistics.stdev(bleu):.2f}",
                f"{s[method]['test_chrf_mean']:.2f}",
                ", ".join(f"{b:.2f}" for b in bleu),
                f"{statistics.mean(steps):,.0f}",
            ]
        )
    rows.append(["copying the source", "-", f"{s['copy_source']['test_bleu']:.2f}", "-", "-", "-"])
    cores = rec["machine"].get("usable_cpus")
    budget = f"{cfg['final_steps']} batches" if cfg.get("final_steps") else f"{cfg['final_time']:.0f} s"
    lead = (
        f"Record `{rec['_file']}` (commit {rec['commit'][:7]}, {len(cores) if cores else '?'} core(s)): "
        f"`{rec['command']}`. The search ran {cfg['search_time']:.0f} s ({rec['search']['metrics']['trials']:.0f} "
        f"trials of {cfg['trial_time']:.0f} s); each model was retrained on train + valid for {budget} per seed "
        f"and translated the {rec['split']['test']:,} test pairs with a beam of {cfg['beam']}."
    )
    trials = [r for r in rec["runs"] if r.get("method") == "handmade_lr_trial" and "val_bleu" in r]
    if trials:
        tried = ", ".join(f"{r['learning_rate']:g} ({r['val_bleu']:.2f})" for r in trials)
        lead += (
            f" The hand-made model's learning rate, {rec['handmade']['learning_rate']:g}, was chosen on validation "
            f"BLEU after one search trial's time each: {tried}."
        )
    shares = [r["cpu_share"] for r in rec["runs"] if "cpu_share" in r]
    if shares:
        lead += f" Each retrain had the core to itself: CPU time over wall time {min(shares):.2f} or more."
    lead += f" Means over seeds {', '.join(str(x) for x in cfg['seeds'])}:"
    header = ["model", "parameters", "test BLEU (mean +- sd)", "test chrF", "BLEU per seed", "steps (mean)"]
    return lead + "\n\n" + table(header, rows)


@figure("translation_preset")
def translation_preset() -> str:
    rec = latest("translation", "translation_preset_2core")
    runs = [r for r in rec["runs"] if "error" not in r]
    if not runs:
        raise SystemExit("the newest translation_preset_2core record has no finished run")
    s = rec["summary"]
    kept = "within" if s["all_within_budget"] else "over"
    bleu = ", ".join(f"{r['test_bleu']:.2f}" for r in runs)
    return (
        f"record `{rec['_file']}` (commit {rec['commit'][:7]}, `{rec['command']}`, two cores): "
        f"{len(runs)} run(s), the whole job {s['mean_wall_s'] / 60:.1f} min of wall time on average (at most "
        f"{s['max_wall_s'] / 60:.1f}, {kept} the 15 minutes), {s['mean_completed_trials']:.0f} trials per search, "
        f"test BLEU {bleu} (mean {s['mean_test_bleu']:.2f}; "
        f"copying the source {s['mean_copy_bleu']:.2f})"
    )
