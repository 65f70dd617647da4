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
from nasforge.evaluators.threads import ThreadTuner

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


def memory_format(x: torch.Tensor, device: torch.device) -> torch.memory_format:
    """Channels-last for image batches on the CPU, where training steps run faster in it (a median 1.3 times
    over the `cnn` space's archs: `benchmarks/cpu_training_speed.py`); the default layout otherwise."""
    return torch.channels_last if x.ndim == 4 and device.type == "cpu" else torch.contiguous_format


def set_layout(model: nn.Module, fmt: torch.memory_format) -> None:
    model.to(memory_format=fmt)  # type: ignore[call-overload]  # torch's stubs omit the keyword


@torch.no_grad()
def evaluate_model(model: nn.Module, data: ArrayData, device: torch.device, batch_size: int = 1000) -> dict[str, float]:
    """Accuracy and mean cross-entropy of `model` on `data`."""
    model.eval()
    fmt = memory_format(data.x, device)
    set_layout(model, fmt)
    correct, loss_sum = 0, 0.0
    for start in range(0, len(data), batch_size):
        xb = data.x[start : start + batch_size].to(device, non_blocking=True).contiguous(memory_format=fmt)
        yb = data.y[start : start + batch_size].to(device, non_blocking=True)
        logits = model(xb)
        loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    set_layout(model, torch.contiguous_format)  # what export, tracing and users expect
    n = max(len(data), 1)
    return {"acc": correct / n, "loss": loss_sum / n}


def progress_lr(kind: str, progress: float) -> float:
    """The learning-rate factor (of the peak rate) at `progress` in [0, 1] of a training run: the shape of
    `make_schedule`'s schedules as a function of progress, for runs whose length is wall time, not steps."""
    p = min(max(progress, 0.0), 1.0)
    if kind == "onecycle":  # OneCycleLR's shape: cosine warm-up from 1/25 over a quarter, cosine decay to ~0
        if p < 0.25:
            return 0.04 + 0.96 * (1 - math.cos(math.pi * p / 0.25)) / 2
        return 4e-6 + (1 - 4e-6) * (1 + math.cos(math.pi * (p - 0.25) / 0.75)) / 2
    if kind == "cosine":
        return (1 + math.cos(math.pi * p)) / 2
    return 1.0


def fit(
    model: nn.Module,
    train: ArrayData,
    cfg: TrainConfig,
    device: torch.device,
    seed: int = 0,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    time_budget: float | None = None,
) -> dict[str, float]:
    """Train `model` in place; `on_epoch(epoch, metrics)` after each epoch (evaluate there if needed), with
    `metrics["last"]` 1.0 on the last call.

    With `time_budget` (seconds) the run is as long as the budget, at most `cfg.epochs` epochs: the
    learning rate follows the schedule's shape over wall time (`progress_lr`), so it has decayed when the
    time is up, however fast this machine is today, and the last epoch may be partial. The epoch time is
    measured on the first steps (`estimated_epoch_time`) and on the whole epochs (`epoch_time`), and on the
    CPU the thread count is the faster of the process's and one, checked now and again (`ThreadTuner`: a busy
    machine can stall a process's threads); `threads` is the count most steps ran with.

    Raises `NonFiniteLoss` when the loss becomes NaN or infinite.
    """
    gen = torch.Generator().manual_seed(seed)
    model.to(device)
    opt = make_optimizer(model, cfg)
    n = len(train)
    steps_per_epoch = max(1, n // cfg.batch_size)  # drop the last partial batch: stable BN statistics
    total_steps = steps_per_epoch * cfg.epochs
    timed = time_budget is not None
    budget = math.inf if time_budget is None else float(time_budget)
    sched = None if timed else make_schedule(opt, cfg, total_steps)
    peaks = [group["lr"] for group in opt.param_groups]
    x_all, y_all = train.x.to(device), train.y.to(device)
    fmt = memory_format(x_all, device)
    set_layout(model, fmt)
    # a run timed by the wall clock is not reproducible anyway: it may also change threads to keep its speed
    tuner = ThreadTuner() if timed and device.type == "cpu" else None
    start = time.perf_counter()
    train_loss = float("nan")
    info: dict[str, float] = {}
    probe = min(max(10, steps_per_epoch // 20), steps_per_epoch)  # steps that time the first epoch
    probe_start = start
    # the steps before pay for allocation and warm-up, and the thread tuner's first probes run at both speeds
    probe_from = tuner.settled_after if tuner is not None and tuner.active else 2
    done = 0  # steps taken
    epoch_times: list[float] = []  # training time of each whole epoch, evaluations between them excluded
    try:
        for epoch in range(cfg.epochs):
            epoch_start = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=gen).to(device)
            total, count = 0.0, 0
            out_of_time = False
            for step in range(steps_per_epoch):
                if timed:
                    elapsed = time.perf_counter() - start
                    progress = max(done / total_steps, elapsed / budget)
                    if progress >= 1.0 and done > 0:
                        out_of_time = True
                        break
                    factor = progress_lr(cfg.schedule, progress)
                    for group, peak in zip(opt.param_groups, peaks):
                        group["lr"] = peak * factor
                if tuner is not None:
                    tuner.before_step()
                idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                xb = augment_batch(x_all[idx], cfg.augment, gen).contiguous(memory_format=fmt)
                loss = F.cross_entropy(model(xb), y_all[idx], label_smoothing=cfg.label_smoothing)
                if not torch.isfinite(loss.detach()):
                    raise NonFiniteLoss(f"training loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                if tuner is not None:
                    tuner.after_step()
                done += 1
                total += float(loss.detach()) * len(idx)
                count += len(idx)
                if done == probe_from:
                    probe_start = time.perf_counter()
                elif done == probe_from + probe and "estimated_epoch_time" not in info:
                    info["estimated_epoch_time"] = (time.perf_counter() - probe_start) / probe * steps_per_epoch
            if count:
                train_loss = total / count
            if not out_of_time:
                epoch_times.append(time.perf_counter() - epoch_start)
                info["epoch_time"] = sum(epoch_times) / len(epoch_times)
                # an epoch too short for the timing window: the whole first epoch is the estimate
                info.setdefault("estimated_epoch_time", epoch_times[0])
            last = out_of_time or epoch + 1 == cfg.epochs or time.perf_counter() - start >= budget
            if on_epoch is not None and (count or last):
                on_epoch(epoch + 1, {**info, "train_loss": train_loss, "last": 1.0 if last else 0.0})
                set_layout(model, fmt)  # an evaluation there hands the model back in the default layout
            if last:
                break
    finally:
        set_layout(model, torch.contiguous_format)  # what export, tracing and users expect
        if tuner is not None:
            tuner.restore()
    if tuner is not None:
        info["threads"] = float(tuner.most_used)
    info.update(train_loss=train_loss, train_time=time.perf_counter() - start, epochs=done / steps_per_epoch)
    return info
