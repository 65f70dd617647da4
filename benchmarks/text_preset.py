"""The `rotten_tomatoes` preset as a user runs it (`nasforge run rotten_tomatoes`), timed from the outside: per
seed a fresh search, its trials and wall time, the arch it chose (with the lexicon decision), and the exported
model's test accuracy beside its single retrain's (the preset exports the chosen arch retrained with five
seeds and averaged; `best_member_test_acc` is the retrain at the run's seed alone).

    python benchmarks/text_preset.py --seeds 0 1 2 --cpus 0,1    # records/domains/text_preset_2core-*.json

`--set KEY=VALUE` (repeatable) runs a variant of the preset, e.g. without the lexicon or with blocks allowed;
the record's config keeps the overrides, and the figures tell the variants apart by them:

    python benchmarks/text_preset.py --seeds 0 --cpus 0,1 --set dataset.lexicon=null

`--strategy` runs another strategy on the preset's space and data, e.g. the weight-entangled supernet (`ofa`)
over the transformer block's embedding widths, heads and feed-forward widths:

    python benchmarks/text_preset.py --seeds 0 --cpus 0,1 --strategy ofa --set space.depths=[1,2] \
        --set space.ops=[transformer] --set strategy.epochs=5
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import Finished, main, run_preset

PRESET, EXPERIMENT = "rotten_tomatoes", "rotten-tomatoes-text"


def preset_run(seed: int, folder: Path) -> dict[str, Any]:
    run = run_preset(PRESET, EXPERIMENT, seed, folder)
    if not isinstance(run, Finished):
        return run
    metrics = run.metrics
    chosen = next(t for t in run.trials if t.number == int(metrics["trial"]))
    return {
        "test_acc": metrics["test_acc"],
        "best_member_test_acc": metrics.get("best_member_test_acc", metrics["test_acc"]),
        "member_mean_test_acc": metrics.get("member_mean_test_acc", metrics["test_acc"]),
        "ensemble_size": metrics.get("ensemble_size", 1.0),
        "search_val_acc": metrics["search_val_acc"],
        "best_arch": dict(chosen.arch),
        "trials": len(run.trials),
        "completed": len(run.completed),
        "wall_s": run.wall_s,
        "stdout_tail": run.stdout[-1500:],
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"runs": len(runs), "failed": len(runs)}
    return {
        "runs": len(runs),
        "failed": len(runs) - len(ok),
        "mean_test_acc": statistics.fmean(r["test_acc"] for r in ok),
        "mean_best_member_test_acc": statistics.fmean(r["best_member_test_acc"] for r in ok),
        "mean_search_val_acc": statistics.fmean(r["search_val_acc"] for r in ok),
        "mean_trials": statistics.fmean(r["trials"] for r in ok),
        "max_wall_s": max(r["wall_s"] for r in ok),
    }


if __name__ == "__main__":
    main(__doc__, "text_preset", "domains", preset_run, summarize, lambda run: f"test accuracy {run['test_acc']:.4f}")
