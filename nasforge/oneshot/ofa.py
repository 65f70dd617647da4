"""Once-for-All / BigNAS: train one weight-entangled supernet of a space (widths, kernels, depths and layer
choices all shared), then search it for the best subnet under a parameter, FLOPs or latency budget.

Training follows BigNAS's sandwich rule: each step trains the largest subnet on the labels, then the smallest
and `random_subnets` uniformly drawn ones on the largest's predictions (in-place distillation), and takes
one SGD step on the summed gradients. With `progressive_epochs`, the random subnets start close to the
largest and move away from it step by step (a generic form of OFA's progressive shrinking). The search is evolutionary (as SPOS's), over subnets within the
budget only, each scored by its validation accuracy with its own recalibrated batch-norm statistics.
Train once, specialise many: `OFA.specialise` searches a trained supernet's checkpoint again under another
budget (another deployment target) without training it again.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nasforge.cost.flops import count_flops
from nasforge.cost.latency import LatencySetting
from nasforge.cost.meter import LatencyMeter
from nasforge.data import ArrayData
from nasforge.errors import ConfigError, StorageError
from nasforge.oneshot.base import EVOLUTION_SETTINGS, BaseOneShot, OneShotResult, SearchContext, batches, check_int
from nasforge.oneshot.entangled import EntangledSupernet
from nasforge.oneshot.subnets import sample_near, subnet_accuracy
from nasforge.space import Arch, ModelSpace
from nasforge.space.arch import Value

__all__ = ["OFA", "sample_near", "subnet_accuracy"]  # the last two live in nasforge.oneshot.subnets

#: random stream (see `SearchContext.generator`) of the batches that recalibrate batch norm while searching
_CALIBRATION_STREAM = 7


def _check_budget(owner: str, name: str, value: Any) -> int | None:
    if value is None:
        return None
    return check_int(owner, name, value)


def _check_latency_budget(owner: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"`max_subnet_latency_ms` of {owner} must be milliseconds > 0 (or None for no bound), but got {value!r}."
        )
    return float(value)


class OFA(BaseOneShot):
    """A weight-entangled supernet trained by the sandwich rule, then searched under a budget.

    Training: `random_subnets` random subnets besides the largest and the smallest per step; `distill`
    teaches every subnet but the largest from the largest's predictions (else from the labels); without
    `sandwich` each step trains the `random_subnets` drawn subnets alone, on the labels (SPOS's uniform single
    paths: `SPOS` on a space of shared sizes trains so);
    `kernel_transform` learns OFA's kernel transform matrices for kernel-size choices. `progressive_epochs`
    (0: off) ramps the random subnets in: during the first `progressive_epochs` epochs each of their decisions
    is drawn at random with a probability that grows linearly per step from 0 to 1, and otherwise takes the
    largest subnet's value; from then on they are drawn uniformly. `shortcut_epochs` (0: off) keeps an
    identity path around every block whose residual a trained subnet leaves out (`nasforge.ops.residual_if`),
    its weight falling linearly per step from 1 to 0 over the first `shortcut_epochs` epochs
    (`nasforge.oneshot.shortcut`); the subnets scored and extracted never have it. Separately trained operations of one
    `LayerChoice` (conv, separable, MBConv) do not train together when drawn independently per block from
    the first step: each produces features in its own channel basis, which the next block cannot read, and
    without a shortcut the error compounds over the blocks (docs/supernet.md, "Why the subnets score near
    chance").
    Search: `population` subnets per generation for `generations` rounds, children by crossover and per
    decision mutation (`mutation_prob`) of the `parents` best; each subnet is scored on the first `eval_size`
    validation samples after recalibrating its batch norms on `calib_batches` training batches. `max_subnet_params`,
    `max_subnet_flops` (per sample, `nasforge.cost.count_flops`) and `max_subnet_latency_ms` (the median of
    a subnet measured as `latency` says, a `nasforge.cost.LatencySetting` or its fields: by default one
    image, one thread, eager PyTorch on the CPU) bound the subnets searched. These and the evolution's
    settings steer only the search on the trained supernet (`search_only`), so `specialise` can search one
    trained supernet again for each deployment target.

    >>> from nasforge.data import ArrayData
    >>> from nasforge.zoo.cnn import SmallImageCNN
    >>> space = SmallImageCNN(depths=(1, 2), widths=((8, 16),), stem_widths=(8,), input_shape=(1, 8, 8))
    >>> data = ArrayData(torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,)))
    >>> method = OFA(epochs=1, batch_size=16, population=4, generations=2, max_subnet_params=3000, device="cpu")
    >>> result = method.search(space, data, data)
    >>> result.info["derive_params"] <= 3000
    True
    """

    kind = "path"
    bn_affine = True
    search_only = (
        *EVOLUTION_SETTINGS,
        "calib_batches",
        "max_subnet_params",
        "max_subnet_flops",
        "max_subnet_latency_ms",
        "latency",
    )

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 64,
        learning_rate: float = 0.05,
        momentum: float = 0.9,
        weight_decay: float = 3e-5,
        random_subnets: int = 2,
        distill: bool = True,
        sandwich: bool = True,
        kernel_transform: bool = False,
        progressive_epochs: int = 0,
        shortcut_epochs: int = 0,
        population: int = 20,
        generations: int = 5,
        parents: int = 5,
        mutation_prob: float = 0.2,
        eval_size: int = 1000,
        calib_batches: int = 4,
        max_subnet_params: int | None = None,
        max_subnet_flops: int | None = None,
        seed: int = 0,
        fixed: Mapping[str, Value] | str | None = None,
        device: str = "auto",
        augment: str = "none",
        max_subnet_latency_ms: float | None = None,
        latency: Mapping[str, Any] | LatencySetting | None = None,
    ) -> None:
        super().__init__(epochs, batch_size, seed, fixed, device, augment)
        owner = type(self).__name__
        self._weight_settings(learning_rate, momentum, weight_decay)
        self.random_subnets = check_int(owner, "random_subnets", random_subnets, low=0)
        for name, flag in (("distill", distill), ("kernel_transform", kernel_transform), ("sandwich", sandwich)):
            if not isinstance(flag, bool):
                raise ConfigError(f"`{name}` of {owner} must be true or false, but got {flag!r}.")
        if not sandwich and (distill or self.random_subnets < 1):
            raise ConfigError(
                f"Without the sandwich rule {owner} trains only random subnets, on the labels: it needs "
                f"`random_subnets` >= 1 and `distill` false (no largest subnet teaches), but got random_subnets="
                f"{self.random_subnets}, distill={distill}."
            )
        self.distill = distill
        self.sandwich = sandwich
        self.kernel_transform = kernel_transform
        for name, value in (("progressive_epochs", progressive_epochs), ("shortcut_epochs", shortcut_epochs)):
            if check_int(owner, name, value, low=0) > self.epochs:
                raise ConfigError(
                    f"`{name}` of {owner} must be at most `epochs` ({self.epochs}), but got {value}; lower it or "
                    "train for more epochs."
                )
        self.progressive_epochs = progressive_epochs
        self.shortcut_epochs = shortcut_epochs
        self._evolution_settings(population, generations, parents, mutation_prob, eval_size)
        self.calib_batches = check_int(owner, "calib_batches", calib_batches)
        self.max_subnet_params = _check_budget(owner, "max_subnet_params", max_subnet_params)
        self.max_subnet_flops = _check_budget(owner, "max_subnet_flops", max_subnet_flops)
        self.max_subnet_latency_ms = _check_latency_budget(owner, max_subnet_latency_ms)
        self.latency = dataclasses.asdict(LatencySetting.parse(latency))  # plain fields: settings are JSON
        self._latencies: dict[str, float] = {}  # ms by subnet id, measured once per search

    def supernet(self, space: ModelSpace) -> EntangledSupernet:
        return EntangledSupernet(space, fixed=self.fixed, kernel_transform=self.kernel_transform)

    # --- training: the sandwich rule ---------------------------------------------------------------------------
    def _init(self, ctx: SearchContext) -> None:
        self._weight_optimizer(ctx)
        supernet = self._entangled(ctx)
        self._largest = supernet.extreme(largest=True)
        self._smallest = supernet.extreme(largest=False)
        self._input_shape = tuple(ctx.train.x.shape[1:])
        if not self._within(supernet, self._smallest)[0]:
            params, flops = self._cost(supernet, self._smallest)
            ms = f" and {self._latency(supernet, self._smallest):.3g} ms" if self.max_subnet_latency_ms else ""
            raise ConfigError(
                f"No subnet fits the budget of {type(self).__name__} (max_subnet_params={self.max_subnet_params}, "
                f"max_subnet_flops={self.max_subnet_flops}, max_subnet_latency_ms={self.max_subnet_latency_ms}): "
                f"the smallest has {params} parameters, {flops} FLOPs{ms}. Raise the budget."
            )

    def _entangled(self, ctx: SearchContext) -> EntangledSupernet:
        supernet = ctx.supernet
        if not isinstance(supernet, EntangledSupernet):
            raise ConfigError(f"{type(self).__name__} trains an EntangledSupernet, but got {type(supernet).__name__}.")
        return supernet

    def _epoch(self, ctx: SearchContext, epoch: int) -> dict[str, float]:
        supernet = self._entangled(ctx)
        data = ctx.batches("train", epoch)
        weights = supernet.weight_parameters()
        opt = ctx.optimizers["weights"]
        supernet.train()
        total, taught = 0.0, 0.0
        for step in range(ctx.steps):
            spread = self.spread(epoch * ctx.steps + step, ctx.steps)
            shortcut = self.shortcut_weight(epoch * ctx.steps + step, ctx.steps)
            x, y = next(data)
            opt.zero_grad(set_to_none=True)
            drawn = [sample_near(supernet, self._largest, spread, ctx.rng) for _ in range(self.random_subnets)]
            students, soft = drawn, None
            if self.sandwich:
                logits = supernet.run(self._largest, x, shortcut=shortcut)
                loss = F.cross_entropy(logits, y)
                loss.backward(inputs=weights)
                total += float(loss.detach())
                soft = F.softmax(logits.detach(), dim=1)
                students = [self._smallest, *drawn]
            for arch in students:
                out = supernet.run(arch, x, shortcut=shortcut)
                if soft is not None and self.distill:
                    student_loss = -(soft * F.log_softmax(out, dim=1)).sum(1).mean()
                else:
                    student_loss = F.cross_entropy(out, y)
                student_loss.backward(inputs=weights)
                taught += float(student_loss.detach()) / len(students)
            if not self.sandwich:  # no largest subnet: the training loss is the drawn subnets'
                total = taught
            torch.nn.utils.clip_grad_norm_(weights, 5.0)
            opt.step()
            ctx.optimizers["schedule"].step()
        return {
            "train_loss": total / ctx.steps,
            "student_loss": taught / ctx.steps,
            "spread": spread,
            "shortcut": shortcut,
        }

    def spread(self, step: int, steps_per_epoch: int) -> float:
        """Probability that a random subnet of training step `step` (counted from 0 over the whole search)
        takes a decision at random rather than the largest's value: 1 without `progressive_epochs`."""
        ramp = self.progressive_epochs * steps_per_epoch
        return 1.0 if ramp == 0 else min(1.0, (step + 1) / ramp)

    def shortcut_weight(self, step: int, steps_per_epoch: int) -> float:
        """Weight of the identity path that a block whose residual is off keeps at training step `step`
        (counted from 0 over the whole search): from 1 falling linearly to 0 at the end of epoch
        `shortcut_epochs`, and 0 from then on (always 0 without `shortcut_epochs`)."""
        ramp = self.shortcut_epochs * steps_per_epoch
        return 0.0 if ramp == 0 else max(0.0, 1.0 - (step + 1) / ramp)

    # --- specialisation: evolution over the subnets within the budget ------------------------------------------
    def _cost(self, supernet: EntangledSupernet, arch: Arch, flops: bool = True) -> tuple[int, int]:
        """Parameters and FLOPs (0 unless `flops`) of subnet `arch`, counted on the meta device."""
        with torch.device("meta"):
            net = supernet.space.freeze(arch)
        count = count_flops(net, self._input_shape) if flops else 0
        return sum(p.numel() for p in net.parameters()), count

    def _latency(self, supernet: EntangledSupernet, arch: Arch) -> float:
        """Median milliseconds of subnet `arch` as `latency` says (measured once per subnet and search)."""
        if arch.id not in self._latencies:
            meter = LatencyMeter(self._input_shape, self.latency, cache=False)
            self._latencies[arch.id] = meter(supernet.space, arch)
        return self._latencies[arch.id]

    def _within(self, supernet: EntangledSupernet, arch: Arch) -> tuple[bool, int, int]:
        if self.max_subnet_params is None and self.max_subnet_flops is None and self.max_subnet_latency_ms is None:
            return True, 0, 0
        params, flops = self._cost(supernet, arch, flops=self.max_subnet_flops is not None)
        ok = (self.max_subnet_params is None or params <= self.max_subnet_params) and (
            self.max_subnet_flops is None or flops <= self.max_subnet_flops
        )
        if ok and self.max_subnet_latency_ms is not None:  # measured last: it is the costly one
            ok = self._latency(supernet, arch) <= self.max_subnet_latency_ms
        return ok, params, flops

    def score(self, supernet: EntangledSupernet, arch: Arch, ctx: SearchContext) -> float:
        """Validation accuracy of subnet `arch` on the first `eval_size` samples, after recalibrating its batch
        norms on `calib_batches` training batches (the same batches for every subnet)."""
        gen = ctx.generator(self.epochs, _CALIBRATION_STREAM)
        stream = batches(ctx.train, self.batch_size, gen)
        calibration = [next(stream)[0] for _ in range(self.calib_batches)]
        valid = ctx.valid.subset(torch.arange(min(self.eval_size, len(ctx.valid)), device=ctx.device))
        return subnet_accuracy(supernet, arch, calibration, valid)

    def load_supernet(self, space: ModelSpace, checkpoint: str | Path) -> EntangledSupernet:
        """The supernet a search with these settings trained, read from its checkpoint: to score, extract and
        specialise subnets for other budgets without training again."""
        supernet = self.supernet(space)
        try:
            payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
            supernet.load_state_dict(payload["supernet"])
        except Exception as exc:
            raise StorageError(
                f"Cannot load an {type(self).__name__} supernet of this space from {str(checkpoint)!r} "
                f"({type(exc).__name__}: {exc}); give the checkpoint of a search with the same space and settings."
            ) from exc
        return supernet

    def _feasible(self, supernet: EntangledSupernet, make: Callable[[], Arch]) -> Arch | None:
        """A subnet from `make` within the budget, trying up to 50 times (None if none fits)."""
        for _ in range(50):
            arch = make()
            if self._within(supernet, arch)[0]:
                return arch
        return None

    def _derive(self, ctx: SearchContext) -> Arch:
        supernet = self._entangled(ctx)
        rng = ctx.rng
        scored: dict[str, tuple[float, Arch]] = {}

        def add(arch: Arch | None) -> None:
            if arch is not None and arch.id not in scored:
                scored[arch.id] = (self.score(supernet, arch, ctx), arch)

        add(self._smallest)
        if self._within(supernet, self._largest)[0]:
            add(self._largest)
        for _ in range(self.population):
            add(self._feasible(supernet, lambda: supernet.sample(rng)))
        labels = supernet._search_labels
        for _ in range(self.generations - 1):
            top = [a for _, a in sorted(scored.values(), key=lambda item: -item[0])[: self.parents]]
            for i in range(self.population):
                a = top[int(rng.integers(len(top)))]
                b = top[int(rng.integers(len(top)))]
                if i % 2 and len(top) > 1:

                    def child(a: Arch = a, b: Arch = b) -> Arch:
                        picks = {k: (a if rng.random() < 0.5 else b).get(k, a.get(k)) for k in {*a, *b}}
                        return supernet.arch_of({k: v for k, v in picks.items() if v is not None}, rng)
                else:

                    def child(a: Arch = a, b: Arch = b) -> Arch:
                        keep = {k: v for k, v in a.items() if k not in labels or rng.random() >= self.mutation_prob}
                        return supernet.arch_of(keep, rng)

                add(self._feasible(supernet, child))
        accuracy, best = max(scored.values(), key=lambda item: item[0])
        params, flops = self._cost(supernet, best)
        ctx.extra.update(
            derive_evaluated=float(len(scored)),
            derive_best_supernet_acc=accuracy,
            derive_params=float(params),
            derive_flops=float(flops),
        )
        if self.max_subnet_latency_ms is not None:
            ctx.extra["derive_latency_ms"] = self._latency(supernet, best)
        return best

    # --- train once, specialise many ---------------------------------------------------------------------------
    def specialise(
        self, space: ModelSpace, train: ArrayData, valid: ArrayData, checkpoint: str | Path, **target: Any
    ) -> OneShotResult:
        """Search the supernet that this method trained (its finished `checkpoint`) again, with the
        search-only settings of `target` changed (`max_subnet_params`, `max_subnet_flops`,
        `max_subnet_latency_ms`, `latency`, the evolution's settings): one deployment target each, no
        training. `train` and `valid` must be the search's data (batch norms are recalibrated on `train`).
        For three latency targets: `[method.specialise(space, train, valid, "supernet.pt",
        max_subnet_latency_ms=ms).arch for ms in (0.5, 1.0, 2.0)]`.
        """
        owner = type(self).__name__
        unknown = sorted(set(target) - set(self.search_only))
        if unknown:
            raise ConfigError(
                f"{owner}.specialise changes only the search's settings ({', '.join(self.search_only)}), but got "
                f"{', '.join(unknown)}; a change of the training needs a new search."
            )
        done = self.checkpoint_epochs(checkpoint)
        if done < self.epochs:
            raise StorageError(
                f"The supernet checkpoint {str(checkpoint)!r} holds {done} of {self.epochs} epochs; finish its "
                f"search first ({owner}.search with the same checkpoint continues it)."
            )
        names = set(inspect.signature(type(self)).parameters)
        settings = {k: v for k, v in self.settings().items() if k in names}
        method = type(self)(**{**settings, **target, "device": self.device})
        result = method.search(space, train, valid, checkpoint=checkpoint)
        assert result is not None  # no epoch is left to stop before
        return result
