"""The `federated` preset as a user runs it (`nasforge run federated`), timed from the outside, with what each
trial recorded: rounds, bytes sent and received, the clients' accuracies, wall time.

    python benchmarks/federated_preset.py --seeds 0 --cpus 0,1    # records/federated/federated_preset_2core-*.json

Each seed runs in a fresh storage and export folder; the spoken digits must already be cached (the first
`nasforge run spoken_digits` or `federated` generates them), so the timing is the search's, not espeak-ng's.
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


def preset_run(seed: int, folder: Path) -> dict[str, Any]:
    cmd = [
        str(Path(sys.executable).parent / "nasforge"),
        "run",
        "federated",
        "--seed",
        str(seed),
        "--storage",
        str(folder / "nas.db"),
        "--export",
        str(folder / "out"),
        "--quiet",
    ]
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
    wall = time.time() - started
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout)[-2000:], "wall_s": wall}
    from nasforge.storage import get_storage
    from nasforge.trial import TrialState

    store = get_storage(str(folder / "nas.db"))
    trials = store.get_trials(store.require_experiment("federated-spoken-digits").id)
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    # a trial still running at the search's deadline is cut after its current round: its rounds count too
    cut = [t for t in trials if t.state is TrialState.PRUNED and t.metrics]
    keys = ("val_acc", "client_acc_mean", "client_acc_std", "client_acc_min", "rounds", "comm_bytes", "train_time")
    metrics = json.loads((folder / "out" / "metrics.json").read_text())
    return {
        "test_acc": metrics.get("test_acc"),
        "final_rounds": metrics.get("rounds"),
        "final_comm_bytes": metrics.get("comm_bytes"),
        "best_val_acc": max((t.metrics["val_acc"] for t in done), default=None),
        "trials": len(trials),
        "completed": len(done),
        "cut_at_deadline": len(cut),
        "per_trial": [{"state": t.state.value, **{k: t.metrics.get(k) for k in keys}} for t in [*done, *cut]],
        "job_s": metrics.get("job_time"),
        "search_s": metrics.get("job_search_time"),
        "retrain_s": metrics.get("job_retrain_time"),
        "wall_s": wall,
        "stdout_tail": out.stdout[-1500:],
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"runs": len(runs), "failed": len(runs)}
    trials = [t for r in ok for t in r["per_trial"]]

    def mean(values: list[float]) -> float | None:
        return statistics.fmean(values) if values else None

    return {
        "runs": len(runs),
        "failed": len(runs) - len(ok),
        "mean_wall_s": mean([r["wall_s"] for r in ok]),
        "mean_test_acc": mean([r["test_acc"] for r in ok if r["test_acc"] is not None]),
        "mean_completed_trials": mean([r["completed"] for r in ok]),
        "mean_cut_trials": mean([r["cut_at_deadline"] for r in ok]),
        "mean_trial_s": mean([t["train_time"] for t in trials]),
        "mean_trial_comm_bytes": mean([t["comm_bytes"] for t in trials]),
        "mean_trial_rounds": mean([t["rounds"] for t in trials]),
        "mean_client_acc_std": mean([t["client_acc_std"] for t in trials]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--cpus", help="pin every run to these cores (taskset list, e.g. 1); default: all")
    args = parser.parse_args()
    if args.cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    cores = len(os.sched_getaffinity(0))
    record = Record(f"federated_preset_{cores}core", area="federated", config={**vars(args), "cores": cores})
    print(f"record: {record.path}", flush=True)
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix=f"federated-{seed}-") as tmp:
            run = {"seed": seed, "cores": cores, **preset_run(seed, Path(tmp))}
        record.add_run(run)
        shown = (
            f"test {100 * run['test_acc']:.2f} %" if run.get("test_acc") is not None else run.get("error", "")[-300:]
        )
        print(f"seed {seed}: {shown}, {run.get('completed', 0)} trials, {run['wall_s']:.0f} s", flush=True)
    path = record.save(summary=summarize(record.runs))
    print(json.dumps(summarize(record.runs), indent=1))
    print(f"record: {path}")


if __name__ == "__main__":
    main()
