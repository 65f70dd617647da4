"""The speech presets end to end: held-out-voice accuracy on the spoken digits, test accuracy on JapaneseVowels.

Each preset (`spoken_digits`, `japanese_vowels`) runs here exactly as `nasforge run PRESET` runs it (its
search with two worker processes and its time limits, then the export: retrain the best arch on train +
valid, test once), timed from the dataset's first load, which for the spoken digits includes generating
the waveforms with espeak-ng into a fresh cache unless `--keep-cache`. A baseline on the same split:
logistic regression on the flattened features the networks read (scikit-learn's defaults).

    OMP_NUM_THREADS=1 python benchmarks/domains_speech.py --presets spoken_digits japanese_vowels

Writes a new record under records/domains/ (benchmarks/records.py; needs espeak-ng, nasforge[sklearn]; JapaneseVowels ships with nasforge).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.config import build_experiment, load_preset
from nasforge.data import DataSplits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

PRESETS = ("spoken_digits", "japanese_vowels")


def logistic_baseline(splits: DataSplits) -> float:
    from sklearn.linear_model import LogisticRegression

    assert splits.test is not None
    full = splits.train_full()
    model = LogisticRegression(max_iter=2000)
    model.fit(full.x.flatten(1).numpy(), full.y.numpy())
    return float(np.mean(model.predict(splits.test.x.flatten(1).numpy()) == splits.test.y.numpy()))


def run_preset(preset: str, folder: Path) -> dict[str, Any]:
    cfg = load_preset(preset)
    cfg.update(name=f"{preset}-bench", storage=str(folder / "nas.db"))
    start = time.perf_counter()
    experiment = build_experiment(cfg)  # loads the data: generation, for the spoken digits
    data_s = time.perf_counter() - start
    experiment.run(max_trials=cfg["run"]["max_trials"], timeout=cfg["run"]["timeout"])
    search_s = time.perf_counter() - start - data_s
    export = cfg["export"]
    _, metrics = experiment.export(str(folder / "export"), epochs=export["epochs"], time_budget=export["time_budget"])
    total_s = time.perf_counter() - start
    splits = experiment.evaluator.dataset.load()
    best = experiment.best_trial
    assert best is not None and splits.test is not None
    trials = [t for t in experiment.trials if t.state.finished]
    record: dict[str, Any] = {
        "preset": preset,
        "samples": {"train": len(splits.train), "valid": len(splits.valid), "test": len(splits.test)},
        "input_shape": list(splits.input_shape),
        "data_s": round(data_s, 1),
        "search_s": round(search_s, 1),
        "total_s": round(total_s, 1),
        "trials": len(trials),
        "best_val_acc": round(float(best.metrics["val_acc"]), 4),
        "best_arch": best.arch.to_dict(),
        "export_epochs": int(metrics.get("epochs", 0)),
        "test_acc": round(float(metrics["test_acc"]), 4),
        "logistic_regression_test_acc": round(logistic_baseline(splits), 4),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": round(os.getloadavg()[0], 2),
    }
    if "voices" in splits.info:
        record["voices"] = {part: len(v) for part, v in splits.info["voices"].items()}
    return record


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS))
    p.add_argument("--keep-cache", action="store_true", help="reuse generated spoken digits (default: regenerate)")
    args = p.parse_args()
    saved = Record("domains_speech", area="domains", config=vars(args))
    for preset in args.presets:
        with tempfile.TemporaryDirectory() as tmp:
            if not args.keep_cache:
                os.environ["NASFORGE_CACHE"] = str(Path(tmp) / "cache")
            record = run_preset(preset, Path(tmp))
        saved.add_run(record)
        print(json.dumps(record), flush=True)
    summary = {r["preset"]: {"test_acc": r["test_acc"], "best_val_acc": r["best_val_acc"]} for r in saved.runs}
    print(f"record: {saved.save(summary=summary)}")


if __name__ == "__main__":
    main()
