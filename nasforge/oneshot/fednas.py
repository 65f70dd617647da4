"""FedNAS (He et al. 2020): a one-shot search where the data stays on the clients that hold it.

Each round the server (Flower's FedAvg, metered as for every federated trial: `nasforge.federated.server`)
sends the supernet's weights and its architecture parameters to a fraction of the federated evaluator's
clients; each client runs first-order DARTS on its own data (the weights on its training part, the alphas
on its validation part) and sends both back; the server averages both, weighted by the clients' training
sample counts. After the rounds the arch is derived from the averaged alphas (argmax per label, as DARTS
derives it), and the experiment trains that arch federatedly as its trial and exports it.

On pooled data, `FedNAS(...).search(space, train, valid)` runs the same search centrally: one client that
holds every sample, one round per epoch (the upper bound a federated search is compared with).

>>> FedNAS(rounds=4, local_epochs=2)  # doctest: +ELLIPSIS
FedNAS(rounds=4, batch_size=64, seed=0, fixed=None, local_epochs=2, ...)
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nasforge.data import ArrayData
from nasforge.errors import ConfigError
from nasforge.evaluators.training import TrainConfig, progress_lr
from nasforge.oneshot.base import BaseOneShot, OneShotResult, SearchContext, batches, check_float, check_int
from nasforge.oneshot.darts import supernet_accuracy
from nasforge.space import ModelSpace
from nasforge.space.arch import Value

__all__ = ["FedNAS"]


class FedNAS(BaseOneShot):
    """Federated weight sharing: clients train the supernet's weights and alphas, the server averages both.

    `rounds` rounds; in each, the evaluator's `fraction` of the clients run `local_epochs` passes over their
    training part, alternating an Adam step of the alphas on a batch of their validation part (from round
    `warmup_rounds + 1` on) with an SGD step of the weights on a training batch. The weights' learning rate
    follows the evaluator's schedule over the rounds; each client's optimisers start afresh every round, as
    FedAvg's do. Run it as the strategy of an experiment whose evaluator is `federated`:
    `strategy: {name: fednas, rounds: 20}`.
    """

    kind = "softmax"
    trial_info = (
        "search_rounds",
        "search_comm_bytes",
        "search_client_acc_mean",
        "search_client_acc_std",
        "search_time",
    )

    def __init__(
        self,
        rounds: int = 10,
        local_epochs: int = 1,
        batch_size: int = 64,
        learning_rate: float = 0.025,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        arch_learning_rate: float = 3e-3,
        arch_weight_decay: float = 1e-3,
        grad_clip: float = 5.0,
        warmup_rounds: int = 0,
        seed: int = 0,
        fixed: Mapping[str, Value] | str | None = None,
    ) -> None:
        owner = type(self).__name__
        super().__init__(check_int(owner, "rounds", rounds), batch_size, seed, fixed, device="cpu")
        self.local_epochs = check_int(owner, "local_epochs", local_epochs)
        self._weight_settings(learning_rate, momentum, weight_decay)
        if self.momentum >= 1:
            raise ConfigError(f"`momentum` of {owner} must be a number in [0, 1), but got {momentum!r}.")
        self.arch_learning_rate = check_float(owner, "arch_learning_rate", arch_learning_rate, strict=True)
        self.arch_weight_decay = check_float(owner, "arch_weight_decay", arch_weight_decay)
        self.grad_clip = check_float(owner, "grad_clip", grad_clip, strict=True)
        self.warmup_rounds = check_int(owner, "warmup_rounds", warmup_rounds, low=0)
        if self.warmup_rounds >= self.epochs:
            raise ConfigError(
                f"`warmup_rounds` of {owner} must be < rounds={self.epochs} (the alphas need rounds too), "
                f"but got {warmup_rounds!r}."
            )

    @property
    def rounds(self) -> int:
        """The rounds of the search (a round is what an epoch is to the other methods: one checkpoint each)."""
        return self.epochs

    def settings(self) -> dict[str, Any]:
        """The options as `FedNAS(**settings)` takes them: what a checkpoint must agree with, and what a deployed
        client rebuilds the search from."""
        out = super().settings()
        out.pop("augment")
        return {"rounds": out.pop("epochs"), **out}

    # --- a client's round (and an epoch of the central search) ----------------------------------------------
    def local_search(
        self, supernet: Any, train: ArrayData, valid: ArrayData, learning_rate: float, server_round: int, seed: int
    ) -> float:
        """One round of first-order DARTS on one client's parts: `local_epochs` passes over `train`, each step an
        alpha step on a `valid` batch (after the warm-up rounds) and a weight step on a `train` batch. Round
        numbers start at 1. The mean training loss."""
        weights, alphas = supernet.weight_parameters(), supernet.arch_parameters()
        w_opt = torch.optim.SGD(weights, lr=learning_rate, momentum=self.momentum, weight_decay=self.weight_decay)
        a_opt = torch.optim.Adam(
            alphas, lr=self.arch_learning_rate, betas=(0.5, 0.999), weight_decay=self.arch_weight_decay
        )
        gen = torch.Generator().manual_seed(seed)
        train_it, valid_it = batches(train, self.batch_size, gen), batches(valid, self.batch_size, gen)
        steps = self.local_epochs * max(1, len(train) // min(self.batch_size, len(train)))
        search_arch = server_round > self.warmup_rounds
        supernet.train()
        total = 0.0
        for _ in range(steps):
            xt, yt = next(train_it)
            if search_arch:
                xv, yv = next(valid_it)
                a_opt.zero_grad(set_to_none=True)
                F.cross_entropy(supernet(xv), yv).backward(inputs=alphas)
                a_opt.step()
            loss = F.cross_entropy(supernet(xt), yt)
            if not torch.isfinite(loss.detach()):
                raise FloatingPointError(f"FedNAS's local training loss became {loss.item()}")
            w_opt.zero_grad(set_to_none=True)
            loss.backward(inputs=weights)
            torch.nn.utils.clip_grad_norm_(weights, self.grad_clip)
            w_opt.step()
            total += float(loss.detach())
        return total / steps

    @torch.no_grad()
    def score(self, supernet: Any, valid: ArrayData) -> dict[str, float]:
        """`acc` and `loss` of the supernet as it stands on `valid` (batch statistics, as `supernet_accuracy`)."""
        supernet.train()
        correct, loss = 0, 0.0
        for start in range(0, len(valid), 500):
            x, y = valid.x[start : start + 500], valid.y[start : start + 500]
            logits = supernet(x)
            correct += int((logits.argmax(1) == y).sum())
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
        n = max(len(valid), 1)
        return {"acc": correct / n, "loss": loss / n}

    def _init(self, ctx: SearchContext) -> None:
        pass  # every round's optimisers are a client's own, made afresh in `local_search`

    def _epoch(self, ctx: SearchContext, epoch: int) -> dict[str, float]:
        """The central search's epoch: one round of the one client that holds the pooled data."""
        lr = self.learning_rate * max(progress_lr("cosine", epoch / self.epochs), 1e-3)
        seed = hash((self.seed, epoch + 1, 0)) % (2**31)
        loss = self.local_search(ctx.supernet, ctx.train, ctx.valid, lr, epoch + 1, seed)
        return {"train_loss": loss, "valid_acc": supernet_accuracy(ctx.supernet, ctx.valid)}

    # --- the federated search -------------------------------------------------------------------------------
    def _signature(self, ctx: SearchContext) -> str:
        return super()._signature(ctx) + str(ctx.extra.get("federation", ""))

    def search_under(
        self,
        evaluator: Any,
        space: ModelSpace,
        *,
        checkpoint: str | Path | None = None,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> OneShotResult | None:
        """Search over `evaluator`'s clients (a `FederatedEvaluator`: its partition, fraction and Flower
        runtime, or the grid it is attached to). With `checkpoint`, the supernet and the history are written
        after every round, and a search that finds the file continues from its last round."""
        owner = type(self).__name__
        # a federated evaluator (`nasforge.federated`, which builds on this package: named by what it can do)
        if not all(callable(getattr(evaluator, m, None)) for m in ("federate", "search_task")):
            raise ConfigError(
                f"{owner} searches over a federation's clients and needs `evaluator: {{name: federated, ...}}`, "
                f"but the evaluator is {type(evaluator).__name__}; for a search on pooled data use darts."
            )
        self._check_space(space)
        torch.manual_seed(self.seed)
        supernet = self.supernet(space)
        nothing = ArrayData(torch.zeros(0, 1), torch.zeros(0, dtype=torch.long))  # the server holds no data
        ctx = SearchContext(
            supernet, nothing, nothing, 1, torch.device("cpu"), np.random.default_rng(self.seed), seed=self.seed
        )
        # what decides the search besides its own settings: the clients, who trains each round, the schedule
        # (not the trials' training, which a resumed search may change)
        task = evaluator.task()
        federation = {k: task.get(k) for k in ("dataset", "clients", "fraction", "fraction_evaluate")}
        ctx.extra["federation"] = json.dumps({**federation, "schedule": evaluator.config.schedule}, sort_keys=True)
        history: list[dict[str, float]] = []
        elapsed = 0.0
        path = Path(checkpoint) if checkpoint is not None else None
        if path is not None and path.exists():
            history, elapsed = self._load(path, ctx)
        done, stopped = len(history), False
        if done < self.rounds:
            job = evaluator.search_task(
                space,
                TrainConfig(
                    epochs=self.local_epochs,
                    batch_size=self.batch_size,
                    learning_rate=self.learning_rate,
                    weight_decay=self.weight_decay,
                    momentum=self.momentum,
                    schedule=evaluator.config.schedule,
                    augment="none",
                ),
                self.seed,
                self,
            )
            start, before = time.perf_counter(), elapsed
            sent0, received0 = int(ctx.extra.get("bytes_sent", 0)), int(ctx.extra.get("bytes_received", 0))

            def on_round(result: Any) -> bool:
                nonlocal stopped, elapsed
                if result.arrays is not None:
                    supernet.load_state_dict(result.arrays.to_torch_state_dict())
                sent, received = sent0 + result.bytes_sent, received0 + result.bytes_received
                ctx.extra.update(bytes_sent=sent, bytes_received=received)
                elapsed = before + time.perf_counter() - start
                history.append(round_metrics(result, sent, received, elapsed))
                if path is not None:
                    self._save(path, ctx, history, elapsed)
                if on_epoch is not None:
                    on_epoch(result.round, history[-1])
                if should_stop is not None and result.round < self.rounds and should_stop():
                    stopped = True
                return not stopped

            try:
                evaluator.federate(job, self.rounds - done, on_round=on_round, initial=supernet.state_dict(), done=done)
            except FloatingPointError as exc:
                raise RuntimeError(f"a FedNAS client failed: {exc}") from None
            if stopped:
                return None
            if len(history) < self.rounds:
                raise RuntimeError(f"the FedNAS federation ended after {len(history)} of {self.rounds} rounds")
        begin = time.perf_counter()
        arch = self._derive(ctx)
        elapsed += time.perf_counter() - begin
        return OneShotResult(
            arch, supernet.probabilities(), history, elapsed, search_info(history, elapsed), dict(supernet.pinned)
        )


def round_metrics(result: Any, sent: int, received: int, elapsed: float) -> dict[str, float]:
    """One round's record in a FedNAS history, from the server's `RoundResult` and the bytes so far."""
    accs = result.client_acc
    return {
        "epoch": float(result.round),
        "round": float(result.round),
        "train_loss": float(result.train_loss),
        "val_acc": float(result.val_acc),
        "val_loss": float(result.val_loss),
        "client_acc_mean": statistics.fmean(accs) if accs else math.nan,
        "client_acc_std": statistics.pstdev(accs) if accs else math.nan,
        "client_acc_min": min(accs) if accs else math.nan,
        "bytes_sent": float(sent),
        "bytes_received": float(received),
        "comm_bytes": float(sent + received),
        "elapsed": elapsed,
    }


def search_info(history: list[dict[str, float]], elapsed: float) -> dict[str, float]:
    """What a FedNAS search reports beside its arch: rounds, bytes and the last round's client accuracies."""
    last = history[-1] if history else {}
    keys = ("comm_bytes", "bytes_sent", "bytes_received", "val_acc", "client_acc_mean", "client_acc_std")
    return {
        "search_rounds": float(len(history)),
        **{f"search_{k}": float(last.get(k, math.nan)) for k in (*keys, "client_acc_min")},
        "search_time": elapsed,
    }
