"""The `federated` preset as a user runs it (`nasforge run federated`), timed from the outside, with what each
trial recorded: rounds, bytes sent and received, the clients' accuracies, wall time.

    python benchmarks/federated_preset.py --seeds 0 --cpus 0,1    # records/federated/federated_preset_2core-*.json

Each seed runs in a fresh storage and export folder; the spoken digits must already be cached (the first
`nasforge run spoken_digits` or `federated` generates them), so the timing is the search's, not espeak-ng's.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import Finished, main, run_preset


def preset_run(seed: int, folder: Path) -> dict[str, Any]:
    run = run_preset("federated", "federated-spoken-digits", seed, folder)
    if not isinstance(run, Finished):
        return run
    trials, done, metrics, wall = run.trials, run.completed, run.metrics, run.wall_s
    from nasforge.trial import TrialState

    # a trial still running at the search's deadline is cut after its current round: its rounds count too
    cut = [t for t in trials if t.state is TrialState.PRUNED and t.metrics]
    keys = ("val_acc", "client_acc_mean", "client_acc_std", "client_acc_min", "rounds", "comm_bytes", "train_time")
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
        "stdout_tail": run.stdout[-1500:],
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


if __name__ == "__main__":
    main(
        __doc__,
        "federated_preset",
        "federated",
        preset_run,
        summarize,
        lambda run: f"test {100 * run['test_acc']:.2f} %",
    )
