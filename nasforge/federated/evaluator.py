"""`FederatedEvaluator`: a trial's arch is trained over a federation of clients with Flower and scored by
the clients' weighted validation accuracy; any multi-trial strategy searches with it unchanged."""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nasforge.cost import count_flops, count_params
from nasforge.data import BaseDataset
from nasforge.errors import ConfigError
from nasforge.evaluators.base import DatasetEvaluator, EvalContext, TrialError
from nasforge.evaluators.training import SCHEDULES, TrainConfig, evaluate_model
from nasforge.federated.client import ClientTask
from nasforge.federated.data import FederatedData
from nasforge.federated.partition import BasePartitioner
from nasforge.federated.registry import PARTITIONERS
from nasforge.space import Arch, ModelSpace

__all__ = ["FederatedEvaluator"]

STRATEGIES = ("fedavg", "fedprox")


def _fraction(value: object, arg: str, zero_ok: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (value >= 0 if zero_ok else value > 0)
    if not ok or not value <= 1:  # type: ignore[operator]
        low = "[0" if zero_ok else "(0"
        raise ConfigError(f"`{arg}` of FederatedEvaluator must be a fraction in {low}, 1], but got {value!r}.")
    return float(value)  # type: ignore[arg-type]


def _positive_int(value: object, arg: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ConfigError(f"`{arg}` of FederatedEvaluator must be an int >= 1, but got {value!r}.")


class FederatedEvaluator(DatasetEvaluator):
    """Train `space.freeze(arch)` with FedAvg (or FedProx: `strategy="fedprox"`, `proximal_mu`) over the
    clients of `dataset` for `rounds` rounds, `fraction` of the clients training `local_epochs` each round,
    and score it by the clients' validation accuracy weighted by their validation sizes.

    Clients: the dataset's train + valid samples dealt out by `partition` ("dirichlet": Dirichlet(`alpha`)
    over classes; "groups": whole speakers / movies / user groups, `info["sample_groups"]`; "iid"), into
    `num_clients` clients (None with "groups": one per group), each holding out `client_valid` of its own
    samples. The test split belongs to no client: it scores only the exported model.

    A trial's budget is rounds (multi-fidelity strategies use rounds as fidelity). Training settings
    (`learning_rate`, `batch_size`, `optimizer`, ...) come from the arch where it has such a decision, else
    from the keyword arguments; the learning rate decays over the rounds (`schedule`). Flower's simulation
    runs `workers` clients at a time in Ray processes of one core each; use the sequential executor. Each
    trial starts and shuts down its own simulation, unless `keep_simulation` is true: then one stays up from
    one trial to the next (its processes keep their data; the `federated` preset does this, in a process of
    its own), and lives until the process ends or a federation over other clients replaces it.

    Metrics: `val_acc`, `val_loss`, `client_acc_mean`, `client_acc_std`, `client_acc_min`, `rounds`,
    `comm_bytes` (= `bytes_sent` + `bytes_received`, the serialised messages), `clients`, `train_time`
    (wall), `params`, `flops`.
    """

    def __init__(
        self,
        dataset: BaseDataset,
        partition: str | BasePartitioner = "dirichlet",
        num_clients: int | None = 10,
        alpha: float = 0.5,
        client_valid: float = 0.2,
        rounds: int = 5,
        fraction: float = 0.5,
        fraction_evaluate: float = 1.0,
        local_epochs: int = 1,
        strategy: str = "fedavg",
        proximal_mu: float = 0.01,
        workers: int = 1,
        keep_simulation: bool = False,
        seed: int = 0,
        **train_settings: Any,
    ) -> None:
        if not isinstance(dataset, BaseDataset):
            raise ConfigError(
                f"`dataset` of FederatedEvaluator must be a nasforge dataset, but got {type(dataset).__name__}."
            )
        if isinstance(partition, str):
            options = {"alpha": alpha} if partition == "dirichlet" else {}
            partitioner = PARTITIONERS.create(partition, **options)
        elif isinstance(partition, BasePartitioner):
            partitioner = partition
        else:
            raise ConfigError(
                f"`partition` of FederatedEvaluator must be one of {PARTITIONERS.names()} or a BasePartitioner, "
                f"but got {partition!r}."
            )
        self.data = FederatedData(dataset, partitioner, num_clients, client_valid, seed)
        self.dataset = dataset
        self.rounds = _positive_int(rounds, "rounds")
        self.fraction = _fraction(fraction, "fraction")
        self.fraction_evaluate = _fraction(fraction_evaluate, "fraction_evaluate")
        self.workers = _positive_int(workers, "workers")
        if not isinstance(keep_simulation, bool):
            raise ConfigError(
                f"`keep_simulation` of FederatedEvaluator must be true or false, but got {keep_simulation!r}."
            )
        self.keep_simulation = keep_simulation
        if strategy not in STRATEGIES:
            raise ConfigError(f"`strategy` of FederatedEvaluator must be one of {STRATEGIES}, but got {strategy!r}.")
        self.strategy = strategy
        if strategy == "fedprox" and (
            isinstance(proximal_mu, bool) or not isinstance(proximal_mu, (int, float)) or not 0 < proximal_mu < math.inf
        ):
            raise ConfigError(f"`proximal_mu` of FederatedEvaluator must be a number > 0, but got {proximal_mu!r}.")
        self.proximal_mu = float(proximal_mu) if strategy == "fedprox" else 0.0
        valid_fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"epochs"}
        for key in train_settings:
            if key not in valid_fields:
                raise ConfigError(
                    f"Unknown training setting {key!r} for FederatedEvaluator; valid: {sorted(valid_fields)}."
                )
        train_settings.setdefault("schedule", "cosine")
        self.config = TrainConfig(epochs=_positive_int(local_epochs, "local_epochs"), **train_settings)
        self._grid: Any = None

    def attach(self, grid: Any) -> None:
        """Train on a deployed federation's `grid` (inside a Flower `ServerApp`, `nasforge.federated.deploy`)
        instead of a simulation: the clients are the SuperNodes connected to the SuperLink."""
        self._grid = grid

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_grid"] = None  # a live connection stays in the server's process
        return state

    def federate(self, task: ClientTask, rounds: int, **kwargs: Any) -> Any:
        """Run `task` for `rounds` rounds over this evaluator's clients (the attached grid's SuperNodes, else a
        Flower simulation) with its federation settings; `kwargs` go to `run_federation` / `run_on_grid`.
        The `Federation`."""
        from nasforge.federated.run import run_federation, run_on_grid

        settings = self._settings(kwargs.pop("fraction_evaluate", None))
        if self._grid is not None:
            return run_on_grid(self._grid, task, settings, rounds, **kwargs)
        return run_federation(task, settings, rounds, **kwargs)

    def search_task(self, space: ModelSpace, config: TrainConfig, seed: int, search: Any) -> ClientTask:
        """The task of a supernet search over these clients (FedNAS: `search` trains and scores the supernet on
        each client's own data with `config`), for `federate`."""
        return ClientTask(space, space.default_arch(), self.data, config, seed=seed, search=search)

    def prepare(self) -> None:
        self.data.parts()

    def task(self) -> dict[str, Any]:
        data = self.dataset
        split = {k: getattr(data, k) for k in ("valid_size", "test_size", "seed") if hasattr(data, k)}
        return {
            **super().task(),
            "dataset": {"name": getattr(data, "name", type(data).__name__), **split},
            "clients": self.data.describe(),
            "strategy": self.strategy,
            "proximal_mu": self.proximal_mu,
            "fraction": self.fraction,
            "fraction_evaluate": self.fraction_evaluate,
            "training": dataclasses.asdict(self.config),
        }

    def train_config(self, arch: Mapping[str, Any]) -> TrainConfig:
        """The clients' training settings for `arch`: its hyperparameter decisions override the defaults."""
        fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"epochs", "schedule"}
        return dataclasses.replace(self.config, **{k: v for k, v in arch.items() if k in fields})

    def _settings(self, fraction_evaluate: float | None = None) -> Any:
        from nasforge.federated.run import FederationSettings

        if self.config.schedule not in SCHEDULES:
            raise ConfigError(f"`schedule` must be one of {SCHEDULES}, but got {self.config.schedule!r}.")
        return FederationSettings(
            fraction=self.fraction,
            fraction_evaluate=self.fraction_evaluate if fraction_evaluate is None else fraction_evaluate,
            proximal_mu=self.proximal_mu,
            workers=self.workers,
            schedule=self.config.schedule,
            keep=self.keep_simulation,
        )

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        rounds = self.rounds if ctx.budget is None else max(1, math.ceil(ctx.budget))
        task = ClientTask(ctx.space, ctx.arch, self.data, self.train_config(ctx.arch), seed=ctx.seed)
        model = ctx.space.freeze(ctx.arch)
        shape = tuple(self.dataset.load().input_shape)
        last: dict[str, float] = {
            "params": float(count_params(model)),
            "flops": float(count_flops(model, shape)),
        }
        start = time.perf_counter()

        def on_round(result: Any) -> bool:
            accs = result.client_acc
            last.update(
                clients=float(len(accs)) if self._grid is not None else float(self.data.size()),
                val_acc=result.val_acc,
                val_loss=result.val_loss,
                client_acc_mean=statistics.fmean(accs) if accs else math.nan,
                client_acc_std=statistics.pstdev(accs) if accs else math.nan,
                client_acc_min=min(accs) if accs else math.nan,
                rounds=float(result.round),
                bytes_sent=float(result.bytes_sent),
                bytes_received=float(result.bytes_received),
                comm_bytes=float(result.bytes_sent + result.bytes_received),
                train_time=time.perf_counter() - start,
            )
            ctx.report(result.round, dict(last))
            return True

        try:
            self.federate(task, rounds, on_round=on_round)
        except (RuntimeError, FloatingPointError) as exc:
            raise TrialError(f"federated training failed: {exc}") from None
        if "val_acc" not in last or math.isnan(last["val_acc"]):
            raise TrialError("federated training ended before any round was scored by the clients.")
        return {**last, "train_time": time.perf_counter() - start}

    def train_final(
        self,
        space: ModelSpace,
        arch: Arch,
        epochs: int,
        seed: int = 0,
        log: Any = None,
        time_budget: float | None = None,
        weights_in: str | None = None,
    ) -> tuple[nn.Module, dict[str, float]]:
        """Train `arch` federatedly for `epochs` rounds (or `time_budget` seconds), the clients training on
        all their samples, validation parts included; then test the global model once on the test split."""
        task = ClientTask(space, arch, self.data, self.train_config(arch), seed=seed)
        started = time.perf_counter()

        def on_round(result: Any) -> bool:
            if log is not None:
                log(
                    result.round,
                    {"train_loss": result.train_loss, "epochs": epochs, "elapsed": time.perf_counter() - started},
                )
            return True

        try:
            fed = self.federate(
                task, epochs, fraction_evaluate=0.0, on_round=on_round, full=True, time_budget=time_budget
            )
        except (RuntimeError, FloatingPointError) as exc:
            raise TrialError(f"federated retraining of the best arch failed: {exc}") from None
        model = space.freeze(arch)
        if fed.state_dict is not None:
            model.load_state_dict(fed.state_dict)
        model.eval()
        result = {
            "epochs": float(len(fed.rounds)),
            "rounds": float(len(fed.rounds)),
            "comm_bytes": float(fed.bytes_sent + fed.bytes_received),
            "train_loss": fed.train_loss,
            "train_time": fed.wall_time,
        }
        result.update(self.test_metrics(model))
        return model, result

    def test_metrics(self, model: nn.Module) -> dict[str, float]:
        """`test_acc` and `test_loss` of `model` on the dataset's test split (held by no client)."""
        test = self.data.test()
        if test is None:
            return {}
        res = evaluate_model(model.cpu(), test, torch.device("cpu"))
        model.eval()
        return {"test_acc": res["acc"], "test_loss": res["loss"]}

    def example_input(self, n: int = 16) -> torch.Tensor | None:
        test = self.data.test()
        return None if test is None else test.x[:n]
