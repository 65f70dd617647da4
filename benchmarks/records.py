"""One record format for every benchmark: what ran (command, commit, machine, config), every run, a summary.

A record is a JSON file under `records/<area>/`, named by benchmark, date and commit, so a rerun writes a new
record and never replaces another:

    from benchmarks.records import Record
    record = Record("mainjob_peers", area="mainjob", config=vars(args))
    record.add_run({"method": "nasforge", "seed": 0, "test_acc": 0.931})
    record.save(summary={...})            # records/mainjob/mainjob_peers-20261207T0301-2225b25.json

`load_records(area, benchmark)` reads every record of a benchmark back, oldest first.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records"


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, Any]:
    """The CPU, the cores this process may use, memory, Python, torch and its threads."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split()
        info["memory_gib"] = round(int(mem[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import torch

        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    except ImportError:
        pass
    return info


class Record:
    """The record of one invocation of a benchmark."""

    def __init__(self, benchmark: str, area: str, config: Mapping[str, Any] | None = None) -> None:
        self.benchmark, self.area = benchmark, area
        self.started = dt.datetime.now(dt.timezone.utc)
        self.meta: dict[str, Any] = {
            "benchmark": benchmark,
            "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
            "commit": git("rev-parse", "--short=12", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "machine": machine(),
            "started": self.started.isoformat(timespec="seconds"),
            "config": dict(config or {}),
        }
        self.runs: list[dict[str, Any]] = []
        stem = f"{benchmark}-{self.started:%Y%m%dT%H%M%S}-{self.meta['commit'] or 'nogit'}"
        (RECORDS / area).mkdir(parents=True, exist_ok=True)
        self.path = RECORDS / area / f"{stem}.json"
        n = 1
        while True:  # reserve the name at once: two records begun in one second (or side by side) never collide
            try:
                with self.path.open("x") as reserved:
                    reserved.write("{}\n")
                break
            except FileExistsError:
                n += 1
                self.path = RECORDS / area / f"{stem}-{n}.json"

    def add_run(self, run: Mapping[str, Any]) -> None:
        """Add one run and write the record at once, so a benchmark stopped half-way keeps what it measured."""
        self.runs.append(dict(run))
        self.save()

    def save(self, summary: Mapping[str, Any] | None = None) -> Path:
        body = {**self.meta, "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        body["runs"] = self.runs
        if summary is not None:
            body["summary"] = dict(summary)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(body, indent=1, default=str) + "\n")  # default: paths in a config
        return self.path


class LoadSampler:
    """The machine's 1-minute load average, sampled every `every` seconds from a thread while a run lasts, so
    that its record says whether something else shared the machine (a load above what the run itself puts on
    its cores):

        with LoadSampler() as load:
            run = one_run()
        run.update(load.summary())        # {"load_mean": 2.1, "load_max": 2.6}
    """

    def __init__(self, every: float = 15.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        """`load_mean` and `load_max` over the samples (empty before the first)."""
        if not self.samples:
            return {}
        return {
            "load_mean": round(sum(self.samples) / len(self.samples), 2),
            "load_max": round(max(self.samples), 2),
        }


def load_records(area: str, benchmark: str) -> list[dict[str, Any]]:
    """Every record of `benchmark` under `records/<area>/`, oldest first."""
    records = [json.loads(p.read_text()) for p in (RECORDS / area).glob(f"{benchmark}-*.json")]
    return sorted((r for r in records if r), key=lambda r: r["started"])  # {}: reserved, nothing run yet
