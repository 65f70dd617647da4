"""How long a federated trial takes with the `federated` preset's settings (issue 33): a simulation started
and shut down for each trial (`keep_simulation: false`, the behaviour before) against one kept from trial
to trial (the default), side by side in one process on the same cores.

For each mode, in turn, a fresh evaluator built from the preset runs `--trials` trials (the archs
`space.random(0..)`, the same in both modes) of `--rounds` FedAvg rounds each. Each trial records its wall
time, the time to its first round's result (start-up plus one round) and the mean time of its later rounds.

    python benchmarks/federated_trial_speed.py --cpus 1        # records/federated/federated_trial_speed_1core-*.json

The spoken digits must already be cached (`nasforge run federated` generates them).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import close, pinned_record


def trials(keep: bool, count: int, rounds: int) -> list[dict[str, Any]]:
    from nasforge.config import build_parts, load_preset
    from nasforge.evaluators.base import EvalContext

    cfg = load_preset("federated")
    cfg["evaluator"] = {**cfg["evaluator"], "rounds": rounds, "keep_simulation": keep}
    _, space, evaluator = build_parts(cfg)
    evaluator.prepare()
    out = []
    for number in range(count):
        marks: list[float] = []

        def report(step: int, metrics: Any, marks: list[float] = marks) -> None:
            marks.append(time.perf_counter())

        start = time.perf_counter()
        metrics = evaluator.evaluate(EvalContext(space, space.random(number), None, number, 0, report=report))
        wall = time.perf_counter() - start
        later = [b - a for a, b in itertools.pairwise(marks)]
        out.append(
            {
                "keep_simulation": keep,
                "trial": number,
                "wall_s": wall,
                "first_round_s": marks[0] - start,
                "later_round_s": statistics.fmean(later) if later else None,
                "rounds": len(marks),
                "val_acc": metrics["val_acc"],
                "comm_bytes": metrics["comm_bytes"],
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for keep in (False, True):
        mine = [r for r in runs if r["keep_simulation"] is keep]
        later = [r for r in mine if r["trial"] > 0]
        out["kept" if keep else "per_trial"] = {
            "trials": len(mine),
            "mean_trial_s": statistics.fmean(r["wall_s"] for r in mine),
            "mean_trial_s_after_first": statistics.fmean(r["wall_s"] for r in later) if later else None,
            "mean_first_round_s_after_first": statistics.fmean(r["first_round_s"] for r in later) if later else None,
            "mean_later_round_s": statistics.fmean(r["later_round_s"] for r in mine if r["later_round_s"] is not None),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpus", help="pin the run to these cores (taskset list, e.g. 1); default: all")
    args = parser.parse_args()
    record = pinned_record("federated_trial_speed", "federated", vars(args), args.cpus)
    for keep in (False, True):
        for run in trials(keep, args.trials, args.rounds):
            record.add_run(run)
    close(record, summarize(record.runs))


if __name__ == "__main__":
    main()
