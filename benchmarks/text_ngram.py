"""One text arch with and without the wide n-gram term (`ngram_buckets`) on the Rotten Tomatoes movie split.

Each setting trains like a `rotten_tomatoes` preset trial (4 epochs on the training movies, scored on the
validation movies), then is retrained on train + valid and tested once on the held-out movies, as the
preset's export does. The base arch is like the preset's best (max-pooled 128-d embeddings, no block);
each setting changes some of its decisions. `--seeds` trains each setting once per seed (0 alone by default);
the summary ranks the settings by their mean validation accuracy, never by test. The TF-IDF +
logistic-regression baseline on the same split: benchmarks/text_baseline.py.

    OMP_NUM_THREADS=1 python benchmarks/text_ngram.py --seeds 0 1 2

Writes a new record under records/domains/ (benchmarks/records.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from nasforge.data.text import RottenTomatoes
from nasforge.evaluators import ClassificationEvaluator, EvalContext
from nasforge.zoo.text import TextClassifierSpace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

BASE = {
    "batch_size": 64, "bigram_buckets": 0, "blocks": 0, "dropout": 0.5, "embed_dim": 128, "embed_dropout": 0.3,
    "learning_rate": 0.003, "ngram_buckets": 0, "optimizer": "adamw", "pool": "max", "weight_decay": 0.1,
}  # fmt: skip
WIDE = 262144
SETTINGS: list[tuple[int, dict[str, Any]]] = [  # (the vocabulary's min_freq, decisions changed)
    (2, {}),
    (2, {"ngram_buckets": WIDE}),
    (1, {}),
    (1, {"ngram_buckets": WIDE}),
    (1, {"ngram_buckets": WIDE, "pool": "mean"}),
    (1, {"ngram_buckets": WIDE, "learning_rate": 0.01}),
    (1, {"ngram_buckets": WIDE, "weight_decay": 1.0}),
    (1, {"ngram_buckets": WIDE, "pool": "mean", "learning_rate": 0.01}),
    (1, {"ngram_buckets": WIDE, "pool": "mean", "learning_rate": 0.01, "embed_dim": 64}),
    (1, {"ngram_buckets": WIDE, "learning_rate": 0.01, "dropout": 0.3, "embed_dropout": 0.1}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds of each setting")
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = Record("text_ngram", area="domains", config={**vars(args), "base": BASE, "settings": SETTINGS})
    for min_freq, change in SETTINGS:
        data = RottenTomatoes(max_length=48, min_freq=min_freq)
        vocab = data.load().info["vocab_size"]
        space = TextClassifierSpace(
            input_shape=(48,), vocab_size=vocab, embed_dims=(64, 128), depths=(0, 1), ngram_buckets=(0, WIDE)
        )
        evaluator = ClassificationEvaluator(data, epochs=4)
        arch = space.validate({**BASE, **change})
        for seed in args.seeds:
            start = time.process_time()
            val = evaluator.evaluate(EvalContext(space, arch, None, seed=seed))["val_acc"]
            _, final = evaluator.train_final(space, arch, epochs=4, seed=seed)
            row = {"min_freq": min_freq, "vocab_size": vocab, "change": change, "seed": seed, "val_acc": round(val, 4)}
            row.update(test_acc=round(final["test_acc"], 4), cpu_s=round(time.process_time() - start, 1))
            print(json.dumps(row), flush=True)
            record.add_run(row)
    print(f"record: {record.save(summary=summary(record.runs))}")


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each setting's mean validation and test accuracy over its seeds, and the best setting by validation."""
    settings = []
    for min_freq, change in SETTINGS:
        mine = [r for r in runs if r["min_freq"] == min_freq and r["change"] == change]
        val, test = (statistics.mean(r[k] for r in mine) for k in ("val_acc", "test_acc"))
        settings.append({"min_freq": min_freq, "change": change, "seeds": [r["seed"] for r in mine],
                         "mean_val_acc": round(val, 4), "mean_test_acc": round(test, 4)})  # fmt: skip
    return {"settings": settings, "best_by_mean_val_acc": max(settings, key=lambda s: s["mean_val_acc"])}


if __name__ == "__main__":
    main()
