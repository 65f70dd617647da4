"""Subnets of a trained weight-entangled supernet: scoring one (its batch norms recalibrated) and drawing one
near an anchor; shared by the methods that train an `EntangledSupernet` (`OFA`, `SPOS` on shared sizes) and
by the supernet benchmarks."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from nasforge.data import ArrayData
from nasforge.oneshot.entangled import EntangledSupernet
from nasforge.space import Arch
from nasforge.space.arch import Value

__all__ = ["sample_near", "subnet_accuracy"]


@torch.no_grad()
def subnet_accuracy(
    supernet: EntangledSupernet, arch: Mapping[str, Value], calibration: list[torch.Tensor], valid: ArrayData
) -> float:
    """Accuracy of subnet `arch` of a trained supernet on `valid`, its batch norms recalibrated on the input
    batches `calibration` first (the supernet's own statistics are not changed)."""
    was_training = supernet.training
    supernet.eval()
    try:
        stats = supernet.recalibrate(arch, calibration)
        correct = 0
        for start in range(0, len(valid), 500):
            logits = supernet.run(arch, valid.x[start : start + 500], stats)
            correct += int((logits.argmax(1) == valid.y[start : start + 500]).sum())
    finally:
        supernet.train(was_training)
    return correct / max(len(valid), 1)


def sample_near(supernet: EntangledSupernet, anchor: Arch, spread: float, rng: np.random.Generator) -> Arch:
    """A subnet that takes each active decision at random with probability `spread` and otherwise `anchor`'s
    value (pinned decisions at their pins): `anchor` itself at 0, a uniformly drawn subnet at 1."""
    if spread >= 1.0:
        return supernet.sample(rng)
    values: dict[str, Value] = {}
    for d in supernet.space.decisions:
        if not d.is_active(values):
            continue
        if d.label in supernet.pinned:  # set here too: a pinned depth decides which blocks' decisions exist
            values[d.label] = supernet.pinned[d.label]
            continue
        keep = d.label in anchor and rng.random() >= spread
        values[d.label] = anchor[d.label] if keep else d.values[int(rng.integers(len(d.values)))]
    return supernet.arch_of(values, rng)
