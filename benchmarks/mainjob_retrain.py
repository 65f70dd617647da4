"""Does the main job's retrain gain from starting at the search's weights instead of from scratch?

The search trains its best arch for the top budget (ASHA's 180 s) on the training part; the retrain then
trains that arch again from scratch on training + validation images for the rest of the job (about 450 s on
one core). This benchmark measures, on held-out training images only (`FashionMNIST(dev_test=10000)`; the
official test images are not read), for archs the main job chose:

- `scratch`: the retrain as the job does it (from scratch, `retrain` seconds);
- `warm`: the retrain starting from the weights of a `pretrain`-second search trial of the same arch (trained
  on the training part only, as the search trains it), its schedule begun again (`--schedule`, `--lr-scale`).

One process runs one (arch, variant) with one torch thread, so that variants run side by side on two cores
in the same conditions; `--stage pretrain` writes the search trial's weights that the `warm` runs start from.

    python benchmarks/mainjob_retrain.py --stage pretrain --arch RECORD:SEED --weights w.pt --cpu 0
    python benchmarks/mainjob_retrain.py --stage scratch --arch RECORD:SEED --cpu 0 --record R.json
    python benchmarks/mainjob_retrain.py --stage warm --arch RECORD:SEED --weights w.pt --cpu 1 --record R.json
    python benchmarks/mainjob_retrain.py --summarize R.json     # the paired differences, into the record
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.mainjob_peers import build_space_and_data, preset  # noqa: E402
from benchmarks.records import RECORDS, Record  # noqa: E402


def load_arch(spec: str) -> dict[str, Any]:
    """`RECORD:SEED`: the arch the nasforge run of that seed chose in a mainjob record."""
    path, seed = spec.rsplit(":", 1)
    record = json.loads((RECORDS / "mainjob" / path).read_text())
    for run in record["runs"]:
        if run.get("method") == "nasforge" and run["seed"] == int(seed):
            return dict(run["arch"])
    raise SystemExit(f"{path} has no nasforge run of seed {seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=["pretrain", "scratch", "warm"])
    parser.add_argument("--arch", help="RECORD:SEED under records/mainjob")
    parser.add_argument("--summarize", metavar="RECORD", help="add the summary of a finished comparison to it")
    parser.add_argument("--weights", help="the search trial's weights (written by pretrain, read by warm)")
    parser.add_argument("--pretrain", type=float, default=180.0, help="seconds of the search trial")
    parser.add_argument("--retrain", type=float, default=450.0, help="seconds of the retrain")
    parser.add_argument("--schedule", default="onecycle", help="the warm retrain's schedule")
    parser.add_argument("--lr-scale", type=float, default=1.0, help="the warm retrain's peak rate, times the arch's")
    parser.add_argument("--cpu", type=int, help="pin this process to one core")
    parser.add_argument("--record", help="add the run to this record (created when missing)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.summarize:
        summarize(Path(args.summarize))
        return
    if not (args.stage and args.arch):
        parser.error("--stage and --arch are needed (or --summarize RECORD)")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    import torch

    from nasforge.evaluators.training import evaluate_model, fit

    torch.set_num_threads(1)
    space, dataset = build_space_and_data(select=True)
    evaluator_cfg = _train_config()
    splits = dataset.load()
    arch = load_arch(args.arch)
    torch.manual_seed(args.seed)
    model = space.freeze(arch)
    device = torch.device("cpu")
    started = time.perf_counter()
    if args.stage == "pretrain":
        info = fit(model, splits.train, evaluator_cfg(arch), device, seed=args.seed, time_budget=args.pretrain)
        torch.save(model.state_dict(), args.weights)
        valid = evaluate_model(model, splits.valid, device)
        print(json.dumps({"stage": "pretrain", "val_acc": valid["acc"], "epochs": info["epochs"]}))
        return
    cfg = evaluator_cfg(arch)
    if args.stage == "warm":
        model.load_state_dict(torch.load(args.weights))
        cfg = dataclasses.replace(cfg, schedule=args.schedule, learning_rate=cfg.learning_rate * args.lr_scale)
    info = fit(model, splits.train_full(), cfg, device, seed=args.seed, time_budget=args.retrain)
    dev = evaluate_model(model, splits.test, device)
    run = {
        "arch_from": args.arch,
        "stage": args.stage,
        "schedule": cfg.schedule,
        "learning_rate": cfg.learning_rate,
        "pretrain_s": args.pretrain if args.stage == "warm" else 0.0,
        "retrain_s": args.retrain,
        "epochs": info["epochs"],
        "dev_acc": dev["acc"],
        "wall_s": time.perf_counter() - started,
        "cpu": args.cpu,
    }
    print(json.dumps(run))
    if args.record:
        _append(Path(args.record), run, vars(args))


def summarize(path: Path) -> None:
    """Per arch, warm minus scratch dev accuracy; their mean; written into the record as its summary."""
    body = json.loads(path.read_text())
    by_arch: dict[str, dict[str, dict[str, Any]]] = {}
    for run in body["runs"]:
        by_arch.setdefault(run["arch_from"], {})[run["stage"]] = run
    pairs = {
        arch: {
            "scratch_dev_acc": runs["scratch"]["dev_acc"],
            "warm_dev_acc": runs["warm"]["dev_acc"],
            "gain_points": round(100 * (runs["warm"]["dev_acc"] - runs["scratch"]["dev_acc"]), 2),
            "scratch_epochs": round(runs["scratch"]["epochs"], 2),
            "warm_epochs": round(runs["warm"]["epochs"], 2),
        }
        for arch, runs in by_arch.items()
        if {"scratch", "warm"} <= runs.keys()
    }
    gains = [p["gain_points"] for p in pairs.values()]
    body["summary"] = {
        "pairs": pairs,
        "mean_gain_points": round(sum(gains) / len(gains), 3) if gains else None,
        "warm_better": sum(g > 0 for g in gains),
        "n": len(gains),
    }
    path.write_text(json.dumps(body, indent=1) + "\n")
    print(json.dumps(body["summary"], indent=1))


def _train_config() -> Any:
    """The main job's training settings for an arch, as its evaluator sets them."""
    from nasforge.config import build_experiment
    from nasforge.storage import InMemoryStorage

    evaluator = build_experiment(preset(select=True), storage=InMemoryStorage()).evaluator
    return evaluator.train_config


def _append(path: Path, run: dict[str, Any], config: dict[str, Any]) -> None:
    """Runs of one comparison go to one record, written by several processes in turn (a lock file)."""
    lock = path.with_suffix(".lock")
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL)
            break
        except FileExistsError:
            time.sleep(0.2)
    try:
        if path.exists() and path.read_text().strip() not in ("", "{}"):
            body = json.loads(path.read_text())
            body["runs"].append(run)
            path.write_text(json.dumps(body, indent=1) + "\n")
        else:
            record = Record("mainjob_retrain", area="mainjob", config=config)
            record.path.unlink()
            record.path = path
            record.add_run(run)
    finally:
        os.close(fd)
        lock.unlink()


if __name__ == "__main__":
    main()
