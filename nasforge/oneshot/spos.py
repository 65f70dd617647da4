"""Single Path One-Shot (Guo et al., 2020): train a supernet one uniformly sampled path per step, then
search it by evolution, scoring each arch by the accuracy of its path of the trained supernet.

Scoring uses each validation batch's own BN statistics (the paper recalibrates BN per candidate; with the
statistics of the batch itself this costs nothing extra)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nasforge.data import ArrayData
from nasforge.oneshot.base import EVOLUTION_SETTINGS, BaseOneShot, SearchContext
from nasforge.oneshot.darts import supernet_accuracy
from nasforge.oneshot.supernet import Supernet
from nasforge.space import Arch
from nasforge.space.arch import Value

__all__ = ["SPOS"]

Path = dict[str, Any]


class SPOS(BaseOneShot):
    """Uniform single-path supernet training, then evolutionary search scored on the supernet.

    `population` archs per generation, `generations` rounds; each round keeps the `parents` best seen so far,
    and makes children by crossover (half) and per-label mutation with probability `mutation_prob`.
    Scores are accuracies on the first `eval_size` validation samples.
    """

    kind = "path"
    search_only = EVOLUTION_SETTINGS

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 64,
        learning_rate: float = 0.05,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        population: int = 20,
        generations: int = 5,
        parents: int = 5,
        mutation_prob: float = 0.2,
        eval_size: int = 1000,
        seed: int = 0,
        fixed: Mapping[str, Value] | str | None = None,
        device: str = "auto",
        augment: str = "none",
    ) -> None:
        super().__init__(epochs, batch_size, seed, fixed, device, augment)
        self._weight_settings(learning_rate, momentum, weight_decay)
        self._evolution_settings(population, generations, parents, mutation_prob, eval_size)

    def _init(self, ctx: SearchContext) -> None:
        self._weight_optimizer(ctx)

    def _epoch(self, ctx: SearchContext, epoch: int) -> dict[str, float]:
        supernet = ctx.supernet
        data = ctx.batches("train", epoch)
        supernet.train()
        total = 0.0
        for _ in range(ctx.steps):
            supernet.sample_path(ctx.rng)
            x, y = next(data)
            total += self._weight_step(ctx, F.cross_entropy(supernet(x), y))
        return {"train_loss": total / ctx.steps}

    def _derive(self, ctx: SearchContext) -> Arch:
        valid = ctx.valid.subset(torch.arange(min(self.eval_size, len(ctx.valid)), device=ctx.device))
        scored = self._evolve(ctx.supernet, valid, ctx.rng)
        best = max(scored.values(), key=lambda item: item[0])
        ctx.extra.update(derive_evaluated=float(len(scored)), derive_best_supernet_acc=best[0])
        return ctx.supernet._complete(best[1])

    def _evolve(self, supernet: Supernet, valid: ArrayData, rng: np.random.Generator) -> dict[str, tuple[float, Path]]:
        domains = supernet.state.domains
        scored: dict[str, tuple[float, Path]] = {}

        def score(path: Path) -> None:
            key = repr(sorted(path.items()))
            if key not in scored:
                supernet.set_path(path)
                scored[key] = (supernet_accuracy(supernet, valid), path)

        def random_path() -> Path:
            return {label: d[int(rng.integers(len(d)))] for label, d in domains.items()}

        for _ in range(self.population):
            score(random_path())
        for _ in range(self.generations - 1):
            top = [p for _, p in sorted(scored.values(), key=lambda item: -item[0])[: self.parents]]
            for i in range(self.population):
                a = top[int(rng.integers(len(top)))]
                if i % 2 and len(top) > 1:
                    b = top[int(rng.integers(len(top)))]
                    child = {label: (a if rng.random() < 0.5 else b)[label] for label in domains}
                else:
                    child = {
                        label: d[int(rng.integers(len(d)))] if rng.random() < self.mutation_prob else a[label]
                        for label, d in domains.items()
                    }
                score(child)
        return scored
