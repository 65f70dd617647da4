"""The Flower `ClientApp` that trains and scores one arch (or a supernet: FedNAS) on a client's own data.

What the app carries into a client process is a description (the space, the arch, `FederatedData`, the
training settings, a supernet search's settings), never samples: the client reads its part where it runs
(`FederatedData.client`), and its replies hold only the model's parameters and a few metrics
(`REPLY_METRICS`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.data import ArrayData
from nasforge.evaluators.training import TrainConfig, augment_batch, evaluate_model, make_optimizer
from nasforge.federated.data import FederatedData
from nasforge.space import Arch, ModelSpace

__all__ = ["REPLY_METRICS", "ClientTask", "LocalSearch", "Resolver", "local_train", "make_client_app"]

#: the only metrics a client's reply may carry
REPLY_METRICS = frozenset({"num-examples", "train_loss", "acc", "loss"})


class LocalSearch(Protocol):
    """A supernet search whose clients train the supernet's weights and architecture parameters on their own
    data each round (`nasforge.oneshot.FedNAS`)."""

    def settings(self) -> dict[str, Any]:
        """The search's options, JSON-ready: what a deployed client rebuilds the search from."""
        ...

    def supernet(self, space: ModelSpace) -> Any:
        """The supernet of `space` (an `nn.Module` whose state dict holds the weights and the alphas)."""
        ...

    def local_search(
        self, supernet: Any, train: ArrayData, valid: ArrayData, learning_rate: float, server_round: int, seed: int
    ) -> float:
        """One round's local search on a client's own parts; the mean training loss."""
        ...

    def score(self, supernet: Any, valid: ArrayData) -> dict[str, float]:
        """`acc` and `loss` of the supernet as it stands on `valid`."""
        ...


@dataclasses.dataclass(frozen=True)
class ClientTask:
    """What every client of one trial does: train `arch` of `space` with `config` (its `epochs` are local
    epochs per round) on the data `data` gives it. With `search`, the clients train `search`'s supernet of
    `space` instead (weights and architecture parameters; `arch` is then only a valid placeholder)."""

    space: ModelSpace
    arch: Arch
    data: FederatedData
    config: TrainConfig
    seed: int = 0
    search: LocalSearch | None = None

    def model(self) -> nn.Module:
        """The network whose parameters the server and the clients exchange."""
        if self.search is not None:
            model: nn.Module = self.search.supernet(self.space)
            return model
        return self.space.freeze(self.arch)


def client_id(node_config: Any) -> int:
    """The client's index into the federation's parts: the node's `partition-id` (set by the simulation, or
    by `flower-supernode --node-config "partition-id=3"` in a deployment)."""
    return int(node_config["partition-id"])


def local_train(
    model: nn.Module,
    train: ArrayData,
    config: TrainConfig,
    learning_rate: float,
    proximal_mu: float,
    seed: int,
) -> float:
    """`config.epochs` epochs of minibatch training on `train` at `learning_rate`; with `proximal_mu` > 0 the
    FedProx term mu/2 * ||w - w_global||^2 keeps the weights near the ones received. The mean training loss."""
    gen = torch.Generator().manual_seed(seed)
    opt = make_optimizer(model, dataclasses.replace(config, learning_rate=learning_rate))
    anchor = [p.detach().clone() for p in model.parameters()] if proximal_mu > 0 else []
    n = len(train)
    batch = min(config.batch_size, n)
    steps = max(1, n // batch)
    total, count = 0.0, 0
    model.train()
    for _ in range(config.epochs):
        perm = torch.randperm(n, generator=gen)
        for step in range(steps):
            idx = perm[step * batch : (step + 1) * batch]
            xb = augment_batch(train.x[idx], config.augment, gen)
            loss = F.cross_entropy(model(xb), train.y[idx], label_smoothing=config.label_smoothing)
            if proximal_mu > 0:
                drift = sum((p - a).square().sum() for p, a in zip(model.parameters(), anchor, strict=True))
                loss = loss + proximal_mu / 2 * drift
            if not torch.isfinite(loss.detach()):
                raise FloatingPointError(f"local training loss became {loss.item()}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            count += 1
    return total / max(count, 1)


def _number(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"a number was expected in the server's config, but got {value!r}")


#: how a client finds what to do with a message: the simulation's fixed task, or one a deployed client
#: builds from the run's configuration and the arch the message names (`nasforge.federated.deploy`)
Resolver = Callable[[Any, Any], ClientTask]


def _fixed(task: ClientTask) -> Resolver:
    def resolve(msg: Any, context: Any) -> ClientTask:
        return task

    return resolve


def make_client_app(task: ClientTask | Resolver) -> Any:
    """A Flower `ClientApp` for `task` (or for the task `task(message, context)` resolves): `train` messages
    (arrays + config `lr`, `proximal-mu`, `full`, `server-round`) train locally and reply with the new
    arrays; `evaluate` messages score the received arrays on the client's validation part."""
    from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    resolve: Resolver = task if not isinstance(task, ClientTask) else _fixed(task)
    app = ClientApp()

    def model_from(msg: Message, job: ClientTask) -> nn.Module:
        torch.set_num_threads(1)  # clients run side by side, one core each
        model = job.model()
        model.load_state_dict(msg.content.array_records["arrays"].to_torch_state_dict())
        return model

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        job = resolve(msg, context)
        cid = client_id(context.node_config)
        config = msg.content.config_records["config"]
        part, valid = job.data.client(cid, full=bool(config.get("full", False)) and job.search is None)
        model = model_from(msg, job)
        # a resumed search's federation numbers its rounds from 1 again: the offset keeps the seeds apart
        rnd = int(_number(config.get("server-round", 1)) + _number(config.get("round-offset", 0)))
        seed = hash((job.seed, rnd, cid)) % (2**31)
        lr = _number(config.get("lr", job.config.learning_rate))
        if job.search is not None:
            loss = job.search.local_search(model, part, valid, learning_rate=lr, server_round=rnd, seed=seed)
        else:
            loss = local_train(
                model,
                part,
                job.config,
                learning_rate=lr,
                proximal_mu=_number(config.get("proximal-mu", 0.0)),
                seed=seed,
            )
        metrics = MetricRecord({"num-examples": len(part), "train_loss": loss if math.isfinite(loss) else 0.0})
        return Message(RecordDict({"arrays": ArrayRecord(model.state_dict()), "metrics": metrics}), reply_to=msg)

    @app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        job = resolve(msg, context)
        cid = client_id(context.node_config)
        _, valid = job.data.client(cid)
        model = model_from(msg, job)
        if job.search is not None:
            res = job.search.score(model, valid)
        else:
            res = evaluate_model(model, valid, torch.device("cpu"))
        metrics = MetricRecord({"num-examples": len(valid), "acc": res["acc"], "loss": res["loss"]})
        return Message(RecordDict({"metrics": metrics}), reply_to=msg)

    return app
