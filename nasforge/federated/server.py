"""The server side of one federated training: Flower's FedAvg / FedProx, metered.

`MeteredFedAvg` and `MeteredFedProx` are Flower's strategies with three additions: they count the bytes
of every message they send and receive (the serialised parameter arrays plus the config and metric
records, i.e. the payload Flower puts on the wire; its framing is not counted), they check that a
client's reply carries nothing but the model's own parameters and the allowed metrics, and after each
round they hand the round's result to a `RoundGate`, which may stop the federation (a pruned trial, a
time budget).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, FedProx

from nasforge.evaluators.training import progress_lr
from nasforge.federated.client import REPLY_METRICS

__all__ = ["BoundaryError", "Meter", "MeteredFedAvg", "MeteredFedProx", "RoundResult", "StopFederation"]


class StopFederation(Exception):
    """Raised inside the server to end the rounds early; the last aggregated arrays stand."""


class BoundaryError(RuntimeError):
    """A client's reply carried something other than the model's parameters and the allowed metrics."""


@dataclass(frozen=True)
class RoundResult:
    """One round, as the server saw it: the clients' weighted validation accuracy, each evaluated client's
    accuracy and sample count, the bytes exchanged so far, and the global arrays after the round (what a
    search checkpoints)."""

    round: int
    val_acc: float
    val_loss: float
    client_acc: tuple[float, ...]
    client_n: tuple[int, ...]
    train_loss: float
    bytes_sent: int
    bytes_received: int
    arrays: ArrayRecord | None = field(default=None, repr=False, compare=False)


@dataclass
class Meter:
    """What the server counts over a federation: bytes each way, the rounds' results, the latest global
    arrays, and the clients' failures. `watch(direction, message)`, if set, sees every message. A federation
    that continues an earlier one (a resumed search) has run `offset` rounds before its first: the learning
    rate's schedule spans `offset + rounds`, and its rounds are numbered on from `offset`."""

    param_shapes: Mapping[str, tuple[int, ...]]
    rounds: int
    learning_rate: float
    schedule: str = "cosine"
    gate: Callable[[RoundResult], bool] | None = None  # False: stop after this round
    watch: Callable[[str, Message], None] | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    results: list[RoundResult] = field(default_factory=list)
    arrays: ArrayRecord | None = None
    errors: list[str] = field(default_factory=list)
    train_loss: float = math.nan
    lock: threading.Lock = field(default_factory=threading.Lock)
    offset: int = 0

    def sent(self, messages: Iterable[Message]) -> list[Message]:
        out = list(messages)
        for msg in out:
            self.bytes_sent += payload_bytes(msg.content)
            if self.watch is not None:
                self.watch("sent", msg)
        return out

    def received(self, replies: Iterable[Message], train: bool) -> list[Message]:
        out = list(replies)
        for msg in out:
            if msg.has_error():
                self.errors.append(str(msg.error.reason))
                continue
            self.bytes_received += payload_bytes(msg.content)
            if self.watch is not None:
                self.watch("received", msg)
            check_reply(msg.content, self.param_shapes if train else None)
        return out


def payload_bytes(content: RecordDict) -> int:
    """The bytes of a message's records: each array's serialised buffer, each config and metric value."""
    return sum(int(record.count_bytes()) for record in content.values())


def check_reply(content: RecordDict, shapes: Mapping[str, tuple[int, ...]] | None) -> None:
    """Refuse a reply that carries anything but the model's parameters (exactly its names and shapes, on a
    training reply only) and metrics among `REPLY_METRICS`: the data-stays-on-the-client rule, enforced."""
    for key, record in content.items():
        if isinstance(record, ArrayRecord):
            got = {name: tuple(array.shape) for name, array in record.items()}
            if shapes is None or key != "arrays" or got != dict(shapes):
                raise BoundaryError(
                    f"a client's reply carried arrays {sorted(got)} under {key!r}; only the model's parameters may "
                    "cross the client boundary, on a training reply."
                )
        elif isinstance(record, MetricRecord):
            extra = set(record) - REPLY_METRICS
            if key != "metrics" or extra:
                raise BoundaryError(
                    f"a client's reply carried metrics {sorted(extra) or sorted(record)} under {key!r}; allowed: "
                    f"{sorted(REPLY_METRICS)}."
                )
        else:
            raise BoundaryError(f"a client's reply carried a {type(record).__name__} under {key!r}; not allowed.")


class MeteredFedAvg(FedAvg):
    """Flower's FedAvg (McMahan et al. 2017), metered by `meter`; the learning rate sent each round follows
    `meter.schedule` over the rounds (a cosine decay by default)."""

    def __init__(self, meter: Meter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.meter = meter

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        m = self.meter
        progress = (m.offset + server_round - 1) / (m.offset + m.rounds)
        config["lr"] = m.learning_rate * max(progress_lr(m.schedule, progress), 1e-3)
        return m.sent(super().configure_train(server_round, arrays, config, grid))

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        valid = self.meter.received(replies, train=True)
        if self.meter.errors:
            raise StopFederation(self.meter.errors[0])
        arrays, metrics = super().aggregate_train(server_round, valid)
        if arrays is not None:
            self.meter.arrays = arrays
        if metrics is not None and "train_loss" in metrics:
            self.meter.train_loss = float(metrics["train_loss"])  # type: ignore[arg-type]
        return arrays, metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        return self.meter.sent(super().configure_evaluate(server_round, arrays, config, grid))

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        m = self.meter
        valid = m.received(replies, train=False)
        if m.errors:
            raise StopFederation(m.errors[0])
        metrics = super().aggregate_evaluate(server_round, valid) if valid else None
        scores = [msg.content.metric_records["metrics"] for msg in valid]
        accs = tuple(float(s["acc"]) for s in scores)  # type: ignore[arg-type]
        sizes = tuple(int(s["num-examples"]) for s in scores)  # type: ignore[arg-type]
        result = RoundResult(
            round=m.offset + server_round,
            val_acc=float(metrics["acc"]) if metrics is not None else math.nan,  # type: ignore[arg-type]
            val_loss=float(metrics["loss"]) if metrics is not None else math.nan,  # type: ignore[arg-type]
            client_acc=accs,
            client_n=sizes,
            train_loss=m.train_loss,
            bytes_sent=m.bytes_sent,
            bytes_received=m.bytes_received,
            arrays=m.arrays,
        )
        m.results.append(result)
        if m.gate is not None and not m.gate(result):
            raise StopFederation("stopped")
        return metrics


class MeteredFedProx(MeteredFedAvg, FedProx):
    """Flower's FedProx (Li et al. 2020): FedAvg whose clients add mu/2 * ||w - w_global||^2 to their loss."""
