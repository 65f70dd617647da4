"""Measure an exported model's latency again, in a fresh process, and check it against a constraint.

Loads the folder `nasforge export` (or `nasforge run`) wrote, both as the rebuilt PyTorch module
(`nasforge.load_model`) and as its TorchScript file, and times each with the experiment's latency setting as
stored in the storage (backend, threads, batch size, input shape; warm-up and repeats unless given):

    python benchmarks/exported_latency.py nasforge-out/fashion-mnist --experiment NAME --storage nasforge.db

prints one JSON line: the search's measurement of the exported trial, the fresh ones, and whether each meets
the experiment's latency constraints, and writes it as a new record under records/multiobjective/
(benchmarks/records.py). Exit status 1 when one does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from nasforge import load_model
from nasforge.cost import LatencySetting, measure_latency
from nasforge.multiobjective import parse_constraints
from nasforge.storage import get_storage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--experiment", required=True)
    p.add_argument("--storage", default="nasforge.db")
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    args = p.parse_args()
    row = get_storage(args.storage).get_experiment(args.experiment)
    if row is None or not row.config.get("latency"):
        sys.exit(f"{args.experiment!r} is not in {args.storage} or measured no latency")
    stored = dict(row.config["latency"])
    shape = stored.pop("input_shape")
    setting = LatencySetting.parse({**stored, "warmup": args.warmup, "repeats": args.repeats})
    limits = [c for c in parse_constraints(row.config.get("constraints") or None) if c.metric == "latency_ms"]
    metrics = json.loads((args.folder / "metrics.json").read_text())
    torch.set_num_threads(setting.threads)
    eager = measure_latency(load_model(args.folder), shape, setting).median_ms
    script = torch.jit.load(str(args.folder / "model.torchscript.pt"))
    scripted = measure_latency(script, shape, setting).median_ms
    out = {
        "trial": metrics.get("trial"),
        "search_latency_ms": metrics.get("search_latency_ms"),
        "export_latency_ms": metrics.get("latency_ms"),
        "fresh_eager_ms": round(eager, 4),
        "fresh_torchscript_ms": round(scripted, 4),
        "constraints": [str(c) for c in limits],
        "meets": {name: all(c.holds(v) for c in limits) for name, v in (("eager", eager), ("torchscript", scripted))},
    }
    print(json.dumps(out))
    record = Record("exported_latency", area="multiobjective", config={k: str(v) for k, v in vars(args).items()})
    record.runs = [out]
    print(f"record: {record.save(summary={'meets': out['meets']})}")
    return 0 if all(out["meets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
