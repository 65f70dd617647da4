"""The `translation` preset as a user runs it (`nasforge run translation`), timed from the outside: the whole
job's wall time (corpus, tokenizer, search, retrain, test, export; setup not counted), what each trial
recorded (`val_bleu`, `val_chrf`, steps) and the exported model's test figures.

    python benchmarks/translation_preset.py --seeds 0 --cpus 0,1    # records/translation/translation_preset_2core-*.json

Each seed runs in a fresh storage and export folder. The preset promises at most 15 minutes on 2 cores; the
record says whether the run kept to that (`within_budget`) and how the time split.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import Finished, main, run_preset

BUDGET_S = 900.0  # the preset's promise: 15 minutes on 2 cores, search + retrain + export


def preset_run(seed: int, folder: Path) -> dict[str, Any]:
    run = run_preset("translation", "translation-en-fr", seed, folder)
    if not isinstance(run, Finished):
        return run
    trials, done, metrics, wall = run.trials, run.completed, run.metrics, run.wall_s
    keys = ("val_bleu", "val_chrf", "steps", "train_time", "params")
    return {
        "test_bleu": metrics.get("test_bleu"),
        "test_chrf": metrics.get("test_chrf"),
        "test_copy_bleu": metrics.get("test_copy_bleu"),
        "retrain_s": metrics.get("train_time"),
        "retrain_steps": metrics.get("steps"),
        "params": metrics.get("search_params"),
        "best_val_bleu": max((t.metrics["val_bleu"] for t in done), default=None),
        "trials": len(trials),
        "completed": len(done),
        "per_trial": [{"state": t.state.value, **{k: t.metrics.get(k) for k in keys}} for t in trials],
        "wall_s": wall,
        "within_budget": wall <= BUDGET_S,
        "stdout_tail": run.stdout[-1500:],
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"runs": len(runs), "failed": len(runs)}
    return {
        "runs": len(runs),
        "failed": len(runs) - len(ok),
        "budget_s": BUDGET_S,
        "mean_wall_s": statistics.fmean(r["wall_s"] for r in ok),
        "max_wall_s": max(r["wall_s"] for r in ok),
        "all_within_budget": all(r["within_budget"] for r in ok),
        "mean_test_bleu": statistics.fmean(r["test_bleu"] for r in ok),
        "mean_test_chrf": statistics.fmean(r["test_chrf"] for r in ok),
        "mean_copy_bleu": statistics.fmean(r["test_copy_bleu"] for r in ok),
        "mean_completed_trials": statistics.fmean(r["completed"] for r in ok),
    }


if __name__ == "__main__":
    main(
        __doc__,
        "translation_preset",
        "translation",
        preset_run,
        summarize,
        lambda run: f"test BLEU {run['test_bleu']:.2f}",
    )
