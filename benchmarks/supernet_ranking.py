"""How well a weight-entangled supernet ranks subnets: Kendall tau between the supernet's inherited accuracy
(batch norms recalibrated) and stand-alone training, on the `cnn` space with nothing pinned.

Per seed: one OFA supernet (sandwich rule, in-place distillation) is trained on the dataset's training split;
the same `--archs` random subnets (drawn once, seed 1234; training hyperparameters at the supernet's pins)
are scored on the validation split by the supernet, and each is trained from scratch by the
`ClassificationEvaluator` (`--standalone-epochs`, the arch's own training settings) and validated on the same
split. The record holds every arch's two figures per seed and the tau per seed; the summary their mean.

    python benchmarks/supernet_ranking.py --dataset digits --seeds 0 1 --archs 12

`--fix NAME=VALUE` pins every decision whose label ends in NAME (e.g. `--fix op=conv` pins every block's
operation) in the supernet and in the archs drawn, to measure the ranking of a part of the space.
`--progressive-epochs E` ramps the supernet's random subnets in from the largest over the first E epochs
(`OFA(progressive_epochs=E)`); `--shortcut-epochs E` keeps a fading identity path around the blocks whose
residual a subnet leaves out over the first E epochs (`OFA(shortcut_epochs=E)`); `--random-subnets` sets how
many it trains per step, and `--no-distill` trains them on the labels (`OFA(distill=False)`). `--train-size N`
and `--valid-size M` keep N training and M validation samples of the dataset (drawn once, seed 0), for a large
dataset such as Fashion-MNIST on one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

from benchmarks.records import Record
from nasforge.data import DATASETS
from nasforge.data.base import BaseDataset, DataSplits
from nasforge.evaluators import ClassificationEvaluator
from nasforge.evaluators.base import EvalContext
from nasforge.oneshot import OFA
from nasforge.oneshot.base import batches
from nasforge.oneshot.ofa import subnet_accuracy
from nasforge.space import Arch
from nasforge.zoo.cnn import SmallImageCNN


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


class Part(BaseDataset):
    """The first `train` and `valid` samples (after one shuffle, seed 0) of `dataset`'s splits."""

    def __init__(self, dataset: BaseDataset, train: int | None, valid: int | None) -> None:
        self.dataset, self.train, self.valid = dataset, train, valid
        self.name = dataset.name
        self._splits: DataSplits | None = None

    def load(self) -> DataSplits:
        if self._splits is None:
            full = self.dataset.load()
            rng = np.random.default_rng(0)
            parts = {}
            for which, n in (("train", self.train), ("valid", self.valid)):
                data = getattr(full, which)
                keep = rng.permutation(len(data))[: n if n is not None else len(data)]
                parts[which] = data.subset(np.sort(keep))
            self._splits = dataclasses.replace(full, **parts)
        return self._splits


def reusable(args: argparse.Namespace) -> dict[tuple[int, str], float]:
    """(seed, arch id) -> stand-alone accuracy from the `--reuse-standalone` records that ran the same recipe."""
    out: dict[tuple[int, str], float] = {}
    same = ("dataset", "standalone_epochs", "train_size", "valid_size")
    for path in args.reuse_standalone or []:
        old = json.loads(path.read_text())
        if any(old["config"].get(k) != getattr(args, k) for k in same):
            raise SystemExit(f"{path} ran another stand-alone recipe ({same}); it cannot be reused.")
        out.update(
            {
                (run["seed"], Arch(row["arch"]).id): row["standalone_acc"]
                for run in old["runs"]
                for row in run["subnets"]
            }
        )
    return out


def pins(space: SmallImageCNN, fixes: list[str]) -> dict[str, Any]:
    """`--fix NAME=VALUE` as {label: value} for every decision of `space` whose label ends in NAME."""
    out: dict[str, Any] = {}
    for fix in fixes:
        name, sep, text = fix.partition("=")
        if not sep:
            raise SystemExit(f"--fix takes NAME=VALUE (e.g. op=conv), but got {fix!r}.")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        labels = [d.label for d in space.decisions if d.label == name or d.label.endswith("/" + name)]
        if not labels:
            raise SystemExit(f"--fix {fix!r}: no decision of the space is named {name!r}.")
        out.update(dict.fromkeys(labels, value))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--archs", type=int, default=12)
    parser.add_argument("--supernet-epochs", type=int, default=15)
    parser.add_argument("--standalone-epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--calib-batches", type=int, default=8)
    parser.add_argument("--progressive-epochs", type=int, default=0)
    parser.add_argument("--shortcut-epochs", type=int, default=0)
    parser.add_argument("--random-subnets", type=int, default=2)
    parser.add_argument(
        "--no-distill", action="store_true", help="train the subnets on the labels, not in-place distilled"
    )
    parser.add_argument("--train-size", type=int, help="training samples kept (default: all)")
    parser.add_argument("--valid-size", type=int, help="validation samples kept (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--fix", action="append", default=[], metavar="NAME=VALUE", help="pin decisions NAME (see above)"
    )
    parser.add_argument(
        "--reuse-standalone",
        type=Path,
        nargs="+",
        help="earlier records of this benchmark whose stand-alone accuracies are taken where the seed, the arch "
        "and the stand-alone settings are the same (they do not depend on the supernet)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dataset: BaseDataset = DATASETS.create(args.dataset)
    if args.train_size is not None or args.valid_size is not None:
        dataset = Part(dataset, args.train_size, args.valid_size)
    splits = dataset.load()
    space = SmallImageCNN(input_shape=tuple(splits.input_shape))
    fixed = pins(space, args.fix)
    evaluator = ClassificationEvaluator(dataset, epochs=args.standalone_epochs, device="cpu")
    record = Record(
        "supernet_ranking",
        area="supernet",
        config={**vars(args), "reuse_standalone": [str(p) for p in args.reuse_standalone or []]},
    )
    known = reusable(args)
    taus, rhos = [], []
    for seed in args.seeds:
        method = OFA(
            epochs=args.supernet_epochs,
            batch_size=args.batch_size,
            population=2,
            generations=1,
            calib_batches=args.calib_batches,
            progressive_epochs=args.progressive_epochs,
            shortcut_epochs=args.shortcut_epochs,
            random_subnets=args.random_subnets,
            distill=not args.no_distill,
            seed=seed,
            fixed=fixed or None,
            device="cpu",
        )
        with tempfile.TemporaryDirectory() as folder:
            checkpoint = Path(folder) / "supernet.pt"
            start_cpu, start = cpu_seconds(), time.perf_counter()
            result = method.search(space, splits.train, splits.valid, checkpoint=checkpoint)
            supernet_cpu, supernet_wall = cpu_seconds() - start_cpu, time.perf_counter() - start
            supernet = method.load_supernet(space, checkpoint)
        assert result is not None
        archs = [supernet.sample(np.random.default_rng(1234 + i)) for i in range(args.archs)]
        stream = batches(splits.train, args.batch_size, torch.Generator().manual_seed(seed))
        calibration = [next(stream)[0] for _ in range(args.calib_batches)]
        rows: list[dict[str, Any]] = []
        for i, arch in enumerate(archs):
            inherited = subnet_accuracy(supernet, arch, calibration, splits.valid)
            start_cpu = cpu_seconds()
            alone = known.get((seed, arch.id))
            if alone is None:
                alone = evaluator.evaluate(EvalContext(space, space.validate(arch), seed=seed))["val_acc"]
            rows.append(
                {
                    "arch_index": i,
                    "arch": arch.to_dict(),
                    "params": supernet.param_count(arch),
                    "supernet_acc": inherited,
                    "standalone_acc": alone,
                    "standalone_cpu_s": round(cpu_seconds() - start_cpu, 1),
                }
            )
            print(f"seed {seed} arch {i}: supernet {inherited:.4f} stand-alone {alone:.4f}", flush=True)
        tau = float(kendalltau([r["supernet_acc"] for r in rows], [r["standalone_acc"] for r in rows]).statistic)
        rho = float(spearmanr([r["supernet_acc"] for r in rows], [r["standalone_acc"] for r in rows]).statistic)
        taus.append(tau)
        rhos.append(rho)
        record.add_run(
            {
                "seed": seed,
                "kendall_tau": tau,
                "spearman_rho": rho,
                "supernet_cpu_s": round(supernet_cpu, 1),
                "supernet_wall_s": round(supernet_wall, 1),
                "history": result.history,
                "subnets": rows,
            }
        )
        print(f"seed {seed}: Kendall tau {tau:.3f}, Spearman rho {rho:.3f}", flush=True)
    path = record.save(
        summary={
            "kendall_tau_mean": float(np.mean(taus)),
            "kendall_tau_per_seed": taus,
            "spearman_rho_mean": float(np.mean(rhos)),
            "archs": args.archs,
            "seeds": args.seeds,
        }
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
