"""Gradient-based one-shot search: DARTS (Liu et al., 2019) and the variants that change its mixing or loss.

- `DARTS`: softmax-weighted supernet, bilevel optimisation alternating an architecture step on a validation
  batch with a weight step on a training batch; `order=2` uses the unrolled (second-order) gradient with
  the finite-difference Hessian-vector product of the paper; `warmup_epochs` train the weights alone first
  (as PC-DARTS and P-DARTS do), so that parametric candidates are trained before the architecture weights
  start to judge them;
- `GDAS` (Dong & Yang, 2019): one candidate per forward, drawn by straight-through hard Gumbel-softmax with
  a temperature annealed from `tau_max` to `tau_min`;
- `BetaDARTS` (Ye et al., 2022): DARTS plus the beta-decay regulariser `lambda * mean_label logsumexp(alpha)`,
  its weight rising linearly from 0 to `beta_weight` over the search;
- `DARTSPT` (Wang et al., 2021): DARTS training, then perturbation-based selection: each label takes the
  candidate whose removal hurts the supernet's validation accuracy most (alphas' magnitudes are not a
  reliable measure of a candidate's strength, which is why DARTS collapses onto parameter-free ops);
- `DrNAS` (Chen et al., 2021): mixing weights sampled from Dirichlet(elu(alpha) + 1) with a KL term to the
  uniform Dirichlet prior; the default one-shot method, with a third of its epochs as warm-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from nasforge.data import ArrayData
from nasforge.errors import ConfigError
from nasforge.oneshot.base import BaseOneShot, SearchContext, check_float, check_int
from nasforge.oneshot.supernet import Supernet
from nasforge.space import Arch
from nasforge.space.arch import Value

__all__ = ["DARTS", "DARTSPT", "GDAS", "BetaDARTS", "DrNAS", "supernet_accuracy"]


@torch.no_grad()
def supernet_accuracy(supernet: Supernet, data: ArrayData, batch_size: int = 500) -> float:
    """Accuracy of the supernet as it stands (train-mode BN: running statistics of a supernet are those of
    a mixture of paths, so each batch's own statistics are used instead, as in SPOS's recalibration)."""
    supernet.train()
    correct = 0
    for start in range(0, len(data), batch_size):
        logits = supernet(data.x[start : start + batch_size])
        correct += int((logits.argmax(1) == data.y[start : start + batch_size]).sum())
    return correct / max(len(data), 1)


class DARTS(BaseOneShot):
    """Differentiable architecture search on a supernet of the user's space.

    >>> from nasforge.zoo.nb201 import NB201Space
    >>> import torch
    >>> data = ArrayData(torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,)))
    >>> result = DARTS(epochs=1, batch_size=16).search(NB201Space(C=4, N=1, input_shape=(1, 8, 8)), data, data)
    >>> sorted(result.arch)
    ['1<-0', '2<-0', '2<-1', '3<-0', '3<-1', '3<-2']
    """

    kind = "softmax"

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 64,
        order: int = 1,
        learning_rate: float = 0.025,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        arch_learning_rate: float = 3e-4,
        arch_weight_decay: float = 1e-3,
        grad_clip: float = 5.0,
        warmup_epochs: int | None = 0,
        seed: int = 0,
        fixed: Mapping[str, Value] | str | None = None,
        device: str = "auto",
        augment: str = "none",
    ) -> None:
        super().__init__(epochs, batch_size, seed, fixed, device, augment)
        owner = type(self).__name__
        if order not in (1, 2) or isinstance(order, bool):
            raise ConfigError(f"`order` of {owner} must be 1 (first-order) or 2 (unrolled), but got {order!r}.")
        self.order = order
        self._weight_settings(learning_rate, momentum, weight_decay)
        self.arch_learning_rate = check_float(owner, "arch_learning_rate", arch_learning_rate, strict=True)
        self.arch_weight_decay = check_float(owner, "arch_weight_decay", arch_weight_decay)
        self.grad_clip = check_float(owner, "grad_clip", grad_clip, strict=True)
        # None: the first third of the epochs (PC-DARTS warms up for 15 of 50)
        self.warmup_epochs = (
            self.epochs // 3 if warmup_epochs is None else check_int(owner, "warmup_epochs", warmup_epochs, low=0)
        )
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(
                f"`warmup_epochs` of {owner} must be < epochs={self.epochs} (the architecture needs epochs too), "
                f"but got {warmup_epochs!r}."
            )

    # --- hooks of the variants ---------------------------------------------------------------------------
    def _regulariser(self, supernet: Supernet, progress: float) -> torch.Tensor:
        """Added to the validation loss of the architecture step; `progress` runs from 0 to 1."""
        return torch.zeros(())  # a zero-dimensional CPU tensor adds to a CUDA one

    def _before_epoch(self, supernet: Supernet, progress: float) -> None:
        pass

    # --- the bilevel loop ----------------------------------------------------------------------------------
    def _init(self, ctx: SearchContext) -> None:
        self._weight_optimizer(ctx, eta_min=1e-3)
        ctx.optimizers["arch"] = torch.optim.Adam(
            ctx.supernet.arch_parameters(),
            lr=self.arch_learning_rate,
            betas=(0.5, 0.999),
            weight_decay=self.arch_weight_decay,
        )

    def _epoch(self, ctx: SearchContext, epoch: int) -> dict[str, float]:
        supernet, steps = ctx.supernet, ctx.steps
        a_opt, sched = ctx.optimizers["arch"], ctx.optimizers["schedule"]
        train_it, valid_it = ctx.batches("train", epoch), ctx.batches("valid", epoch)
        self._before_epoch(supernet, epoch / self.epochs)
        supernet.train()
        total = 0.0
        search_arch = epoch >= self.warmup_epochs  # warm-up epochs train the weights only
        for step in range(steps):
            progress = (epoch * steps + step) / (steps * self.epochs)
            xt, yt = next(train_it)
            xv, yv = next(valid_it)
            if search_arch:
                a_opt.zero_grad(set_to_none=True)
                if self.order == 2:
                    self._unrolled_backward(supernet, xt, yt, xv, yv, float(sched.get_last_lr()[0]), progress)
                else:
                    loss = F.cross_entropy(supernet(xv), yv) + self._regulariser(supernet, progress)
                    loss.backward(inputs=supernet.arch_parameters())
                a_opt.step()
            total += self._weight_step(ctx, F.cross_entropy(supernet(xt), yt), self.grad_clip)
        return {"train_loss": total / steps, "valid_acc": supernet_accuracy(supernet, ctx.valid)}

    def _unrolled_backward(
        self,
        supernet: Supernet,
        xt: torch.Tensor,
        yt: torch.Tensor,
        xv: torch.Tensor,
        yv: torch.Tensor,
        lr: float,
        progress: float,
    ) -> None:
        """Set alpha.grad to the second-order DARTS gradient: dL_val(w', a)/da - lr * H dL_val/dw' with
        w' = w - lr * dL_train/dw (one virtual SGD step without momentum), H by finite differences."""
        weights = supernet.weight_parameters()
        alphas = supernet.arch_parameters()
        backup = [w.detach().clone() for w in weights]
        grads = torch.autograd.grad(F.cross_entropy(supernet(xt), yt), weights, allow_unused=True)
        with torch.no_grad():
            for w, g in zip(weights, grads):
                if g is not None:
                    w.sub_(lr * (g + self.weight_decay * w))
        val_loss = F.cross_entropy(supernet(xv), yv) + self._regulariser(supernet, progress)
        out = torch.autograd.grad(val_loss, alphas + weights, allow_unused=True)
        d_alpha, d_w = out[: len(alphas)], out[len(alphas) :]
        norm = torch.sqrt(sum((g.pow(2).sum() for g in d_w if g is not None), torch.zeros(())))
        eps = 0.01 / float(norm.clamp_min(1e-12))

        def train_alpha_grads(sign: float) -> list[torch.Tensor]:
            with torch.no_grad():
                for w, b, g in zip(weights, backup, d_w):
                    w.copy_(b + sign * eps * g if g is not None else b)
            gs = torch.autograd.grad(F.cross_entropy(supernet(xt), yt), alphas, allow_unused=True)
            return [g if g is not None else torch.zeros_like(a) for g, a in zip(gs, alphas)]

        g_plus, g_minus = train_alpha_grads(1.0), train_alpha_grads(-1.0)
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
            for a, da, gp, gm in zip(alphas, d_alpha, g_plus, g_minus):
                da = da if da is not None else torch.zeros_like(a)
                a.grad = da - lr * (gp - gm) / (2 * eps)


class BetaDARTS(DARTS):
    """DARTS with the beta-decay regulariser, which keeps the alphas' softmax from saturating on
    parameter-free operations (the collapse of plain DARTS)."""

    def __init__(self, *args: Any, beta_weight: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.beta_weight = check_float(type(self).__name__, "beta_weight", beta_weight)

    def _regulariser(self, supernet: Supernet, progress: float) -> torch.Tensor:
        alphas = supernet.arch_parameters()
        reg = torch.stack([torch.logsumexp(a, dim=-1) for a in alphas]).mean()
        return self.beta_weight * progress * reg


class DrNAS(DARTS):
    """DARTS with Dirichlet-distributed mixing weights, regularised towards the uniform Dirichlet.

    The default one-shot method (`oneshot`). Its defaults are the settings measured on a NAS-Bench-201 proxy
    on a CPU budget (a one-cell supernet on 1,500 Fashion-MNIST images at 16x16, the derived cell looked up in
    the CIFAR-10 table; docs/benchmarks.md, "One-shot on a NAS-Bench-201 proxy"): 12 epochs, the first third (`warmup_epochs=None`)
    training the weights only, then an architecture learning rate of 1e-2; without the warm-up the
    supernet settles on parameter-free operations before its convolutions have learnt anything.
    """

    kind = "dirichlet"

    def __init__(
        self,
        epochs: int = 12,
        batch_size: int = 64,
        order: int = 1,
        learning_rate: float = 0.025,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        arch_learning_rate: float = 1e-2,
        arch_weight_decay: float = 1e-3,
        grad_clip: float = 5.0,
        warmup_epochs: int | None = None,
        kl_weight: float = 1e-3,
        seed: int = 0,
        fixed: Mapping[str, Value] | str | None = None,
        device: str = "auto",
        augment: str = "none",
    ) -> None:
        super().__init__(
            epochs,
            batch_size,
            order,
            learning_rate,
            momentum,
            weight_decay,
            arch_learning_rate,
            arch_weight_decay,
            grad_clip,
            warmup_epochs,
            seed,
            fixed,
            device,
            augment,
        )
        self.kl_weight = check_float(type(self).__name__, "kl_weight", kl_weight)

    def _regulariser(self, supernet: Supernet, progress: float) -> torch.Tensor:
        kls = []
        for a in supernet.arch_parameters():
            q = torch.distributions.Dirichlet(F.elu(a) + 1)
            p = torch.distributions.Dirichlet(torch.ones_like(a))
            kls.append(torch.distributions.kl_divergence(q, p))
        return self.kl_weight * torch.stack(kls).sum()


class GDAS(DARTS):
    """Gradient-based search with one sampled candidate per forward (hard Gumbel-softmax)."""

    kind = "gumbel"

    def __init__(self, *args: Any, tau_max: float = 10.0, tau_min: float = 0.1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = type(self).__name__
        self.tau_max = check_float(owner, "tau_max", tau_max, strict=True)
        self.tau_min = check_float(owner, "tau_min", tau_min, strict=True)
        if self.tau_min > self.tau_max:
            raise ConfigError(f"`tau_min` of {owner} must be <= tau_max={tau_max}, but got {tau_min!r}.")

    def _before_epoch(self, supernet: Supernet, progress: float) -> None:
        supernet.state.tau = self.tau_max - (self.tau_max - self.tau_min) * progress


class DARTSPT(DARTS):
    """DARTS with perturbation-based selection (DARTS-PT, without the fine-tuning between edge decisions).

    Labels are decided one at a time, in a seeded random order; a decided label is fixed to its candidate
    before the next is measured. Accuracies are on the first `eval_size` validation samples.
    """

    def __init__(self, *args: Any, eval_size: int = 1000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eval_size = check_int(type(self).__name__, "eval_size", eval_size)

    @torch.no_grad()
    def _derive(self, ctx: SearchContext) -> Arch:
        supernet, valid = ctx.supernet, ctx.valid
        data = valid.subset(torch.arange(min(self.eval_size, len(valid)), device=valid.x.device))
        order = torch.randperm(len(supernet.labels), generator=torch.Generator().manual_seed(self.seed))
        values = {}
        for k in order.tolist():
            label = supernet.labels[k]
            alpha = supernet.state.alphas[label]
            saved = alpha.detach().clone()
            accs = []
            for i in range(alpha.numel()):
                alpha.copy_(saved)
                alpha[i] = -1e9  # remove candidate i; softmax renormalises over the others
                accs.append(supernet_accuracy(supernet, data))
            best = int(torch.tensor(accs).argmin())
            alpha.fill_(-1e9)
            alpha[best] = 0.0
            values[label] = supernet.state.domains[label][best]
        return supernet._complete(values)
