"""Does the VADER sentiment lexicon (the `rotten_tomatoes` preset's `dataset.lexicon: vader`) help on the
Rotten Tomatoes movie split?

One arch like the preset's best (max-pooled 128-d embeddings, no block, the wide n-gram term, rate 0.01;
the base arch of benchmarks/text_vectors.py) is trained as a preset trial (4 epochs on the training movies,
scored on the validation movies), then retrained on train + valid and tested once on the held-out movies,
for each seed, with the `lexicon` decision off and on (the text's summed lexicon scores times a learned
weight per class added to the logits). The summary gives each setting's mean validation accuracy (by which
the two are compared) and mean test accuracy (for reporting). Needs the vaderSentiment package
(`pip install "nasforge[text]"`).

    OMP_NUM_THREADS=1 python benchmarks/text_lexicon.py --seeds 0 1 2

Writes a new record under records/domains/ (benchmarks/records.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from nasforge.data.text import RottenTomatoes
from nasforge.evaluators import ClassificationEvaluator, EvalContext
from nasforge.zoo.text import TextClassifierSpace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

BASE = {
    "batch_size": 64, "bigram_buckets": 0, "blocks": 0, "dropout": 0.5, "embed_dim": 128, "embed_dropout": 0.3,
    "learning_rate": 0.01, "ngram_buckets": 262144, "optimizer": "adamw", "pool": "max", "weight_decay": 0.1,
}  # fmt: skip
SETTINGS = ("off", "on")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = Record("text_lexicon", area="domains", config={**vars(args), "lexicon": "vader", "base": BASE})
    data = RottenTomatoes(max_length=48, min_freq=1, lexicon="vader")
    splits = data.load()
    space = TextClassifierSpace(
        input_shape=(48,), vocab_size=splits.info["vocab_size"], embed_dims=(128,), depths=(0,),
        ngram_buckets=(262144,), lexicon=splits.info["lexicon"],
    )  # fmt: skip
    evaluator = ClassificationEvaluator(data, epochs=4)
    for lexicon in SETTINGS:
        arch = space.validate({**BASE, "lexicon": lexicon})
        for seed in args.seeds:
            start = time.process_time()
            val = evaluator.evaluate(EvalContext(space, arch, None, seed=seed))["val_acc"]
            test = evaluator.train_final(space, arch, epochs=4, seed=seed)[1]["test_acc"]
            row = {"lexicon": lexicon, "seed": seed, "val_acc": round(val, 4), "test_acc": round(test, 4)}
            row.update(rated=splits.info["lexicon_found"], cpu_s=round(time.process_time() - start, 1))
            print(json.dumps(row), flush=True)
            record.add_run(row)
    means = {  # the two are compared by validation accuracy; test is for reporting
        f"mean_{key}": {
            lexicon: round(statistics.mean(r[key] for r in record.runs if r["lexicon"] == lexicon), 4)
            for lexicon in SETTINGS
        }
        for key in ("val_acc", "test_acc")
    }
    print(means)
    print(f"record: {record.save(summary=means)}")


if __name__ == "__main__":
    main()
