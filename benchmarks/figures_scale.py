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
            f"{r['ms_per_trial']:.2f}",
            f"{r['cpu_ms_per_trial']:.2f}",
            f"{r['trials_per_s_all']:.0f}",
        ]
        for r in rows
    ]
    head = ["what runs", "storage", "processes at once", "ms / trial, each", "CPU ms / trial, each", "trials / s, all"]
    return table(head, body)


def curve(durations: str) -> str:
    record = latest("scaling")
    model = [r for r in runs("model", record) if r["durations"] == durations]
    columns = sorted({(r["storage"], r["drivers"]) for r in model}, key=lambda k: (k[0] != "sqlite", k[1]))
    cells = {(r["storage"], r["drivers"], r["workers"]): r for r in model}
    body = []
    for w in sorted({r["workers"] for r in model}):
        row: list[Any] = [w]
        for kind, d in columns:
            r = cells.get((kind, d, w))
            row.append("" if r is None else f"{r['efficiency']:.2f} ({r['trials_per_hour']:,.0f})")
        body.append(row)
    head = ["workers", *(f"{STORAGE_NAMES[k]}, {d} driver{'s' if d > 1 else ''}" for k, d in columns)]
    mean = record["config"]["durations_s"][durations]
    return (
        table(head, body)
        + f"\n\nMean trial duration {mean:.2f} s (lognormal, coefficient of variation {record['config']['cv']})."
    )


@figure("scaling_curve_mainjob")
def scaling_curve_mainjob() -> str:
    return curve("mainjob")


@figure("scaling_curve_short")
def scaling_curve_short() -> str:
    return curve("short")


@figure("scaling_bottlenecks")
def scaling_bottlenecks() -> str:
    found = latest("scaling")["summary"]["bottlenecks"]
    body = [
        [
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
        "trials",
        "storage",
        "drivers",
        "efficiency, 16 workers",
        "first W below 0.9",
        "driver ms / trial",
        "of which storage calls",
        "larger share",
        "W that saturates the drivers",
    ]
    return table(head, body)


@figure("scaling_headline")
def scaling_headline() -> str:
    s = latest("scaling")["summary"]
    pg = {(b["durations"], b["drivers"]): b for b in s["bottlenecks"] if b["storage"] == "postgresql"}
    main, short = pg[("mainjob", 1)], pg[("short", 1)]
    where = (
        "stays above 0.9 up to 64 workers"
        if short["first_w_below_target"] is None
        else f"falls below 0.9 at {short['first_w_below_target']} workers"
    )
    return (
        f"with PostgreSQL and one driver the efficiency at 16 workers is {main['efficiency_at_16']:.2f} for the main "
        f"job's trials and {short['efficiency_at_16']:.2f} for 1-second trials; with 1-second trials it {where}, "
        f"where the driver ({short['driver_ms_per_trial']:.1f} ms a trial, {short['storage_ms_per_trial']:.1f} ms "
        f"of it storage calls) is saturated"
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
