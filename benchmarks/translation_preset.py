"""The `translation` preset as a user runs it (`nasforge run translation`), timed from the outside: the whole
job's wall time (corpus, tokenizer, search, retrain, test, export; setup not counted), what each trial
recorded (`val_bleu`, `val_chrf`, steps) and the exported model's test figures.

    python benchmarks/translation_preset.py --seeds 0 --cpus 0,1    # records/translation/translation_preset_2core-*.json

Each seed runs in a fresh storage and export folder. The preset promises at most 15 minutes on 2 cores; the
record says whether the run kept to that (`within_budget`) and how the time split.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

BUDGET_S = 900.0  # the preset's promise: 15 minutes on 2 cores, search + retrain + export


def preset_run(seed: int, folder: Path) -> dict[str, Any]:
    cmd = [str(Path(sys.executable).parent / "nasforge"), "run", "translation", "--seed", str(seed)]
    cmd += ["--storage", str(folder / "nas.db"), "--export", str(folder / "out"), "--quiet"]
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
    wall = time.time() - started
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout)[-2000:], "wall_s": wall}
    from nasforge.storage import get_storage
    from nasforge.trial import TrialState

    store = get_storage(str(folder / "nas.db"))
    trials = store.get_trials(store.require_experiment("translation-en-fr").id)
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    metrics = json.loads((folder / "out" / "metrics.json").read_text())
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
        "stdout_tail": out.stdout[-1500:],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--cpus", help="pin every run to these cores (taskset list, e.g. 0,1); default: all")
    args = parser.parse_args()
    if args.cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    cores = len(os.sched_getaffinity(0))
    record = Record(f"translation_preset_{cores}core", area="translation", config={**vars(args), "cores": cores})
    print(f"record: {record.path}", flush=True)
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix=f"translation-{seed}-") as tmp:
            run = {"seed": seed, "cores": cores, **preset_run(seed, Path(tmp))}
        record.add_run(run)
        shown = f"test BLEU {run['test_bleu']:.2f}" if run.get("test_bleu") is not None else run["error"][-300:]
        print(f"seed {seed}: {shown}, {run.get('completed', 0)} trials, {run['wall_s']:.0f} s", flush=True)
    summary = summarize(record.runs)
    path = record.save(summary=summary)
    print(json.dumps(summary, indent=1))
    print(f"record: {path}")


if __name__ == "__main__":
    main()
