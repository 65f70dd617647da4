"""Do word vectors learned offline help the text space on the Rotten Tomatoes movie split?

No pretrained vectors can be downloaded here, so this script makes some from the two English dictionaries
Debian packages (`apt-get install dict-gcide wordnet-base`): every GCIDE entry and WordNet synset is a
document (its headwords beside its definition and examples, 7.6 million tokens in all); word-pair counts
within 5 tokens (weighted 1/distance) and between each headword and its definition's words give a
positive-PMI matrix over the 80,000 commonest words, whose truncated SVD (100 dimensions, rows scaled to
unit length) are the vectors (Levy, Goldberg & Dagan 2015). They are written in word2vec text format to
`$NASFORGE_CACHE/vectors/dictionaries-100d.txt` (about 1.5 minutes on 2 cores), a file any `vectors=`
argument reads.

Then one arch like the preset's best (max-pooled 128-d embeddings, no block, the wide n-gram term, rate
0.01) is trained as a preset trial (4 epochs on the training movies, scored on the validation movies),
retrained on train + valid and tested once on the held-out movies, for 3 seeds each: without vectors,
and starting from the dictionary vectors fine-tuned or frozen. The summary gives each setting's mean
validation accuracy (by which settings are compared) and mean test accuracy (for reporting). TF-IDF +
logistic regression on the same split: benchmarks/text_baseline.py.

    OMP_NUM_THREADS=1 python benchmarks/text_vectors.py

Writes a new record under records/domains/ (benchmarks/records.py).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from nasforge.data.base import cache_root
from nasforge.data.text import RottenTomatoes
from nasforge.data.tokenizer import Tokenizer
from nasforge.evaluators import ClassificationEvaluator, EvalContext
from nasforge.zoo.text import TextClassifierSpace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

GCIDE = Path("/usr/share/dictd/gcide.dict.dz")
WORDNET = Path("/usr/share/wordnet")
BASE = {
    "batch_size": 64, "bigram_buckets": 0, "blocks": 0, "dropout": 0.5, "embed_dim": 128, "embed_dropout": 0.3,
    "learning_rate": 0.01, "ngram_buckets": 262144, "optimizer": "adamw", "pool": "max", "weight_decay": 0.1,
}  # fmt: skip
SETTINGS = {"no vectors": None, "dictionary vectors, fine-tuned": "finetune", "dictionary vectors, frozen": "frozen"}


def dictionary_documents() -> list[tuple[list[str], list[str]]]:
    """(headword tokens, text tokens) of every GCIDE entry and WordNet synset."""
    missing = [str(p) for p in (GCIDE, WORDNET / "data.noun") if not p.exists()]
    if missing:
        sys.exit(f"{', '.join(missing)} missing: run `apt-get install dict-gcide wordnet-base` first.")
    tok = Tokenizer(min_freq=1)
    docs = []
    with gzip.open(GCIDE) as f:
        raw = f.read().decode("utf-8", "replace")
    head = re.compile(r"^([A-Z][^\\\n]{0,40}?) \\", re.M)
    starts = [m.start() for m in head.finditer(raw)] + [len(raw)]
    for a, b in itertools.pairwise(starts):
        entry = raw[a:b]
        word = entry[: entry.index(" \\")]
        # drop pronunciations (\A*buse"\), sources ([1913 Webster]), quotation authors (--Shak.) and braces
        body = re.sub(r"\[[^\]]*\]|--[A-Z][\w. ]*|\\[^\\]*\\|\{|\}", " ", entry[len(word) :])
        docs.append((tok.tokenize(word), tok.tokenize(body)))
    for pos in ("noun", "verb", "adj", "adv"):
        lines = (WORDNET / f"data.{pos}").read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines:
            if line.startswith("  "):  # the licence header
                continue
            left, _, gloss = line.partition(" | ")
            fields = left.split()
            n = int(fields[3], 16)
            words = [t for w in fields[4 : 4 + 2 * n : 2] for t in tok.tokenize(w.replace("_", " ").split("(")[0])]
            docs.append((words, words + tok.tokenize(gloss.replace('"', " "))))
    return docs


def build_vectors(path: Path, dim: int = 100, vocab: int = 80000, window: int = 5) -> dict[str, Any]:
    from scipy.sparse.linalg import svds

    start = time.perf_counter()
    docs = dictionary_documents()
    freq = Counter(t for head, text in docs for t in head + text)
    words = [w for w, c in freq.most_common() if c >= 2][:vocab]
    index = {w: i for i, w in enumerate(words)}
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def pairs(a: np.ndarray, b: np.ndarray, weight: float) -> None:
        rows.extend((a, b))
        cols.extend((b, a))
        vals.append(np.full(2 * len(a), weight))

    for head, text in docs:
        ids = np.array([index.get(t, -1) for t in text])
        for k in range(1, window + 1):
            a, b = ids[:-k], ids[k:]
            keep = (a >= 0) & (b >= 0)
            pairs(a[keep], b[keep], 1.0 / k)
        h = [index[t] for t in set(head) if t in index]
        c = sorted({int(i) for i in ids if i >= 0})
        if h and c:
            pairs(np.repeat(h, len(c)), np.tile(c, len(h)), 1.0)
    n = len(words)
    counts = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()
    counts.sum_duplicates()
    counts = counts.tocoo()
    row_sum = np.asarray(counts.sum(1)).ravel()
    ctx = np.asarray(counts.sum(0)).ravel() ** 0.75  # context distribution smoothing
    pmi = np.log(counts.data * ctx.sum() / (row_sum[counts.row] * ctx[counts.col]))
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (counts.row[keep], counts.col[keep])), shape=(n, n))
    u, s, _ = svds(ppmi, k=dim, random_state=0)
    vec = u * np.sqrt(s)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True) + 1e-9
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{n} {dim}\n")
        for w, v in zip(words, vec, strict=True):
            f.write(w + " " + " ".join(f"{x:.4f}" for x in v) + "\n")
    tmp.replace(path)
    return {"documents": len(docs), "tokens": sum(len(t) for _, t in docs), "words": n, "dim": dim,
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = cache_root() / "vectors" / "dictionaries-100d.txt"
    record = Record("text_vectors", area="domains", config={**vars(args), "vectors_file": str(path), "base": BASE})
    vectors_built = None
    if not path.is_file():
        vectors_built = build_vectors(path)
        print(f"vectors: {vectors_built}", flush=True)
    for name, mode in SETTINGS.items():
        data = RottenTomatoes(max_length=48, min_freq=1, vectors=None if mode is None else path)
        splits = data.load()
        vectors = splits.info.get("vectors")
        space = TextClassifierSpace(
            input_shape=(48,), vocab_size=splits.info["vocab_size"], embed_dims=(128,), depths=(0,),
            ngram_buckets=(262144,), vectors=vectors,
        )  # fmt: skip
        arch = space.validate({**BASE, **({} if mode is None else {"vectors": mode})})
        evaluator = ClassificationEvaluator(data, epochs=4)
        for seed in args.seeds:
            start = time.process_time()
            val = evaluator.evaluate(EvalContext(space, arch, None, seed=seed))["val_acc"]
            test = evaluator.train_final(space, arch, epochs=4, seed=seed)[1]["test_acc"]
            row = {"setting": name, "seed": seed, "val_acc": round(val, 4), "test_acc": round(test, 4)}
            row.update(found=splits.info.get("vectors_found"), cpu_s=round(time.process_time() - start, 1))
            print(json.dumps(row), flush=True)
            record.add_run(row)
    means = {  # settings are compared by validation accuracy; test is for reporting
        f"mean_{key}": {
            name: round(float(np.mean([r[key] for r in record.runs if r["setting"] == name])), 4) for name in SETTINGS
        }
        for key in ("val_acc", "test_acc")
    }
    print(means)
    print(f"record: {record.save(summary={**means, 'vectors': vectors_built})}")


if __name__ == "__main__":
    main()
