"""What the benchmarks that run a preset as a user runs it share: pinning to the cores asked for, one record per
invocation, each seed in a fresh folder through the `nasforge` command, and the record's closing lines."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from records import Record


def pin(cpus: str | None) -> int:
    """Pin this process (and so its children) to `cpus` (a taskset list such as "0,1"; None: all); the cores
    it then has."""
    if cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    return len(os.sched_getaffinity(0))


def pinned_record(name: str, area: str, config: dict[str, Any], cpus: str | None) -> Record:
    """Pin this process to `cpus` (`pin`), then open the record `<name>_<cores>core` in records/<area>/ and
    say where it goes."""
    cores = pin(cpus)
    record = Record(f"{name}_{cores}core", area=area, config={**config, "cores": cores})
    print(f"record: {record.path}", flush=True)
    return record


#: config overrides (`section.key=value`) every run of this process gets as `--set`: a benchmark's `--set`
OVERRIDES: list[str] = []
#: the flags every run of this process gets besides (`--strategy NAME`: a benchmark's `--strategy`)
FLAGS: list[str] = []


def run_cli(preset: str, seed: int, folder: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`nasforge run PRESET --seed SEED` in `folder` (with `OVERRIDES`), with its storage and export there: the
    finished process and its wall seconds, timed from the outside."""
    cmd = [str(Path(sys.executable).parent / "nasforge"), "run", preset, "--seed", str(seed)]
    cmd += ["--storage", str(folder / "nas.db"), "--export", str(folder / "out"), "--quiet"]
    cmd += FLAGS
    for override in OVERRIDES:
        cmd += ["--set", override]
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
    return out, time.time() - started


@dataclass
class Finished:
    """A preset's run read back: its trials from the run's storage and its export's metrics.json."""

    trials: list[Any]
    metrics: dict[str, Any]
    wall_s: float
    stdout: str

    @property
    def completed(self) -> list[Any]:
        from nasforge.trial import TrialState

        return [t for t in self.trials if t.state is TrialState.COMPLETE]


def run_preset(preset: str, experiment: str, seed: int, folder: Path) -> Finished | dict[str, Any]:
    """`run_cli`, then its experiment's trials and exported metrics; a failed run is `{"error", "wall_s"}`."""
    out, wall = run_cli(preset, seed, folder)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout)[-2000:], "wall_s": wall}
    from nasforge.storage import get_storage

    store = get_storage(str(folder / "nas.db"))
    trials = store.get_trials(store.require_experiment(experiment).id)
    metrics = json.loads((folder / "out" / "metrics.json").read_text())
    return Finished(list(trials), metrics, wall, out.stdout)


def run_seeds(
    record: Record,
    seeds: list[int],
    one: Callable[[int, Path], dict[str, Any]],
    shown: Callable[[dict[str, Any]], str],
) -> None:
    """Each seed's run (`one(seed, folder)`, in a fresh temporary folder) added to `record`, and a line each."""
    cores = record.meta["config"]["cores"]
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix=f"{record.benchmark}-{seed}-") as tmp:
            run = {"seed": seed, "cores": cores, **one(seed, Path(tmp))}
        record.add_run(run)
        line = shown(run) if "error" not in run else run["error"][-300:]
        print(f"seed {seed}: {line}, {run.get('completed', 0)} trials, {run['wall_s']:.0f} s", flush=True)


def close(record: Record, summary: dict[str, Any]) -> None:
    """Save `record` with its summary, and print both."""
    path = record.save(summary=summary)
    print(json.dumps(summary, indent=1))
    print(f"record: {path}")


def main(
    doc: str | None,
    name: str,
    area: str,
    one: Callable[[int, Path], dict[str, Any]],
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]],
    shown: Callable[[dict[str, Any]], str],
) -> None:
    """The command line of a preset benchmark: `--seeds` (default 0), `--cpus`, `--strategy` (another strategy
    than the preset's, without its options) and `--set` (a config override of every run, repeatable; the
    record's config keeps them), one record of every seed."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--cpus", help="pin every run to these cores (taskset list, e.g. 0,1); default: all")
    parser.add_argument("--strategy", help="run another strategy than the preset's (nasforge run --strategy)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
    args = parser.parse_args()
    OVERRIDES[:] = args.set
    FLAGS[:] = ["--strategy", args.strategy] if args.strategy else []
    record = pinned_record(name, area, vars(args), args.cpus)
    run_seeds(record, args.seeds, one, shown)
    close(record, summarize(record.runs))
