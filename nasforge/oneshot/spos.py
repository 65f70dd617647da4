"""Single Path One-Shot (Guo et al., 2020): train a supernet one uniformly sampled path per step, then
search it by evolution, scoring each arch by the accuracy of its path of the trained supernet.

On a space of `LayerChoice`s (a cell), scoring uses each validation batch's own BN statistics (the paper
recalibrates BN per candidate; with the statistics of the batch itself this costs nothing extra). On a space
whose widths, kernel sizes or depths are decisions, the supernet shares them (`EntangledSupernet`, as `OFA`'s)
and each scored subnet's batch norms are recalibrated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nasforge.data import ArrayData
from nasforge.errors import ConfigError
from nasforge.oneshot.base import EVOLUTION_SETTINGS, PIN_DEFAULTS, BaseOneShot, SearchContext, check_int
from nasforge.oneshot.darts import supernet_accuracy
from nasforge.oneshot.entangled import EntangledSupernet
from nasforge.oneshot.ofa import OFA
from nasforge.oneshot.supernet import Supernet
from nasforge.space import Arch, ModelSpace
from nasforge.space.arch import Value

__all__ = ["SPOS"]

Path = dict[str, Any]


class SPOS(BaseOneShot):
    """Uniform single-path supernet training, then evolutionary search scored on the supernet.

    `population` archs per generation, `generations` rounds; each round keeps the `parents` best seen so far,
    and makes children by crossover (half) and per-label mutation with probability `mutation_prob`.
    Scores are accuracies on the first `eval_size` validation samples.

    `shared`: on a space whose widths, kernel sizes or depths are decisions (`choice`, `Repeat`), SPOS trains
    the weight-entangled supernet that `OFA` trains (a subnet's layers are slices of the widest, its kernels
    the centres of the largest, its blocks the first of the deepest stack), one uniformly drawn subnet per
    step on the labels (`OFA` without the sandwich rule), and its evolution scores subnets with their batch
    norms recalibrated on `calib_batches` training batches: the arch found chooses its widths, kernels and
    depths too. 'auto' (the default) does so when the space has such decisions that `fixed` does not pin;
    True always; False never (such decisions must then be pinned).
    """

    kind = "path"
    search_only = (*EVOLUTION_SETTINGS, "calib_batches")

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
        shared: bool | str = "auto",
        calib_batches: int = 4,
    ) -> None:
        super().__init__(epochs, batch_size, seed, fixed, device, augment)
        self._weight_settings(learning_rate, momentum, weight_decay)
        self._evolution_settings(population, generations, parents, mutation_prob, eval_size)
        if shared not in (True, False, "auto"):
            raise ConfigError(
                "`shared` of SPOS says whether its supernet shares widths, kernel sizes and depths: true, false or "
                f"'auto' (when the space has such decisions), but got {shared!r}."
            )
        self.shared = shared
        self.calib_batches = check_int("SPOS", "calib_batches", calib_batches)
        # the entangled supernet's training (one uniform subnet per step, on the labels) and search
        self._entangled = OFA(
            epochs, batch_size, learning_rate, momentum, weight_decay, random_subnets=1, distill=False,
            sandwich=False, population=population, generations=generations, parents=parents,
            mutation_prob=mutation_prob, eval_size=eval_size, calib_batches=calib_batches, seed=seed, fixed=fixed,
            device=device, augment=augment,
        )  # fmt: skip

    def shares(self, space: ModelSpace) -> bool:
        """Whether the search of `space` trains the weight-entangled supernet (see `shared`)."""
        if self.shared != "auto":
            return bool(self.shared)
        if self.fixed == PIN_DEFAULTS:
            return False
        pinned = self.fixed if isinstance(self.fixed, Mapping) else {}
        return any(d.kind in ("choice", "repeat") and d.label not in pinned for d in space.decisions)

    def supernet(self, space: ModelSpace) -> Supernet | EntangledSupernet:
        return self._entangled.supernet(space) if self.shares(space) else super().supernet(space)

    def _init(self, ctx: SearchContext) -> None:
        if isinstance(ctx.supernet, EntangledSupernet):
            self._entangled._init(ctx)
        else:
            self._weight_optimizer(ctx)

    def _epoch(self, ctx: SearchContext, epoch: int) -> dict[str, float]:
        if isinstance(ctx.supernet, EntangledSupernet):
            return self._entangled._epoch(ctx, epoch)
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
        if isinstance(ctx.supernet, EntangledSupernet):
            return self._entangled._derive(ctx)
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
