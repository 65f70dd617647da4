"""A scaling curve: trials per hour, speed-up and efficiency for 1 to 64 workers, from measured per-trial costs.

Measured on this machine (`scaling_measure.py`): the loop's per-trial overhead on the pool and on Ray; the
storage round-trips of one trial for SQLite and PostgreSQL with 1, 2 and 4 processes at once; with
`--real-drivers`, N cooperating `Experiment.run` drivers on one experiment. Then the model
(`scaling_model.py`): the real loop on a `SimulatedExecutor` whose clock also runs while the driver works (its
real ask, tell and storage calls, plus the larger of the pool's and Ray's measured overheads per trial), with
W = 1 ... 64 simulated workers shared by D = 1, 2, 4 drivers on one SQLite file or PostgreSQL database. Trial
durations are lognormal (coefficient of variation `--cv`) with two means: the main job's measured mean trial
time (its latest 1-core nasforge record: search seconds / trials) and `--short` seconds (cheap trials).

Efficiency is trials per simulated second over the middle half of a run times the mean trial duration, over W:
the share of the workers' time spent on trials. It falls below 0.9 where a driver cannot hand out trials as
fast as its workers finish them; the summary names that point for each storage and number of drivers.

    python benchmarks/scaling.py [--storages sqlite postgresql] [--drivers 1 2 4] [--real-drivers]
    python benchmarks/scaling.py --real   # the real 1-vs-2-worker figure (both cores): record scaling_real

writes records/scale/scaling-*.json (or scaling_real-*.json) through benchmarks/records.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(HERE), str(HERE.parent)) if p not in sys.path]
import scaling_measure as measure  # noqa: E402
import scaling_model as model  # noqa: E402

from records import Record, git, load_records  # noqa: E402

WORKERS = [1, 2, 4, 8, 16, 32, 64]
TARGET = 0.9


def mainjob_trial_s() -> tuple[float, str]:
    """The main job's mean trial time: search seconds over trials of its latest 1-core nasforge record."""
    found = [
        r for r in load_records("mainjob", "mainjob_peers_1core") if any(x["method"] == "nasforge" for x in r["runs"])
    ]
    if not found:
        raise SystemExit("no records/mainjob/mainjob_peers_1core-*.json with a nasforge run: run mainjob_peers.py")
    latest = found[-1]
    runs = [x for x in latest["runs"] if x["method"] == "nasforge"]
    mean = statistics.mean(x["search_s"] / x["trials"] for x in runs)
    stem = f"mainjob_peers_1core-{latest['started'][:19].replace('-', '').replace(':', '')}"
    return mean, f"{stem} ({len(runs)} runs, commit {latest['commit']})"


def model_rows(args: Any, durations: dict[str, float], dispatch_s: float) -> list[dict[str, Any]]:
    """The charged clock: one driver, both durations. Real time: the short trials, 1, 2, 4 drivers at once."""
    plans = []
    if "charged" in args.parts:
        plans += [("charged", name, mean_s, [1], args.trials_per_worker, 40) for name, mean_s in durations.items()]
    if "realtime" in args.parts:
        n = args.realtime_trials_per_worker
        plans += [("realtime", "short", durations["short"], args.drivers, n, n)]
    rows = []
    for kind in args.storages:
        with measure.storage_server(kind) as make:
            for clock, name, mean_s, drivers, per_worker, least in plans:
                for d in drivers:
                    urls = {w: make(f"{clock}{d}w{w}{name}") for w in args.workers if w >= d}
                    realtime = clock == "realtime"
                    for row in model.drive(
                        urls, d, mean_s, args.cv, dispatch_s, per_worker, args.shared, least, realtime
                    ):
                        rows.append({"part": "model", "clock": clock, "storage": kind, "durations": name, **row})
                        r = rows[-1]
                        print(
                            f"model {clock} {kind} {name} D={d} W={r['workers']}: efficiency {r['efficiency']:.3f}, "
                            f"driver {r['driver_ms_per_trial']:.2f} ms/trial",
                            flush=True,
                        )
    return rows


def bottlenecks(rows: list[dict[str, Any]], storage_ms: dict[tuple[str, int], float]) -> list[dict[str, Any]]:
    """Per durations, storage and drivers: efficiency at 16 workers, the first W below `TARGET` and what stops it."""
    out = []
    keys = sorted({(r["clock"], r["durations"], r["storage"], r["drivers"]) for r in rows if r["part"] == "model"})
    for clock, name, kind, d in keys:
        curve = sorted(
            (
                r
                for r in rows
                if r["part"] == "model"
                and (r["clock"], r["durations"], r["storage"], r["drivers"]) == (clock, name, kind, d)
            ),
            key=lambda r: r["workers"],
        )
        below = next((r for r in curve if r["efficiency"] < TARGET), None)
        at16 = next((r["efficiency"] for r in curve if r["workers"] == 16), None)
        at = below or curve[-1]  # where it stops (or the most workers): small W add the run's start-up to few trials
        driver_ms, mean_s = at["driver_ms_per_trial"], at["mean_trial_s"]
        store = storage_ms.get((kind, d))
        share = None if store is None else min(store / driver_ms, 1.0)
        what = "storage" if share is not None and share >= 0.5 else "driver"
        saturates = d * mean_s / (driver_ms / 1000)  # W at which D drivers are busy all the time
        out.append(
            {
                "clock": clock,
                "durations": name,
                "storage": kind,
                "drivers": d,
                "efficiency_at_16": at16,
                "first_w_below_target": None if below is None else below["workers"],
                "driver_ms_per_trial": driver_ms,
                "storage_ms_per_trial": store,
                "storage_share": share,
                "bottleneck": what,
                "saturation_workers": saturates,
            }
        )
    return out


def summary(runs: list[dict[str, Any]], shared: bool) -> dict[str, Any]:
    """The record's summary, from its runs: the executors' overhead charged, and the bottlenecks."""
    executors = [r for r in runs if r["part"] == "executor"]
    storage_ms = {(r["storage"], int(r["drivers"])): r["ms_per_trial"] for r in runs if r["part"] == "storage"}
    found = bottlenecks(runs, storage_ms)
    pg = {
        (b["clock"], b["durations"], b["drivers"]): b["efficiency_at_16"] for b in found if b["storage"] == "postgresql"
    }
    return {
        "dispatch_ms": max((r["overhead_ms"] for r in executors), default=0.0),
        "target_efficiency": TARGET,
        "bottlenecks": found,
        "postgresql_efficiency_at_16": {f"{c}/{n}/{d} driver(s)": e for (c, n, d), e in sorted(pg.items())},
        "shared_experiment": shared,
    }


def resummarise(path: Path) -> None:
    """Write a record's summary again from its runs (after this file's summary rules changed), saying so."""
    body = json.loads(path.read_text())
    body["summary"] = {
        **summary(body["runs"], bool(body["config"].get("shared"))),
        "load_1min_after": body.get("summary", {}).get("load_1min_after"),
        "summarised_again_by": f"python benchmarks/scaling.py --summarise {path.name} at {git('rev-parse', '--short=12', 'HEAD')}",
    }
    path.write_text(json.dumps(body, indent=1, default=str) + "\n")


def run_real(args: argparse.Namespace) -> None:
    record = Record("scaling_real", area="scale", config=vars(args))
    for row in measure.real_workers(args.real_trials, args.products):
        record.add_run({"part": "real_workers", **row})
    one, two = record.runs
    summary = {
        "speedup_2_vs_1": two["per_s"] / one["per_s"],
        "steady_speedup_2_vs_1": two["steady_per_s"] / one["steady_per_s"],
        "load_1min_before": args.load_before,
    }
    print(f"2 vs 1 worker: {summary['speedup_2_vs_1']:.2f}; record {record.save(summary=summary)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storages", nargs="+", default=list(measure.STORAGES), choices=measure.STORAGES)
    parser.add_argument("--drivers", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--workers", nargs="+", type=int, default=WORKERS)
    parser.add_argument("--parts", nargs="+", default=["charged", "realtime"], choices=["charged", "realtime"])
    parser.add_argument("--trials-per-worker", type=int, default=16, help="charged clock: trials per worker and W")
    parser.add_argument("--realtime-trials-per-worker", type=int, default=10, help="real time: trials per worker")
    parser.add_argument("--cv", type=float, default=0.5, help="coefficient of variation of the trial durations")
    parser.add_argument("--short", type=float, default=1.0, help="mean seconds of the cheap-trial durations")
    parser.add_argument("--overhead-trials", type=int, default=500, help="no-op trials per executor")
    parser.add_argument("--storage-trials", type=int, default=200, help="trials per process of the storage calls")
    parser.add_argument("--no-ray", action="store_true", help="leave out Ray's overhead")
    parser.add_argument("--real-drivers", type=int, default=0, help="trials per run of N real drivers (0: none)")
    parser.add_argument("--shared", action="store_true", help="the model's drivers cooperate on one experiment")
    parser.add_argument("--real", action="store_true", help="only the real 1-vs-2-worker figure (record scaling_real)")
    parser.add_argument("--real-trials", type=int, default=12)
    parser.add_argument("--products", type=int, default=1200, help="matrix products of one real trial")
    parser.add_argument("--summarise", type=Path, metavar="RECORD", help="write RECORD's summary again; run nothing")
    args = parser.parse_args()
    args.load_before = os.getloadavg()[0]
    if args.summarise:
        return resummarise(args.summarise)
    if args.real:
        return run_real(args)
    mean_main, source = mainjob_trial_s()
    durations = {"mainjob": mean_main, "short": args.short}
    record = Record("scaling", area="scale", config={**vars(args), "durations_s": durations, "mainjob_source": source})

    overheads = measure.executor_overheads(args.overhead_trials, with_ray=not args.no_ray)
    for name, row in overheads.items():
        record.add_run({"part": "executor", "executor": name, **row})
    dispatch_s = max(r["overhead_ms"] for r in overheads.values()) / 1000
    for kind in args.storages:
        for row in measure.storage_round_trips(kind, args.drivers, args.storage_trials):
            record.add_run({"part": "storage", **row})
        if args.real_drivers:
            for row in measure.real_drivers(kind, args.drivers, args.real_drivers):
                record.add_run({"part": "drivers", **row})
    for row in model_rows(args, durations, dispatch_s):
        record.add_run(row)
    summed = {**summary(record.runs, args.shared), "load_1min_after": os.getloadavg()[0]}
    found = summed["bottlenecks"]
    print(f"record: {record.save(summary=summed)}")
    for b in found:
        print(
            f"{b['clock']:>8} {b['durations']:>8} {b['storage']:>10} D={b['drivers']}: efficiency at 16 {b['efficiency_at_16']}, "
            f"first W below {TARGET}: {b['first_w_below_target']}, {b['bottleneck']} "
            f"({b['driver_ms_per_trial']:.2f} ms/trial, storage {b['storage_ms_per_trial']})"
        )


if __name__ == "__main__":
    main()
