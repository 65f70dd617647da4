"""The figures of docs/scaling.md, from the latest complete records of `benchmarks/scaling.py`."""

from __future__ import annotations

from typing import Any

from figures import figure, table

from records import load_records

STORAGE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
EXECUTOR_NAMES = {
    "sequential": "`SequentialExecutor` (the trial in the driver)",
    "pool": "`LocalPoolExecutor`, 2 workers",
    "ray": "`RayExecutor`, 2 actors",
}


def latest(benchmark: str) -> dict[str, Any]:
    """The newest record of `benchmark` under records/scale/ that finished (has a summary)."""
    found = [r for r in load_records("scale", benchmark) if "summary" in r]
    if not found:
        raise SystemExit(f"no finished records/scale/{benchmark}-*.json: run benchmarks/scaling.py")
    return found[-1]


def runs(part: str, record: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [r for r in (record or latest("scaling"))["runs"] if r["part"] == part]


def source() -> str:
    r = latest("scaling")
    return f"`{r['command']}` at {r['commit']}, {r['started'][:16].replace('T', ' ')} UTC"


@figure("scaling_source")
def scaling_source() -> str:
    return source()


@figure("scaling_executors")
def scaling_executors() -> str:
    body = [
        [EXECUTOR_NAMES[r["executor"]], f"{r['per_trial_ms']:.2f}", f"{r['overhead_ms']:.2f}", f"{r['startup_s']:.1f}"]
        for r in runs("executor")
    ]
    dispatch = latest("scaling")["summary"]["dispatch_ms"]
    return (
        table(["loop", "ms / no-op trial", "over the sequential loop, ms", "start-up s"], body)
        + f"\n\nThe model charges the driver {dispatch:.2f} ms per trial for the executor, the larger of the two."
    )


@figure("scaling_storage")
def scaling_storage() -> str:
    rows = runs("storage") + runs("drivers")
    body = [
        [
            "storage calls of one trial" if r["what"] == "storage calls" else "`Experiment.run`, no-op trials",
            STORAGE_NAMES[r["storage"]],
            r["drivers"],
            ", ".join(str(n) for n in r["trials_each"]),
            f"{r['ms_per_trial']:.2f}",
            f"{r['cpu_ms_per_trial']:.2f}",
            f"{r['trials_per_s_all']:.0f}",
        ]
        for r in rows
    ]
    head = [
        "what runs",
        "storage",
        "processes at once",
        "trials each",
        "process-ms / trial",
        "CPU ms / trial",
        "trials / s, all",
    ]
    return table(head, body)


def curve(clock: str, columns: list[tuple[str, str, int]]) -> str:
    """Efficiency (trials per hour) by workers; a column per (durations, storage, drivers)."""
    record = latest("scaling")
    model = [r for r in runs("model", record) if r["clock"] == clock]
    cells = {(r["durations"], r["storage"], r["drivers"], r["workers"]): r for r in model}
    columns = [c for c in columns if any(k[:3] == c for k in cells)]
    body = []
    for w in sorted({r["workers"] for r in model}):
        row: list[Any] = [w]
        for name, kind, d in columns:
            r = cells.get((name, kind, d, w))
            row.append("" if r is None else f"{r['efficiency']:.2f} ({r['trials_per_hour']:,.0f})")
        body.append(row)
    means = record["config"]["durations_s"]
    head = ["workers"]
    for name, kind, d in columns:
        trials = f"{means[name]:.1f} s trials" if name == "mainjob" else f"{means[name]:g} s trials"
        head.append(f"{trials}, {STORAGE_NAMES[kind]}" + (f", {d} drivers" if d > 1 else ""))
    return table(head, body)


@figure("scaling_curve_one")
def scaling_curve_one() -> str:
    return curve("charged", [(n, k, 1) for n in ("mainjob", "short") for k in STORAGE_NAMES])


@figure("scaling_curve_drivers")
def scaling_curve_drivers() -> str:
    return curve("realtime", [("short", k, d) for k in STORAGE_NAMES for d in (1, 2, 4)])


@figure("scaling_durations")
def scaling_durations() -> str:
    c = latest("scaling")["config"]
    return (
        f"the main job's mean trial time, {c['durations_s']['mainjob']:.1f} s (the search seconds over the trials "
        f"of {c['mainjob_source']}), and {c['durations_s']['short']:g} s; each lognormal with a coefficient of "
        f"variation of {c['cv']}"
    )


@figure("scaling_bottlenecks")
def scaling_bottlenecks() -> str:
    found = latest("scaling")["summary"]["bottlenecks"]
    body = [
        [
            "charged" if b["clock"] == "charged" else "real time",
            "main job's" if b["durations"] == "mainjob" else "short",
            STORAGE_NAMES[b["storage"]],
            b["drivers"],
            "" if b["efficiency_at_16"] is None else f"{b['efficiency_at_16']:.2f}",
            "none up to 64" if b["first_w_below_target"] is None else b["first_w_below_target"],
            f"{b['driver_ms_per_trial']:.2f}",
            "" if b["storage_ms_per_trial"] is None else f"{b['storage_ms_per_trial']:.2f}",
            b["bottleneck"],
            f"{b['saturation_workers']:,.0f}",
        ]
        for b in found
    ]
    head = [
        "clock",
        "trials",
        "storage",
        "drivers",
        "efficiency, 16 workers",
        "first W below 0.9",
        "driver ms / trial",
        "storage calls, ms / trial",
        "larger share",
        "W that saturates the drivers",
    ]
    return table(head, body)


@figure("scaling_headline")
def scaling_headline() -> str:
    s = latest("scaling")["summary"]
    pg = {(b["clock"], b["durations"], b["drivers"]): b for b in s["bottlenecks"] if b["storage"] == "postgresql"}
    main = pg[("charged", "mainjob", 1)]
    shorts = [pg[k] for k in sorted(pg) if k[:2] == ("realtime", "short")]
    at16 = ", ".join(f"{b['efficiency_at_16']:.2f}" for b in shorts)
    below = [b for b in shorts if b["first_w_below_target"] is not None]
    where = (
        "none falls below 0.9 up to 64 workers"
        if not below
        else "below 0.9 from "
        + ", ".join(
            f"{b['first_w_below_target']} workers with {b['drivers']} driver{'s' if b['drivers'] > 1 else ''}"
            for b in below
        )
    )
    return (
        f"with PostgreSQL, the efficiency at 16 workers is {main['efficiency_at_16']:.2f} for the main job's trials "
        f"(one driver), and {at16} for 1-second trials with {', '.join(str(b['drivers']) for b in shorts)} "
        f"drivers; with 1-second trials, {where}"
    )


@figure("scaling_real")
def scaling_real() -> str:
    r = latest("scaling_real")
    body = [
        [
            r2["workers"],
            r2["trials"],
            f"{r2['wall_s']:.1f}",
            f"{r2['per_s']:.3f}",
            f"{r2['steady_per_s']:.3f}",
            f"{r2['mean_trial_s']:.2f}",
        ]
        for r2 in r["runs"]
    ]
    s = r["summary"]
    return (
        table(["pool workers", "trials", "wall s", "trials / s", "steady trials / s", "mean trial s"], body)
        + f"\n\nTwo workers: {s['speedup_2_vs_1']:.2f} times the throughput of one, start-up included "
        f"({s['steady_speedup_2_vs_1']:.2f} between the first and the last trial's end); measured on CPUs "
        f"{r['runs'][0]['cpus']} at {r['started'][:16].replace('T', ' ')} UTC, 1-minute load average "
        f"{s['load_1min_before']:.1f} before the run."
    )
