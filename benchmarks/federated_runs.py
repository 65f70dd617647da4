"""The four methods of `benchmarks/federated.py`, each one run of one seed: see that file for the protocol."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from nasforge.data import BaseDataset, DataSplits
from nasforge.data.arrays import ArrayData
from nasforge.evaluators.training import evaluate_model
from nasforge.trial import TrialState

#: the fixed model: the middle of every structural range of the preset's space, the space's default training
#: settings (its first value of each); chosen before any run, as a practitioner's first try
FIXED_ARCH: dict[str, Any] = {
    "kind": "conv1d",
    "conv1d/blocks": 3,
    **{f"conv1d/blocks/{i}/{k}": v for i in range(3) for k, v in (("width", 128), ("kernel", 5), ("pool", "max"))},
    "conv1d/norm": "batch",
    "conv1d/global_pool": "avgmax",
    "conv1d/dropout": 0.2,
    "learning_rate": 0.003,
    "batch_size": 64,
    "weight_decay": 1e-4,
    "optimizer": "adamw",
    "augment": "specaugment",
}


class PooledClients(BaseDataset):
    """The federation's clients pooled: their training parts to train on, their validation parts to rank
    archs by, the dataset's own test split to test on (the central search's data)."""

    def __init__(self, data: Any) -> None:
        self.data = data  # a FederatedData
        self.name = f"pooled-{getattr(data.dataset, 'name', 'clients')}"
        self._splits: DataSplits | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_splits": None}

    def load(self) -> DataSplits:
        if self._splits is None:
            source = self.data.dataset.load()
            parts = [self.data.client(cid) for cid in range(self.data.size())]
            train = ArrayData(torch.cat([t.x for t, _ in parts]), torch.cat([t.y for t, _ in parts]))
            valid = ArrayData(torch.cat([v.x for _, v in parts]), torch.cat([v.y for _, v in parts]))
            info = {k: v for k, v in source.info.items() if k != "sample_groups"}  # pooled: no one's samples
            self._splits = DataSplits(
                train, valid, source.test, source.num_classes, source.input_shape, self.name, info
            )
        return self._splits


def config_for(method: str, seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The preset's configuration for one run: its seed, the trial rounds, the strategy asked for."""
    from nasforge.config import load_preset

    cfg = copy.deepcopy(load_preset("federated"))
    cfg.update(name=f"fedbench-{method}-{seed}", seed=seed, storage=str(folder / "nas.db"))
    cfg["evaluator"] = {**cfg["evaluator"], "rounds": args.rounds}
    if args.strategy is not None:
        cfg["strategy"] = {"name": args.strategy}
    if method == "fednas":  # a supernet decides only LayerChoices: here `kind`, so both kinds
        cfg["space"] = {**cfg["space"], "kinds": ["conv1d", "conv2d"]}
        cfg["strategy"] = {
            "name": "fednas",
            "rounds": args.fednas_rounds,
            "warmup_rounds": args.fednas_warmup,
            "fixed": "defaults",
            "seed": seed,
        }
    for key in ("run", "export"):
        cfg.pop(key, None)  # this benchmark sets the budgets
    return cfg


def client_accuracies(model: torch.nn.Module, data: Any) -> dict[str, float]:
    """`model`'s accuracy on each client's validation part: the mean, the spread, the worst."""
    accs = [evaluate_model(model, data.client(cid)[1], torch.device("cpu"))["acc"] for cid in range(data.size())]
    return {
        "client_acc_mean": statistics.fmean(accs),
        "client_acc_std": statistics.pstdev(accs),
        "client_acc_min": min(accs),
    }


def epochs_equivalent(rounds: int, local_epochs: int, fraction: float) -> int:
    """Passes over the pooled data that `rounds` FedAvg rounds make (at least 1): each round `fraction` of the
    clients train `local_epochs` passes over their own samples.

    >>> epochs_equivalent(20, 1, 0.5)
    10
    """
    return max(1, round(rounds * local_epochs * fraction))


def search(experiment: Any, seconds: float | None) -> dict[str, Any]:
    """Run `experiment` for `seconds` of wall time (a trial running then is stopped after its current round or
    epoch and kept as cut), or with None for its one trial (FedNAS: the derived arch); its best arch: the best
    completed trial, else the best cut one."""
    from nasforge.experiment.budget import JobBudget

    started = time.time()
    if seconds is None:
        experiment.run(max_trials=1)
    else:  # the search's deadline is `seconds` from its start: total x (1 - share) - reserve = seconds
        experiment.run(total_time=JobBudget(2 * seconds, retrain_share=0.5, export_reserve=0.0))
    search_s = time.time() - started
    trials = experiment.trials
    best, cut = experiment.best_trial, False
    if best is None:
        scored = [t for t in trials if t.state is TrialState.PRUNED and t.metrics.get("val_acc") is not None]
        if not scored:
            states = ", ".join(f"{t.state.value}{': ' + t.error if t.error else ''}" for t in trials) or "none"
            raise RuntimeError(
                f"the search scored no trial in {seconds} s (trials: {states}); a trial needs at least one round "
                "(the federation's start-up included) before the deadline: give a longer --search-time"
            )
        best, cut = max(scored, key=lambda t: t.metrics["val_acc"]), True
    done = [t for t in trials if t.metrics]
    out = {
        "arch": json.loads(best.arch.to_json()),
        "best_val_acc": best.metrics.get("val_acc"),
        "best_was_cut": cut,
        "trials": len(trials),
        "completed": sum(t.state is TrialState.COMPLETE for t in trials),
        "search_rounds": sum(t.metrics.get("rounds", 0) for t in done),
        "search_comm_bytes": sum(t.metrics.get("comm_bytes", 0) for t in done),
        "search_s": search_s,
    }
    for key in ("client_acc_mean", "client_acc_std", "client_acc_min"):
        if key in best.metrics:
            out[f"search_{key}"] = best.metrics[key]
    info = best.info or {}  # FedNAS: its one trial carries the supernet search's totals
    for key in ("search_rounds", "search_comm_bytes"):
        out[key] += info.get(key, 0)
    for key in ("search_client_acc_mean", "search_client_acc_std"):
        if key in info:  # the supernet's, beside its derived arch's trial's (`search_client_acc_*`)
            out[key.replace("search_", "supernet_")] = info[key]
    return out


def train_federated(evaluator: Any, space: Any, arch: Any, rounds: int, seed: int) -> dict[str, Any]:
    """`arch` trained with FedAvg for `rounds` rounds on all the clients' samples, tested once."""
    started = time.time()
    model, result = evaluator.train_final(space, space.validate(arch), rounds, seed=seed)
    return {
        "test_acc": result.get("test_acc"),
        "final_rounds": result["rounds"],
        "final_comm_bytes": result["comm_bytes"],
        "final_s": time.time() - started,
        **client_accuracies(model, evaluator.data),
    }


def run_method(method: str, seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """One run of `method` for `seed`, in `folder` (its storage and checkpoints): what the record keeps."""
    from nasforge.config import build_experiment
    from nasforge.evaluators import ClassificationEvaluator
    from nasforge.experiment import Experiment

    experiment = build_experiment(config_for(method, seed, args, folder))
    fed, space = experiment.evaluator, experiment.space
    if method == "fixed":
        out: dict[str, Any] = {
            "arch": json.loads(space.validate(FIXED_ARCH).to_json()),
            "trials": 0,
            "search_rounds": 0,
        }
        out.update(train_federated(fed, space, FIXED_ARCH, args.final_rounds, seed))
    elif method in ("federated", "fednas"):
        out = search(experiment, args.search_time if method == "federated" else None)
        out.update(train_federated(fed, space, out["arch"], args.final_rounds, seed))
    else:  # central: the same space and strategy on the pooled clients, epochs-equivalent training
        settings = {k: v for k, v in dataclasses.asdict(fed.config).items() if k != "epochs"}
        per = (fed.config.epochs, fed.fraction)
        trial_epochs = epochs_equivalent(args.rounds, *per)
        pooled = ClassificationEvaluator(PooledClients(fed.data), epochs=trial_epochs, **settings)
        central = Experiment(
            experiment.name, space, experiment.strategy, pooled, storage=str(folder / "nas.db"),
            executor=experiment.executor, objective="max:val_acc", seed=seed,
        )  # fmt: skip
        out = search(central, args.search_time)
        final_epochs = epochs_equivalent(args.final_rounds, *per)
        started = time.time()
        model, result = pooled.train_final(space, space.validate(out["arch"]), final_epochs, seed=seed)
        out.update(
            test_acc=result.get("test_acc"),
            trial_epochs=trial_epochs,
            final_epochs=final_epochs,
            final_rounds=0,
            final_comm_bytes=0,
            final_s=time.time() - started,
            **client_accuracies(model, fed.data),
        )
    out["rounds"] = out.get("search_rounds", 0) + out.get("final_rounds", 0)
    out["comm_bytes"] = out.get("search_comm_bytes", 0) + out.get("final_comm_bytes", 0)
    return out
