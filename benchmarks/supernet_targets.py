"""Train once, specialise many: one `ofa` supernet specialised for several latency targets, against one
multi-trial search per target, both as a user runs them, with the CPU time each took.

    python benchmarks/supernet_targets.py --preset digits --targets 0.5 1 2 --cpus 0
    # records/supernet/supernet_targets_1core-*.json

Per target t (milliseconds per image, measured as the `LatencyMeter`'s default setting says: one image, one
thread, eager PyTorch on the CPU):

- **ofa**: `nasforge run PRESET --strategy ofa --set strategy.epochs=E --no-export` once (the supernet's
  training, and the one trial a one-shot strategy proposes, which counts as part of its cost), then per
  target `nasforge export NAME --target 'latency_ms <= t' --epochs F`: the subnet found for t in the trained
  supernet, fine-tuned F epochs from its inherited weights on train + valid, tested once;
- **search**: `nasforge run PRESET --constraint 'latency_ms <= t'` (the preset's strategy, evaluator, trials
  and export: its best feasible arch retrained from scratch, tested once).

The record keeps per target both test accuracies and latencies, and the CPU seconds of every command (user +
system time of the command and every process it waited for, its workers included, from `getrusage`), and
the summary the issue's two figures: each target's accuracy gap (ofa - search) and the ratio of ofa's CPU
time (the supernet and every export) to the searches' together. Each command runs in a fresh folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import close, pinned_record

NASFORGE = str(Path(sys.executable).parent / "nasforge")


def timed(cmd: list[str], folder: Path) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `cmd` in `folder`: the finished process, its wall seconds and the CPU seconds it and its waited-for
    children used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
    wall = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, wall, cpu


def failed(out: subprocess.CompletedProcess[str], wall: float, what: str) -> dict[str, Any] | None:
    if out.returncode == 0:
        return None
    return {"error": f"{what}: {(out.stderr or out.stdout)[-1500:]}", "wall_s": wall}


def metrics_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "metrics.json").read_text()))


def run_ofa(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The supernet once, then an export per target."""
    db = str(folder / "nas.db")
    cmd = [NASFORGE, "run", args.preset, "--strategy", "ofa", "--seed", str(args.seed), "--storage", db]
    cmd += ["--no-export", "--quiet", "--set", f"strategy.epochs={args.supernet_epochs}", *extra(args)]
    cmd += [flag for s in args.ofa_set or [] for flag in ("--set", s)]
    out, wall, cpu = timed(cmd, folder)
    if (error := failed(out, wall, "the supernet's run")) is not None:
        return error
    from nasforge.config import load_preset

    name = str(load_preset(args.preset)["name"])
    result: dict[str, Any] = {"supernet_wall_s": wall, "supernet_cpu_s": cpu, "targets": {}}
    for target in args.targets:
        where = folder / f"out-{target:g}"
        cmd = [NASFORGE, "export", name, "--storage", db, "--path", str(where), "--epochs", str(args.fine_tune_epochs)]
        cmd += ["--target", f"latency_ms <= {target:g}"]
        out, wall, cpu = timed(cmd, folder)
        if (error := failed(out, wall, f"the export for {target:g} ms")) is not None:
            result["targets"][f"{target:g}"] = error
            continue
        m = metrics_of(where)
        result["targets"][f"{target:g}"] = {
            "test_acc": m.get("test_acc"),
            "latency_ms": m.get("latency_ms"),
            "params": m.get("params"),
            "supernet_val_acc": m.get("supernet_val_acc"),
            "wall_s": wall,
            "cpu_s": cpu,
        }
    return result


def run_search(args: argparse.Namespace, target: float, folder: Path) -> dict[str, Any]:
    """The preset's multi-trial search under the target, its export retrained and tested."""
    cmd = [NASFORGE, "run", args.preset, "--seed", str(args.seed), "--storage", str(folder / "nas.db")]
    cmd += ["--export", str(folder / "out"), "--quiet", "--constraint", f"latency_ms <= {target:g}", *extra(args)]
    out, wall, cpu = timed(cmd, folder)
    if (error := failed(out, wall, f"the search for {target:g} ms")) is not None:
        return error
    m = metrics_of(folder / "out")
    return {
        "test_acc": m.get("test_acc"),
        "latency_ms": m.get("latency_ms"),
        "params": m.get("search_params"),
        "search_val_acc": m.get("search_val_acc"),
        "wall_s": wall,
        "cpu_s": cpu,
    }


def extra(args: argparse.Namespace) -> list[str]:
    return [flag for s in args.set or [] for flag in ("--set", s)]


def summarize(ofa: dict[str, Any], searches: dict[str, dict[str, Any]]) -> dict[str, Any]:
    gaps = {
        t: round(100 * (o["test_acc"] - searches[t]["test_acc"]), 2)
        for t, o in ofa.get("targets", {}).items()
        if "test_acc" in o and "test_acc" in searches.get(t, {})
    }
    ofa_cpu = ofa.get("supernet_cpu_s", 0.0) + sum(o.get("cpu_s", 0.0) for o in ofa.get("targets", {}).values())
    search_cpu = sum(s.get("cpu_s", 0.0) for s in searches.values())
    return {
        "gap_points": gaps,  # ofa's test accuracy minus the search's, per target
        "ofa_cpu_s": round(ofa_cpu, 1),
        "searches_cpu_s": round(search_cpu, 1),
        "cpu_ratio": round(ofa_cpu / search_cpu, 3) if search_cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="digits")
    parser.add_argument("--targets", nargs="+", type=float, default=[0.5, 1.0, 2.0], help="milliseconds per image")
    parser.add_argument("--supernet-epochs", type=int, default=15)
    parser.add_argument("--fine-tune-epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpus", help="pin every command to these cores (taskset list, e.g. 0); default: all")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="a config override of every run")
    parser.add_argument("--ofa-set", action="append", metavar="KEY=VALUE", help="an override of the ofa run only")
    args = parser.parse_args()
    record = pinned_record("supernet_targets", "supernet", vars(args), args.cpus)
    with tempfile.TemporaryDirectory(prefix="supernet_targets-ofa-") as tmp:
        ofa = run_ofa(args, Path(tmp))
    record.add_run({"method": "ofa", **ofa})
    print(f"ofa: {json.dumps(ofa)[:400]}", flush=True)
    searches: dict[str, dict[str, Any]] = {}
    for target in args.targets:
        with tempfile.TemporaryDirectory(prefix=f"supernet_targets-search-{target:g}-") as tmp:
            searches[f"{target:g}"] = run_search(args, target, Path(tmp))
        record.add_run({"method": "search", "target": target, **searches[f"{target:g}"]})
        print(f"search {target:g} ms: {json.dumps(searches[f'{target:g}'])[:300]}", flush=True)
    close(record, summarize(ofa, searches))


if __name__ == "__main__":
    main()
