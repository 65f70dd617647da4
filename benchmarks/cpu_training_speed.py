"""How fast the main job's archs train on this CPU: channels-last against the default layout, and what FLOPs cost.

For `--archs` random archs of the `fashion_mnist` preset's space (seeded), one process and `--threads` torch
threads, it times training steps (batch 128, SGD as the trainer sets it up) in the default layout and in
channels-last, and reports per arch the FLOPs (`nasforge.cost.count_flops`), the parameters and the time of
one epoch of the retrain's 60,000 images in each layout. The summary gives the median speed-up of
channels-last, its range, and the epoch time of the archs at or under the preset's FLOPs limit against
those above it. Synthetic inputs: the speed of a step does not depend on the pixels.

    python benchmarks/cpu_training_speed.py --archs 24 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record

EPOCH = 60_000


def step_seconds(model, x, y, steps: int = 6) -> float:  # type: ignore[no-untyped-def]
    """The median time of a training step after two warm-up steps."""
    import torch.nn.functional as F

    from nasforge.evaluators.training import TrainConfig, make_optimizer

    opt = make_optimizer(model, TrainConfig())
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flops-limit", type=float, default=20e6, help="the preset's constraint (flops <= X)")
    args = parser.parse_args()
    import numpy as np
    import torch

    from nasforge.config import build_experiment, load_preset
    from nasforge.cost import count_flops
    from nasforge.evaluators.training import set_layout
    from nasforge.storage import InMemoryStorage

    torch.set_num_threads(args.threads)
    record = Record("cpu_training_speed", area="mainjob", config=vars(args))
    space = build_experiment(load_preset("fashion_mnist"), storage=InMemoryStorage()).space
    rng = np.random.default_rng(args.seed)
    x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
    for i in range(args.archs):
        arch = space.random(rng)
        model = space.freeze(arch)
        flops = count_flops(model, (1, 28, 28))
        default = step_seconds(model, x, y)
        set_layout(model, torch.channels_last)
        last = step_seconds(model, x.contiguous(memory_format=torch.channels_last), y)
        run = {
            "arch": i,
            "flops": flops,
            "params": sum(p.numel() for p in model.parameters()),
            "epoch_s_default": default * EPOCH / 128,
            "epoch_s_channels_last": last * EPOCH / 128,
            "speedup": default / last,
        }
        record.add_run(run)
        print(
            f"{flops / 1e6:6.1f} MFLOPs: {run['epoch_s_default']:6.1f} s -> {run['epoch_s_channels_last']:6.1f} s "
            f"an epoch ({run['speedup']:.2f}x)",
            flush=True,
        )
    ups = [r["speedup"] for r in record.runs]
    under = [r["epoch_s_channels_last"] for r in record.runs if r["flops"] <= args.flops_limit]
    over = [r["epoch_s_channels_last"] for r in record.runs if r["flops"] > args.flops_limit]
    summary = {
        "median_speedup": statistics.median(ups),
        "min_speedup": min(ups),
        "max_speedup": max(ups),
        "median_epoch_s_under_limit": statistics.median(under) if under else None,
        "median_epoch_s_over_limit": statistics.median(over) if over else None,
        "share_under_limit": len(under) / len(record.runs),
    }
    print(summary)
    print(f"record: {record.save(summary=summary)}")


if __name__ == "__main__":
    main()
