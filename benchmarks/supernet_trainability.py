"""Which decisions of the `cnn` space a weight-entangled supernet can train, and what one change of the largest
subnet costs after the library's OFA training (issue 30: random subnets score near chance on digits).

Part 1 (`groups`): per group of decisions, one `EntangledSupernet` with every other decision pinned at the
largest subnet's value is trained for `--steps` steps, each on one uniformly drawn subnet and the labels
(SGD as OFA's defaults: lr 0.05, momentum 0.9, weight decay 3e-5, cosine schedule, gradients clipped at 5).
Recorded: the training loss over the last 50 steps and the validation accuracy (batch norms recalibrated
on 8 training batches) of `--eval-archs` uniformly drawn subnets. A group that trains reaches a low loss; a
group whose subnets cannot share the weights stays near ln 10 = 2.30.

Part 2 (`perturbed`): OFA (sandwich rule, default settings, `--ofa-epochs`) is trained as
`benchmarks/supernet_ranking.py` trains it; then the largest and smallest subnets are scored, and every
subnet that differs from the largest in exactly one decision, grouped by the decision's name (width, op...);
every block of one stage at a smaller width (shortcut kinds inside the stage kept); and the random subnets
with their batch norms recalibrated on 1 batch and on the whole training split instead of 8 batches.

Part 3 (`--plain`): `PlainNet`, the largest subnet's widths written in plain PyTorch with each block's
operation and residual and each stage's downsampling chosen per step, trained as in part 1: whether a group
that does not train through the supernet trains without nasforge's supernet code either.

    python benchmarks/supernet_trainability.py --dataset digits --seed 0
    python benchmarks/supernet_trainability.py --groups --skip-perturbed --plain op residual op+residual
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.records import Record
from nasforge.data import DATASETS
from nasforge.data.base import DataSplits
from nasforge.oneshot import OFA
from nasforge.oneshot.base import batches
from nasforge.oneshot.entangled import EntangledSupernet
from nasforge.oneshot.ofa import subnet_accuracy
from nasforge.ops import ConvBNReLU, MBConv, SepConv
from nasforge.zoo.cnn import SmallImageCNN

#: the decisions (by the last part of their label) drawn at random in each group; None: every decision
GROUPS: dict[str, list[str] | None] = {
    "none": [],
    "entangled": ["stem_width", "width", "kernel", "blocks", "expand"],
    "op": ["op", "expand"],
    "residual": ["residual"],
    "downsample": ["downsample"],
    "op+residual": ["op", "expand", "residual"],
    "op+downsample": ["op", "expand", "downsample"],
    "residual+downsample": ["residual", "downsample"],
    "all": None,
}


def name_of(label: str) -> str:
    return label.rsplit("/", 1)[-1]


def train_group(
    space: SmallImageCNN, splits: DataSplits, free: list[str] | None, args: argparse.Namespace
) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    largest = EntangledSupernet(space).extreme(largest=True)
    hparams = {d.label for d in space.decisions if d.kind == "hparam"}
    fixed = {} if free is None else {k: v for k, v in largest.items() if k not in hparams and name_of(k) not in free}
    supernet = EntangledSupernet(space, fixed=fixed or None)
    weights = supernet.weight_parameters()
    opt = torch.optim.SGD(weights, lr=0.05, momentum=0.9, weight_decay=3e-5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    rng = np.random.default_rng(args.seed)
    data = batches(splits.train, args.batch_size, torch.Generator().manual_seed(args.seed))
    supernet.train()
    losses = []
    start = time.process_time()
    for _ in range(args.steps):
        x, y = next(data)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(supernet.run(supernet.sample(rng), x), y)
        loss.backward(inputs=weights)
        torch.nn.utils.clip_grad_norm_(weights, 5.0)
        opt.step()
        schedule.step()
        losses.append(float(loss.detach()))
    stream = batches(splits.train, args.batch_size, torch.Generator().manual_seed(args.seed))
    calibration = [next(stream)[0] for _ in range(8)]
    archs = [supernet.sample(np.random.default_rng(1234 + i)) for i in range(args.eval_archs)]
    accs = [subnet_accuracy(supernet, a, calibration, splits.valid) for a in archs]
    return {
        "free": free,
        "pinned": len(fixed),
        "loss_last50": float(np.mean(losses[-50:])),
        "random_acc": accs,
        "random_acc_mean": float(np.mean(accs)),
        "cpu_s": round(time.process_time() - start, 1),
    }


class PlainBlock(nn.Module):
    """One block of the `cnn` space at its largest width and kernel, in plain PyTorch: every operation a
    module of its own, the residual an identity or (widths differing) a 1 x 1 projection."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList([ConvBNReLU(c_in, c_out, 5), SepConv(c_in, c_out, 5), MBConv(c_in, c_out, 5, 6)])
        self.shortcut: nn.Module = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor, op: int, residual: bool) -> torch.Tensor:
        y = self.ops[op](x)
        return y + self.shortcut(x) if residual else y


class PlainNet(nn.Module):
    """The largest subnet's widths (stem 32; 3 stages of 3 blocks, 48, 96, 192 wide), each block's operation
    and residual and each stage's downsampling chosen per forward: a single-path supernet written without
    nasforge's supernet code, to tell its faults from the space's."""

    def __init__(self, c_in: int, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = ConvBNReLU(c_in, 32, 3)
        c = 32
        self.down, self.blocks = nn.ModuleList(), nn.ModuleList()
        for width in (48, 96, 192):
            pools = [nn.MaxPool2d(2, ceil_mode=True), nn.AvgPool2d(2, ceil_mode=True), ConvBNReLU(c, c, 3, stride=2)]
            self.down.append(nn.ModuleList(pools))
            self.blocks.append(nn.ModuleList([PlainBlock(c if i == 0 else width, width) for i in range(3)]))
            c = width
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor, path: dict[str, list[Any]]) -> torch.Tensor:
        x = self.stem(x)
        for s, (pools, blocks) in enumerate(zip(self.down, self.blocks, strict=True)):
            assert isinstance(pools, nn.ModuleList) and isinstance(blocks, nn.ModuleList)
            x = pools[path["down"][s]](x)
            for i, block in enumerate(blocks):
                x = block(x, path["op"][3 * s + i], path["residual"][3 * s + i])
        return self.fc(x.mean((2, 3)))


def train_plain(splits: DataSplits, free: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """`PlainNet` trained as `train_group` trains a supernet: one path per step, drawn uniformly in `free`
    (of op, residual, downsample), the rest as the largest subnet has it (conv, residual, strided conv)."""
    torch.manual_seed(args.seed)
    net = PlainNet(int(splits.train.x.shape[1]))
    rng = np.random.default_rng(args.seed)

    def draw() -> dict[str, list[Any]]:
        return {
            "down": [int(rng.integers(3)) if "downsample" in free else 2 for _ in range(3)],
            "op": [int(rng.integers(3)) if "op" in free else 0 for _ in range(9)],
            "residual": [bool(rng.integers(2)) if "residual" in free else True for _ in range(9)],
        }

    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    data = batches(splits.train, args.batch_size, torch.Generator().manual_seed(args.seed))
    losses = []
    for _ in range(args.steps):
        x, y = next(data)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x, draw()), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        schedule.step()
        losses.append(float(loss.detach()))
    stream = batches(splits.train, args.batch_size, torch.Generator().manual_seed(args.seed))
    calibration = [next(stream)[0] for _ in range(8)]
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    accs = []
    with torch.no_grad():
        for _ in range(args.eval_archs):
            path = draw()
            for m in norms:  # recalibrated as EntangledSupernet.recalibrate does: a cumulative average
                m.reset_running_stats()
                m.momentum = None
            net.train()
            for x in calibration:
                net(x, path)
            net.eval()
            accs.append(float((net(splits.valid.x, path).argmax(1) == splits.valid.y).float().mean()))
    return {"free": free, "loss_last50": float(np.mean(losses[-50:])), "random_acc": accs}


def perturbed(space: SmallImageCNN, splits: DataSplits, args: argparse.Namespace) -> dict[str, Any]:
    method = OFA(
        epochs=args.ofa_epochs, batch_size=args.batch_size, population=2, generations=1, seed=args.seed, device="cpu"
    )
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "supernet.pt"
        result = method.search(space, splits.train, splits.valid, checkpoint=checkpoint)
        supernet = method.load_supernet(space, checkpoint)
    assert result is not None
    stream = batches(splits.train, args.batch_size, torch.Generator().manual_seed(args.seed))
    calibration = [next(stream)[0] for _ in range(8)]

    def acc(arch: Any) -> float:
        return subnet_accuracy(supernet, arch, calibration, splits.valid)

    largest, smallest = supernet.extreme(largest=True), supernet.extreme(largest=False)
    changed: dict[str, list[float]] = {}
    for d in space.decisions:
        if d.kind == "hparam" or d.label not in largest:
            continue
        for value in d.values:
            if value != largest[d.label]:
                changed.setdefault(name_of(d.label), []).append(acc(supernet.arch_of({**largest, d.label: value})))
    # every block of a stage at one smaller width: the shortcuts of blocks 1 and 2 stay identities
    stage_wide: dict[str, float] = {}
    for d in space.decisions:
        if name_of(d.label) == "width" and d.label.endswith("/0/width"):
            stage = d.label.split("/")[0]
            for value in d.values:
                if value != largest[d.label]:
                    same = {k: value for k in largest if k.startswith(stage + "/") and name_of(k) == "width"}
                    stage_wide[f"{stage}={value}"] = acc(supernet.arch_of({**largest, **same}))
    archs = [supernet.sample(np.random.default_rng(1234 + i)) for i in range(args.eval_archs)]
    randoms = [acc(a) for a in archs]
    # batch-norm recalibration on one batch and on the whole training split instead of 8 batches
    one_batch = [subnet_accuracy(supernet, a, calibration[:1], splits.valid) for a in archs]
    whole = [subnet_accuracy(supernet, a, [splits.train.x], splits.valid) for a in archs]
    return {
        "stage_width_acc": stage_wide,
        "random_acc_calib_1_batch": one_batch,
        "random_acc_calib_whole_train": whole,
        "history": result.history,
        "largest_acc": acc(largest),
        "smallest_acc": acc(smallest),
        "random_acc": randoms,
        "one_change_acc": changed,
        "one_change_mean": {k: float(np.mean(v)) for k, v in changed.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval-archs", type=int, default=8)
    parser.add_argument("--ofa-epochs", type=int, default=8)
    parser.add_argument("--groups", nargs="*", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument("--skip-perturbed", action="store_true")
    parser.add_argument(
        "--plain",
        nargs="*",
        default=[],
        choices=["op", "residual", "downsample", "op+residual"],
        help="also train PlainNet (no nasforge supernet code) with these decisions drawn",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    splits = DATASETS.create(args.dataset).load()
    space = SmallImageCNN(input_shape=tuple(splits.input_shape))
    record = Record("supernet_trainability", area="supernet", config=vars(args))
    summary: dict[str, Any] = {}
    for group in args.groups:
        run = {"part": "groups", "group": group, **train_group(space, splits, GROUPS[group], args)}
        record.add_run(run)
        summary[group] = {"loss_last50": run["loss_last50"], "random_acc_mean": run["random_acc_mean"]}
        print(f"{group}: loss {run['loss_last50']:.3f}, random subnets {run['random_acc_mean']:.3f}", flush=True)
    for group in args.plain:
        run = {"part": "plain", "group": group, **train_plain(splits, group.split("+"), args)}
        record.add_run(run)
        summary[f"plain {group}"] = {
            "loss_last50": run["loss_last50"],
            "random_acc_mean": float(np.mean(run["random_acc"])),
        }
        print(
            f"plain {group}: loss {run['loss_last50']:.3f}, random paths {np.mean(run['random_acc']):.3f}", flush=True
        )
    if not args.skip_perturbed:
        run = {"part": "perturbed", **perturbed(space, splits, args)}
        record.add_run(run)
        summary["perturbed"] = {k: run[k] for k in ("largest_acc", "smallest_acc", "one_change_mean")}
        summary["perturbed"]["random_acc_mean"] = float(np.mean(run["random_acc"]))
        print(summary["perturbed"], flush=True)
    print(f"record: {record.save(summary=summary)}")


if __name__ == "__main__":
    main()
