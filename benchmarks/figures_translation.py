"""Figures of the translation benchmark (docs/translation.md, README.md), from the newest record of
`benchmarks/translation_baseline.py` under records/translation/."""

from __future__ import annotations

import statistics
from typing import Any

from figures import figure, latest, table


def baseline() -> dict[str, Any]:
    return latest("translation", "translation_baseline")


def _per_seed(rec: dict[str, Any], method: str, key: str) -> list[float]:
    return [r[key] for r in sorted(rec["runs"], key=lambda r: r["seed"]) if r.get("method") == method]


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
        rows.append(
            [
                f"{label} ({_shape(arch)})",
                f"{s[method]['params']:,}",
                f"{statistics.mean(bleu):.2f} +- {statistics.stdev(bleu):.2f}",
                f"{s[method]['test_chrf_mean']:.2f}",
                ", ".join(f"{b:.2f}" for b in bleu),
            ]
        )
    rows.append(["copying the source", "-", f"{s['copy_source']['test_bleu']:.2f}", "-", "-"])
    cores = rec["machine"].get("usable_cpus")
    budget = f"{cfg['final_steps']} batches" if cfg.get("final_steps") else f"{cfg['final_time']:.0f} s"
    lead = (
        f"Record `{rec['_file']}` (commit {rec['commit'][:7]}, {len(cores) if cores else '?'} core(s)): "
        f"`{rec['command']}`. The search ran {cfg['search_time']:.0f} s ({rec['search']['metrics']['trials']:.0f} "
        f"trials of {cfg['trial_time']:.0f} s); each model was retrained on train + valid for {budget} per seed "
        f"and translated the {rec['split']['test']:,} test pairs with a beam of {cfg['beam']}. Means over "
        f"seeds {', '.join(str(x) for x in cfg['seeds'])}:"
    )
    header = ["model", "parameters", "test BLEU (mean +- sd)", "test chrF", "BLEU per seed"]
    return lead + "\n\n" + table(header, rows)
