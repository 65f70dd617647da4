"""The domain presets as a user runs them (`nasforge run PRESET`), one after another, timed from the outside.

Each preset runs through the `nasforge` command in a fresh folder (its storage and export there) with a fresh,
empty `NASFORGE_CACHE`, so the spoken digits' time includes generating their waveforms with espeak-ng. The
preset's own settings decide everything else: its two worker processes, its time limits, its export (retrain
the best arch on train + valid, test once). The record keeps, per preset, the whole job's wall time, its trials,
the best validation accuracy of the search and the exported model's test accuracy.

    OMP_NUM_THREADS=1 python benchmarks/domains_presets.py    # records/domains/domains_presets-*.json

Pin it with `taskset` (or `--cpus`); the record names the cores it had. Needs nasforge[tabular,audio,text].
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import Finished, close, pin, run_preset

from records import Record

#: the presets of the other domains, in the order the documentation shows them
PRESETS = ("tabular", "japanese_vowels", "spoken_digits", "rotten_tomatoes")


def preset_run(preset: str, seed: int, folder: Path) -> dict[str, Any]:
    """One `nasforge run PRESET --seed SEED` in `folder`, read back."""
    from nasforge.config import load_preset

    os.environ["NASFORGE_CACHE"] = str(folder / "cache")  # empty: nothing generated before counts as free
    run = run_preset(preset, str(load_preset(preset)["name"]), seed, folder)
    if not isinstance(run, Finished):
        return {"preset": preset, **run}
    done = run.completed
    return {
        "preset": preset,
        "wall_s": round(run.wall_s, 1),
        "trials": len(run.trials),
        "completed": len(done),
        "best_val_acc": max(float(t.metrics["val_acc"]) for t in done),
        "test_acc": float(run.metrics["test_acc"]),
        "metrics": run.metrics,
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "stdout_tail": run.stdout[-1500:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS))
    parser.add_argument("--seed", type=int, default=0, help="every preset's seed (default 0, the presets' own)")
    parser.add_argument("--cpus", help="pin every run to these cores (taskset list, e.g. 0,1); default: as started")
    args = parser.parse_args()
    pin(args.cpus)
    record = Record("domains_presets", area="domains", config=vars(args))
    print(f"record: {record.path}", flush=True)
    for preset in args.presets:
        with tempfile.TemporaryDirectory(prefix=f"domains_presets-{preset}-") as tmp:
            run = {"seed": args.seed, **preset_run(preset, args.seed, Path(tmp))}
        record.add_run(run)
        shown = run["error"][-300:] if "error" in run else f"test accuracy {run['test_acc']:.4f}"
        print(f"{preset}: {shown}, {run.get('completed', 0)} trials, {run['wall_s']:.0f} s", flush=True)
    ok = [r for r in record.runs if "error" not in r]
    close(
        record,
        {
            "failed": [r["preset"] for r in record.runs if "error" in r],
            **{r["preset"]: {k: r[k] for k in ("wall_s", "completed", "best_val_acc", "test_acc")} for r in ok},
        },
    )


if __name__ == "__main__":
    main()
