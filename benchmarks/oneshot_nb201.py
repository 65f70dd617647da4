"""One-shot search of the NAS-Bench-201 space with real training on Fashion-MNIST, on the CPU.

Each method searches a reduced NB201 supernet (the 6 shared edge decisions unchanged; fewer cells and
channels, images downsampled) for a few epochs, for several seeds; each derived cell is then looked up in
the NAS-Bench-201 table (CIFAR-10 test accuracy after 200 epochs, `c10_test_acc_200`), with its count of
parameter-free operations (none, skip_connect, avg_pool_3x3), the signature of DARTS's collapse.

    python benchmarks/oneshot_nb201.py --seeds 0 1 2

Writes a new record under records/oneshot/ (benchmarks/records.py) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nasforge.data import ArrayData, FashionMNIST
from nasforge.oneshot import DARTS, DARTSPT, ENAS, GDAS, SPOS, BaseOneShot, BetaDARTS, DrNAS
from nasforge.tables import NB201Table
from nasforge.zoo.nb201 import EDGES, NB201Space, arch_to_str

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

PARAM_FREE = ("none", "skip_connect", "avg_pool_3x3")
METHODS = ("darts", "darts2", "gdas", "beta-darts", "drnas", "darts-pt", "spos", "enas")


def make_method(name: str, args: argparse.Namespace, seed: int) -> BaseOneShot:
    method = _make_method(name, args, seed)
    method.bn_affine = args.bn_affine
    return method


def _make_method(name: str, args: argparse.Namespace, seed: int) -> BaseOneShot:
    common: dict[str, Any] = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": seed,
        "device": "cpu",
        "augment": args.augment,
    }
    grad: dict[str, Any] = {**common, "arch_learning_rate": args.arch_lr}
    if args.warmup is not None:
        grad["warmup_epochs"] = args.warmup
    if name == "darts":
        return DARTS(**grad)
    if name == "darts2":
        return DARTS(order=2, **grad)
    if name == "gdas":
        return GDAS(**grad)
    if name == "beta-darts":
        return BetaDARTS(beta_weight=args.beta_weight, **grad)
    if name == "darts-pt":
        return DARTSPT(eval_size=args.eval_size, **grad)
    if name == "drnas":
        return DrNAS(kl_weight=args.kl_weight, **grad)
    if name == "enas":
        return ENAS(**common)
    return SPOS(population=args.population, generations=args.generations, eval_size=args.eval_size, **common)


def load_data(args: argparse.Namespace) -> tuple[ArrayData, ArrayData]:
    splits = FashionMNIST(valid_size=10_000, seed=0).load()
    gen = torch.Generator().manual_seed(0)

    def part(data: ArrayData, n: int) -> ArrayData:
        idx = torch.randperm(len(data), generator=gen)[:n]
        x = data.x[idx]
        if args.size != 28:
            x = F.interpolate(x, size=(args.size, args.size), mode="bilinear", antialias=True)
        return ArrayData(x.contiguous(), data.y[idx])

    return part(splits.train, args.n_train), part(splits.valid, args.n_valid)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="+", default=["darts", "beta-darts", "drnas", "gdas", "spos"], choices=METHODS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--arch-lr", type=float, default=3e-3)
    p.add_argument("--beta-weight", type=float, default=1.0)
    p.add_argument("--kl-weight", type=float, default=1e-3)
    p.add_argument(
        "--warmup", type=int, help="weight-only epochs before the architecture search (default: the method's)"
    )
    p.add_argument("--augment", default="none", choices=["none", "flip", "crop", "crop_flip"])
    p.add_argument(
        "--bn-affine", action="store_true", help="keep the learnable BN scale/shift inside candidates while searching"
    )
    p.add_argument("--n-train", type=int, default=3000)
    p.add_argument("--n-valid", type=int, default=3000)
    p.add_argument("--size", type=int, default=16, help="image side after resizing (divisible by 4)")
    p.add_argument("--C", type=int, default=16)
    p.add_argument("--N", type=int, default=1)
    p.add_argument("--population", type=int, default=20)
    p.add_argument("--generations", type=int, default=5)
    p.add_argument("--eval-size", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    train, valid = load_data(args)
    table = NB201Table.load()
    acc = table.column("c10_test_acc_200")
    space = NB201Space(num_classes=10, C=args.C, N=args.N, input_shape=(1, args.size, args.size))
    record = Record("oneshot_nb201", area="oneshot", config=vars(args))
    runs: list[dict[str, Any]] = record.runs
    start = time.perf_counter()
    for method in args.methods:
        for seed in args.seeds:
            result = make_method(method, args, seed).search(space, train, valid)
            assert result is not None  # no should_stop: the search runs to the end
            cell = arch_to_str(result.arch)
            run = {
                "method": method,
                "seed": seed,
                "cell": cell,
                "c10_test_acc_200": round(float(acc[table.index(cell)]), 2),
                "param_free_ops": sum(result.arch[e] in PARAM_FREE for e in EDGES),
                "search_seconds": round(result.search_time, 1),
                "history": result.history,
                "probabilities": result.probabilities,
            }
            record.add_run(run)
            print(
                f"{method:>10} seed {seed}: {run['c10_test_acc_200']:6.2f}  free={run['param_free_ops']}  "
                f"{cell}  ({run['search_seconds']} s)",
                flush=True,
            )
    total = time.perf_counter() - start
    summary = {}
    for method in args.methods:
        mine = [r for r in runs if r["method"] == method]
        accs = [r["c10_test_acc_200"] for r in mine]
        summary[method] = {
            "mean": round(statistics.mean(accs), 2),
            "std": round(statistics.pstdev(accs), 2),
            "mean_param_free_ops": round(statistics.mean(r["param_free_ops"] for r in mine), 2),
        }
    print("\n| method | seed | cell | param-free ops | NB201 C10 test acc | search s |\n|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['method']} | {r['seed']} | `{r['cell']}` | {r['param_free_ops']} | {r['c10_test_acc_200']:.2f} "
            f"| {r['search_seconds']} |"
        )
    print("\n| method | mean +- std | mean param-free ops |\n|---|---|---|")
    for method, s in summary.items():
        print(f"| {method} | {s['mean']:.2f} +- {s['std']:.2f} | {s['mean_param_free_ops']} |")
    print(f"\ntotal search time {total:.0f} s")
    print(f"record: {record.save(summary={'methods': summary, 'total_seconds': round(total)})}")


if __name__ == "__main__":
    main()
