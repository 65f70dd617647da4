"""What every one-shot strategy shares: checked settings, the per-epoch search loop with its checkpoints,
the data batches, and the result it returns.

A search is a sequence of supernet epochs followed by a derivation. After every epoch the whole search
state (supernet and architecture weights, optimisers, schedules, random generators, history) can be
written to a checkpoint file; `search(..., checkpoint=path)` continues from that file when it exists, and
gives the same arch as an uninterrupted search (on the CPU).
"""

from __future__ import annotations

import json
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nasforge.data import ArrayData
from nasforge.errors import ConfigError, StorageError
from nasforge.oneshot.supernet import Supernet
from nasforge.space import Arch, ModelSpace
from nasforge.space.arch import Value

__all__ = ["BaseOneShot", "OneShotResult", "SearchContext"]

#: `fixed="defaults"` pins every decision a supernet cannot express at its default value
PIN_DEFAULTS = "defaults"
#: augmentations of the supernet's batches (images only): random crops after padding, horizontal flips
AUGMENTS = ("none", "flip", "crop", "crop_flip")
CHECKPOINT_FORMAT = 1
#: the settings of the evolutionary search on a trained supernet (SPOS, OFA): search-only, not training
EVOLUTION_SETTINGS = ("population", "generations", "parents", "mutation_prob", "eval_size")


@dataclass(frozen=True)
class OneShotResult:
    """The derived arch, the final architecture weights per label (softmax, where the method has them), a
    per-epoch history of the supernet's train loss and validation accuracy, and what the derivation adds
    (`info`), e.g. SPOS's count of archs scored on the supernet; `pinned` lists the decisions that were not
    searched and their values."""

    arch: Arch
    probabilities: dict[str, list[float]] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    search_time: float = 0.0
    info: dict[str, float] = field(default_factory=dict)
    pinned: dict[str, Value] = field(default_factory=dict)


@dataclass
class SearchContext:
    """The state of one search between epochs: what a checkpoint holds."""

    supernet: Supernet
    train: ArrayData
    valid: ArrayData
    steps: int  # weight steps per epoch
    device: torch.device
    rng: np.random.Generator
    optimizers: dict[str, Any] = field(default_factory=dict)  # anything with state_dict / load_state_dict
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-able numbers (e.g. ENAS's reward baseline)
    seed: int = 0
    batch_size: int = 64
    augment: str = "none"

    def generator(self, epoch: int, stream: int) -> torch.Generator:
        """A generator for one random stream of one epoch (0: train batches, 1: valid batches, 2+: the
        method's own), seeded so that a resumed search draws what the uninterrupted one would have."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + 8 * epoch + stream)

    def batches(self, which: str, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Shuffled batches of the train or valid split for `epoch`, augmented as `augment` says."""
        data = self.train if which == "train" else self.valid
        stream = 0 if which == "train" else 1
        out = batches(data, self.batch_size, self.generator(epoch, stream))
        if self.augment == "none":
            return out
        gen = self.generator(epoch, stream + 3)
        return ((augment_batch(x, self.augment, gen), y) for x, y in out)


def check_int(owner: str, name: str, value: Any, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"`{name}` of {owner} must be an int >= {low}, but got {value!r}.")
    return value


def check_float(owner: str, name: str, value: Any, low: float = 0.0, strict: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        rel = ">" if strict else ">="
        raise ConfigError(f"`{name}` of {owner} must be a number {rel} {low}, but got {value!r}.")
    return float(value)


def augment_batch(x: torch.Tensor, how: str, gen: torch.Generator) -> torch.Tensor:
    """Random crops after zero padding by 1/8 of the side (`crop`) and horizontal flips (`flip`) of a batch
    of images (N, C, H, W), drawn per sample; other inputs pass unchanged."""
    if x.dim() != 4:
        return x
    n, c, h, w = x.shape
    if "crop" in how:
        pad = max(1, min(h, w) // 8)
        padded = F.pad(x, (pad, pad, pad, pad))
        i = torch.randint(0, 2 * pad + 1, (n,), generator=gen).to(x.device)
        j = torch.randint(0, 2 * pad + 1, (n,), generator=gen).to(x.device)
        rows = (i[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (j[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        x = padded[
            torch.arange(n, device=x.device)[:, None, None, None],
            torch.arange(c, device=x.device)[None, :, None, None],
            rows,
            cols,
        ]
    if "flip" in how:
        flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    return x


def batches(data: ArrayData, batch_size: int, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled full batches of `data`, forever (one-shot loops count steps, not epochs of one split)."""
    n = len(data)
    size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=gen).to(data.x.device)
        for start in range(0, n - size + 1, size):
            idx = perm[start : start + size]
            yield data.x[idx], data.y[idx]


def resolve_device(owner: str, device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"`device` of {owner} must be 'auto', 'cpu', 'cuda' or 'cuda:N', but got {device!r}."
        ) from exc


class BaseOneShot(ABC):
    """A one-shot search: `search(space, train, valid)` builds the supernet, trains it and derives an arch.

    `fixed` pins decisions the supernet cannot express (a `choice` width, a `Repeat` depth) to one value
    each, `{label: value}`, or all of them at their defaults with `fixed="defaults"`; pinned decisions are
    not searched. `device`: 'auto' (CUDA when present), 'cpu' or 'cuda[:N]'. `augment` (one of `AUGMENTS`)
    transforms the images of every supernet batch, as DARTS's search on CIFAR does with crops and flips.
    """

    #: the supernet kind (`nasforge.oneshot.supernet.KINDS`) the method trains
    kind = "softmax"
    #: learnable scale and shift in the batch norms of candidate operations during the search
    bn_affine = False
    #: keys of the search's `OneShotResult.info` that the derived arch's trial carries too (FedNAS: its rounds,
    #: bytes and client accuracies)
    trial_info: tuple[str, ...] = ()
    #: settings that only steer the search on the trained supernet, not its training: a checkpoint written
    #: with other values of these serves this method too (`OFA.specialise` searches a trained supernet again)
    search_only: tuple[str, ...] = ()

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 64,
        seed: int = 0,
        fixed: Mapping[str, Value] | str | None = None,
        device: str = "auto",
        augment: str = "none",
    ) -> None:
        owner = type(self).__name__
        self.epochs = check_int(owner, "epochs", epochs)
        self.batch_size = check_int(owner, "batch_size", batch_size)
        self.seed = check_int(owner, "seed", seed, low=0)
        if fixed is not None and fixed != PIN_DEFAULTS and not isinstance(fixed, Mapping):
            raise ConfigError(
                f"`fixed` of {owner} must be a mapping {{label: value}} or {PIN_DEFAULTS!r} (pin every decision "
                f"the supernet cannot express at its default), but got {fixed!r}."
            )
        self.fixed: Mapping[str, Value] | str | None = dict(fixed) if isinstance(fixed, Mapping) else fixed
        resolve_device(owner, device)
        self.device = device
        if augment not in AUGMENTS:
            raise ConfigError(f"`augment` of {owner} must be one of {AUGMENTS}, but got {augment!r}.")
        self.augment = augment

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"

    def settings(self) -> dict[str, Any]:
        """The method's options (what a checkpoint must agree with to be resumed), without `device`."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "device"}

    # --- the supernet weights' optimiser, shared by every method ---------------------------------------------
    def _weight_settings(self, learning_rate: float, momentum: float, weight_decay: float) -> None:
        owner = type(self).__name__
        self.learning_rate = check_float(owner, "learning_rate", learning_rate, strict=True)
        self.momentum = check_float(owner, "momentum", momentum)
        self.weight_decay = check_float(owner, "weight_decay", weight_decay)

    def _evolution_settings(
        self, population: int, generations: int, parents: int, mutation_prob: float, eval_size: int
    ) -> None:
        """The settings of the evolutionary search run on a trained supernet (SPOS, OFA), checked."""
        owner = type(self).__name__
        self.population = check_int(owner, "population", population, low=2)
        self.generations = check_int(owner, "generations", generations)
        self.parents = check_int(owner, "parents", parents)
        self.mutation_prob = check_float(owner, "mutation_prob", mutation_prob)
        self.eval_size = check_int(owner, "eval_size", eval_size)

    def _weight_optimizer(self, ctx: SearchContext, eta_min: float = 0.0) -> None:
        """SGD on the supernet weights with a cosine schedule over the whole search, in `ctx.optimizers`."""
        opt = torch.optim.SGD(
            ctx.supernet.weight_parameters(),
            lr=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
        )
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=ctx.steps * self.epochs, eta_min=eta_min)
        ctx.optimizers.update(weights=opt, schedule=sched)

    def _weight_step(self, ctx: SearchContext, loss: torch.Tensor, grad_clip: float = 5.0) -> float:
        """One SGD step of the supernet weights on `loss` (clipped gradient); returns the loss."""
        weights = ctx.supernet.weight_parameters()
        opt = ctx.optimizers["weights"]
        opt.zero_grad(set_to_none=True)
        loss.backward(inputs=weights)
        torch.nn.utils.clip_grad_norm_(weights, grad_clip)
        opt.step()
        ctx.optimizers["schedule"].step()
        return float(loss.detach())

    def supernet(self, space: ModelSpace) -> Supernet:
        return Supernet(space, kind=self.kind, fixed=self.fixed, bn_affine=self.bn_affine)

    # --- the loop --------------------------------------------------------------------------------------------
    def search_under(
        self,
        evaluator: Any,
        space: ModelSpace,
        *,
        checkpoint: str | Path | None = None,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> OneShotResult | None:
        """`search` on the data an experiment's `evaluator` hands out (its training part and validation split,
        `search_data()`); a method that searches elsewhere (FedNAS: over the evaluator's clients) overrides it."""
        search_data = getattr(evaluator, "search_data", None)
        if not callable(search_data):
            raise ConfigError(
                f"The one-shot strategy {type(self).__name__} trains a supernet on the evaluator's data, but "
                f"{type(evaluator).__name__} has none (no search_data()); use a ClassificationEvaluator."
            )
        train, valid = search_data()
        return self.search(space, train, valid, checkpoint=checkpoint, on_epoch=on_epoch, should_stop=should_stop)

    def search(
        self,
        space: ModelSpace,
        train: ArrayData,
        valid: ArrayData,
        *,
        checkpoint: str | Path | None = None,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> OneShotResult | None:
        """Train the supernet for `epochs` and derive the arch.

        With `checkpoint`, the search state is written to that file after every epoch, and a search that
        finds the file continues from it. `on_epoch(epoch, metrics)` is called after each epoch (and its
        checkpoint); when `should_stop()` then says True, the search returns None before the next epoch,
        to be continued from the checkpoint later.
        """
        owner = type(self).__name__
        self._check_space(space)
        for name, part in (("train", train), ("valid", valid)):
            if not isinstance(part, ArrayData) or len(part) == 0:
                raise ConfigError(f"`{name}` of {owner}.search must be a non-empty ArrayData, but got {part!r}.")
        device = resolve_device(owner, self.device)
        torch.manual_seed(self.seed)
        supernet = self.supernet(space).to(device)
        ctx = SearchContext(
            supernet=supernet,
            train=ArrayData(train.x.to(device), train.y.to(device)),
            valid=ArrayData(valid.x.to(device), valid.y.to(device)),
            steps=max(1, len(train) // min(self.batch_size, len(train))),
            device=device,
            rng=np.random.default_rng(self.seed),
            seed=self.seed,
            batch_size=self.batch_size,
            augment=self.augment,
        )
        self._init(ctx)
        history: list[dict[str, float]] = []
        elapsed = 0.0
        path = Path(checkpoint) if checkpoint is not None else None
        if path is not None and path.exists():
            history, elapsed = self._load(path, ctx)
        for epoch in range(len(history), self.epochs):
            start = time.perf_counter()
            metrics = {"epoch": float(epoch + 1), **self._epoch(ctx, epoch)}
            elapsed += time.perf_counter() - start
            history.append(metrics)
            if path is not None:
                self._save(path, ctx, history, elapsed)
            if on_epoch is not None:
                on_epoch(epoch + 1, metrics)
            if should_stop is not None and epoch + 1 < self.epochs and should_stop():
                return None
        start = time.perf_counter()
        arch = self._derive(ctx)
        elapsed += time.perf_counter() - start
        info = {k: float(v) for k, v in ctx.extra.items() if k.startswith("derive_")}
        pinned = dict(supernet.pinned)
        return OneShotResult(arch, supernet.probabilities(), history, elapsed, info, pinned)

    def _check_space(self, space: ModelSpace) -> None:
        if not isinstance(space, ModelSpace) or space.is_frozen:
            raise ConfigError(
                f"{type(self).__name__}.search needs a ModelSpace (not a frozen network), but got "
                f"{type(space).__name__}."
            )

    # --- what each method defines ----------------------------------------------------------------------------
    @abstractmethod
    def _init(self, ctx: SearchContext) -> None:
        """Create the optimisers and schedules in `ctx.optimizers`."""

    @abstractmethod
    def _epoch(self, ctx: SearchContext, epoch: int) -> dict[str, float]:
        """Run one supernet epoch (0-based); return its metrics."""

    def _derive(self, ctx: SearchContext) -> Arch:
        """The arch read from the trained supernet: the strongest candidate per label."""
        return ctx.supernet.derive()

    # --- checkpoints -----------------------------------------------------------------------------------------
    def _signature(self, ctx: SearchContext) -> str:
        shapes = {k: list(v.shape) for k, v in ctx.supernet.state_dict().items()}
        trained = {k: v for k, v in self.settings().items() if k not in self.search_only}
        body = {"method": type(self).__name__, "settings": trained, "shapes": shapes, "n": len(ctx.train)}
        return json.dumps(body, sort_keys=True, default=repr)

    def _save(self, path: Path, ctx: SearchContext, history: list[dict[str, float]], elapsed: float) -> None:
        payload: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "signature": self._signature(ctx),
            "history": json.dumps(history),
            "elapsed": elapsed,
            "supernet": ctx.supernet.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in ctx.optimizers.items()},
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": json.dumps(ctx.rng.bit_generator.state),
            "extra": json.dumps(ctx.extra),
        }
        if ctx.device.type == "cuda":
            payload["cuda_rng"] = torch.cuda.get_rng_state(ctx.device)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)  # a kill mid-write leaves the previous checkpoint intact

    def checkpoint_epochs(self, checkpoint: str | Path) -> int:
        """How many supernet epochs the checkpoint file holds (0 when there is none)."""
        path = Path(checkpoint)
        if not path.is_file():
            return 0
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            return len(json.loads(payload["history"]))
        except Exception as exc:
            raise StorageError(
                f"Cannot read the one-shot checkpoint {str(path)!r} ({type(exc).__name__}: {exc}); give the "
                "checkpoint of a finished search."
            ) from exc

    def _load(self, path: Path, ctx: SearchContext) -> tuple[list[dict[str, float]], float]:
        try:
            payload = torch.load(path, map_location=ctx.device, weights_only=True)
            ok = isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT
        except Exception as exc:  # a truncated or foreign file: say which and what to do
            raise StorageError(
                f"Cannot read the one-shot checkpoint {str(path)!r} ({type(exc).__name__}: {exc}); delete it to "
                "start the supernet search again."
            ) from exc
        if not ok:
            raise StorageError(f"{str(path)!r} is not a nasforge one-shot checkpoint; delete it or use another path.")
        if payload["signature"] != self._signature(ctx):
            raise StorageError(
                f"The one-shot checkpoint {str(path)!r} was written by another search (other method, settings, "
                f"space or data) than {self!r}; resume with the same settings, or delete the checkpoint (or use a "
                "new experiment name) to start again."
            )
        ctx.supernet.load_state_dict(payload["supernet"])
        for name, opt in ctx.optimizers.items():
            opt.load_state_dict(payload["optimizers"][name])
        torch.set_rng_state(payload["torch_rng"].cpu())
        if "cuda_rng" in payload and ctx.device.type == "cuda":
            torch.cuda.set_rng_state(payload["cuda_rng"].cpu(), ctx.device)
        ctx.rng.bit_generator.state = json.loads(payload["numpy_rng"])
        ctx.extra.update(json.loads(payload["extra"]))
        history: list[dict[str, float]] = json.loads(payload["history"])
        return history, float(payload["elapsed"])
