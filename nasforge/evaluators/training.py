"""The training loop shared by the classification evaluator and the export of the final model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.data import ArrayData
from nasforge.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")
AUGMENTS = ("none", "flip", "specaugment")


@dataclass(frozen=True)
class TrainConfig:
    """How one network is trained. Every field can also be searched: an arch value with the same label
    (`learning_rate`, `batch_size`, ...) overrides the evaluator's setting."""

    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 0.1
    weight_decay: float = 5e-4
    momentum: float = 0.9
    optimizer: str = "sgd"
    schedule: str = "onecycle"
    augment: str = "flip"
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            ("epochs", isinstance(self.epochs, int) and self.epochs >= 1, "an int >= 1"),
            ("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1, "an int >= 1"),
            ("learning_rate", _pos(self.learning_rate), "a number > 0"),
            ("weight_decay", _nonneg(self.weight_decay), "a number >= 0"),
            ("momentum", _nonneg(self.momentum) and self.momentum < 1, "a number in [0, 1)"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}"),
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("augment", self.augment in AUGMENTS, f"one of {AUGMENTS}"),
            ("label_smoothing", _nonneg(self.label_smoothing) and self.label_smoothing < 1, "in [0, 1)"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise ConfigError(f"Training setting `{name}` must be {what}, but got {getattr(self, name)!r}.")


def _pos(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _nonneg(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


class NonFiniteLoss(RuntimeError):
    pass


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)  # no weight decay on BN and biases
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.learning_rate, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
    return torch.optim.AdamW(groups, lr=cfg.learning_rate)


def make_schedule(
    opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    if cfg.schedule == "onecycle" and total_steps >= 8:  # torch's OneCycleLR divides by zero at 4 steps
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.learning_rate, total_steps=max(total_steps, 1), pct_start=0.25
        )
    if cfg.schedule in ("cosine", "onecycle"):  # too few steps for a warm-up: cosine decay only
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total_steps, 1))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)


def augment_batch(x: torch.Tensor, kind: str, gen: torch.Generator) -> torch.Tensor:
    """`flip`: mirror images (N, C, H, W) left-right at random. `specaugment`: on spectrogram-like input
    (N, ..., features, time), shift each sample in time by up to 1/8 of its length and zero one random
    band of up to 1/8 of the features and one of up to 1/8 of the frames (SpecAugment, Park et al. 2019)."""
    if kind == "flip" and x.ndim == 4:
        flip = torch.rand(x.shape[0], generator=gen, device="cpu").to(x.device) < 0.5
        return torch.where(flip[:, None, None, None], x.flip(3), x)
    if kind == "specaugment" and x.ndim >= 3:
        return _spec_augment(x, gen)
    return x


def _spec_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n, f, t = x.shape[0], x.shape[-2], x.shape[-1]

    def draw(high: int) -> torch.Tensor:
        return torch.randint(0, max(high, 1), (n,), generator=gen, device="cpu").to(x.device)

    # shift: sample i reads frame j - shift_i, zeros (the normalised mean) where that falls outside
    max_shift = t // 8
    shift = draw(2 * max_shift + 1) - max_shift
    frames = torch.arange(t, device=x.device)
    src = frames[None, :] - shift[:, None]
    inside = (src >= 0) & (src < t)
    index = src.clamp(0, t - 1).view(n, *([1] * (x.ndim - 2)), t).expand_as(x)
    out = torch.gather(x, -1, index) * inside.view(n, *([1] * (x.ndim - 2)), t)

    def band(size: int, high: int) -> torch.Tensor:
        width = draw(high // 8 + 1)
        start = (torch.rand(n, generator=gen, device="cpu").to(x.device) * (size - width + 1)).long()
        pos = torch.arange(size, device=x.device)[None, :]
        return (pos >= start[:, None]) & (pos < (start + width)[:, None])

    keep = ~(band(f, f)[:, :, None] | band(t, t)[:, None, :])
    return out * keep.view(n, *([1] * (x.ndim - 3)), f, t)


@torch.no_grad()
def evaluate_model(model: nn.Module, data: ArrayData, device: torch.device, batch_size: int = 1000) -> dict[str, float]:
    """Accuracy and mean cross-entropy of `model` on `data`."""
    model.eval()
    correct, loss_sum = 0, 0.0
    for start in range(0, len(data), batch_size):
        xb = data.x[start : start + batch_size].to(device, non_blocking=True)
        yb = data.y[start : start + batch_size].to(device, non_blocking=True)
        logits = model(xb)
        loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    n = max(len(data), 1)
    return {"acc": correct / n, "loss": loss_sum / n}


def fit(
    model: nn.Module,
    train: ArrayData,
    cfg: TrainConfig,
    device: torch.device,
    seed: int = 0,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, float]:
    """Train `model` in place; `on_epoch(epoch, metrics)` after each epoch (evaluate there if needed).

    Raises `NonFiniteLoss` when the loss becomes NaN or infinite.
    """
    gen = torch.Generator().manual_seed(seed)
    model.to(device)
    opt = make_optimizer(model, cfg)
    n = len(train)
    steps_per_epoch = max(1, n // cfg.batch_size)  # drop the last partial batch: stable BN statistics
    sched = make_schedule(opt, cfg, steps_per_epoch * cfg.epochs)
    x_all, y_all = train.x.to(device), train.y.to(device)
    start = time.perf_counter()
    train_loss = float("nan")
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).to(device)
        total, count = 0.0, 0
        for step in range(steps_per_epoch):
            idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            xb = augment_batch(x_all[idx], cfg.augment, gen)
            loss = F.cross_entropy(model(xb), y_all[idx], label_smoothing=cfg.label_smoothing)
            if not torch.isfinite(loss.detach()):
                raise NonFiniteLoss(f"training loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        train_loss = total / max(count, 1)
        if on_epoch is not None:
            on_epoch(epoch + 1, {"train_loss": train_loss})
    return {"train_loss": train_loss, "train_time": time.perf_counter() - start}
