"""The TF-IDF + logistic-regression baseline on the Rotten Tomatoes movie split, beside the searched model.

The baseline sees exactly the split the search sees (`RottenTomatoes(seed=0)`: test and validation parts
hold whole movies): `C` and the word n-gram range are tuned on the validation part with the vectoriser
fitted on the training part, then the chosen setting is refitted on train + valid and tested once.

The searched figure comes from the `rotten_tomatoes` preset, whose export retrains the best arch on
train + valid and tests it once; pass its `metrics.json` (or several, one per seed):

    OMP_NUM_THREADS=1 nasforge run rotten_tomatoes --storage /tmp/rt.db --name rt
    python benchmarks/text_baseline.py --searched nasforge-out/rotten-tomatoes/metrics.json

Writes a new record under records/domains/ (benchmarks/records.py); earlier records stay as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from nasforge.data.text import RottenTomatoes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
NGRAMS = ((1, 1), (1, 2), (1, 3))


def baseline(seed: int = 0) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    parts = RottenTomatoes(seed=seed).parts()
    tr, va, te = (parts.texts[k] for k in ("train", "valid", "test"))
    ytr, yva, yte = (parts.labels[k] for k in ("train", "valid", "test"))
    grid = []
    for ngram in NGRAMS:
        vec = TfidfVectorizer(ngram_range=ngram, sublinear_tf=True, min_df=1)
        xtr, xva = vec.fit_transform(tr), vec.transform(va)
        for c in C_GRID:
            clf = LogisticRegression(C=c, max_iter=2000).fit(xtr, ytr)
            grid.append({"ngram_range": list(ngram), "C": c, "val_acc": float(clf.score(xva, yva))})
    best = max(grid, key=lambda r: r["val_acc"])
    vec = TfidfVectorizer(ngram_range=tuple(best["ngram_range"]), sublinear_tf=True, min_df=1)
    xfull = vec.fit_transform(tr + va)
    clf = LogisticRegression(C=best["C"], max_iter=2000).fit(xfull, list(ytr) + list(yva))
    test_acc = float(clf.score(vec.transform(te), yte))
    return {
        "seed": seed,
        "split": {k: len(v) for k, v in parts.texts.items()},
        "majority_test_acc": float(max(yte.mean(), 1 - yte.mean())),
        "best": best,
        "test_acc": test_acc,
        "grid": grid,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="split seed (the preset uses 0)")
    parser.add_argument("--searched", nargs="*", default=[], help="metrics.json files of exported searched models")
    parser.add_argument("--note", default="", help="how the searched figures were obtained")
    args = parser.parse_args()
    start = time.perf_counter()
    record: dict[str, Any] = {"dataset": "rotten_tomatoes (fresh vs rotten, split by movie)"}
    record["baseline"] = {"method": "TF-IDF (sublinear tf) + LogisticRegression", **baseline(args.seed)}
    record["baseline"]["seconds"] = round(time.perf_counter() - start, 1)
    if args.searched:
        record["searched"] = [
            {"file": f, **{k: v for k, v in json.loads(Path(f).read_text()).items()}} for f in args.searched
        ]
        record["searched_note"] = args.note
    saved = Record("text_baseline", area="domains", config=vars(args))
    saved.runs = [{"kind": "baseline", **record["baseline"]}] + [
        {"kind": "searched", **s} for s in record.get("searched", [])
    ]
    print(f"record: {saved.save(summary={k: v for k, v in record.items() if k != 'searched'})}")
    b = record["baseline"]
    print(f"split {b['split']}; majority class on test {b['majority_test_acc']:.4f}")
    print(f"baseline: best on valid {b['best']}; test accuracy {b['test_acc']:.4f}")
    for s in record.get("searched", []):
        print(f"searched ({s['file']}): test accuracy {s.get('test_acc')}")


if __name__ == "__main__":
    main()
