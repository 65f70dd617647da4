"""Flower apps for a real federation: the search runs in a `ServerApp` on the SuperLink's side, each trial
trained by the SuperNodes that are connected, each on the data it holds.

A Flower App (a folder with a `pyproject.toml`; docs/federated.md has one) names these two objects:

    [tool.flwr.app.components]
    serverapp = "nasforge.federated.deploy:serverapp"
    clientapp = "nasforge.federated.deploy:clientapp"

    [tool.flwr.app.config]
    nasforge-config = "federated"     # a preset name or a YAML file the server and every client can read
    nasforge-storage = "nasforge.db"  # where the server keeps the experiment

Both sides build the search's parts from the same nasforge configuration. A client reads its own data: its
SuperNode's `partition-id` (`flower-supernode --node-config "partition-id=3"`) picks its part of the
configured dataset. The server sends each round only the global parameters and, in the message's config,
the arch to build (JSON) and the seed, or a FedNAS search's settings (JSON) with its supernet's weights and
architecture parameters; clients reply with parameters and metrics, nothing else
(`nasforge.federated.server.check_reply`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from flwr.app import Context, Message
from flwr.serverapp import Grid, ServerApp

from nasforge.errors import ConfigError
from nasforge.federated.client import ClientTask, make_client_app

__all__ = ["clientapp", "serverapp", "task_for"]

_parts: dict[str, tuple[Any, Any]] = {}  # the run's configuration -> (space, evaluator), built once per process
_lock = threading.Lock()


def _configuration(context: Context) -> dict[str, Any]:
    from nasforge.config import load_file, load_preset, preset_names

    source = str(context.run_config.get("nasforge-config", ""))
    if not source:
        raise ConfigError(
            "The Flower App's run config needs `nasforge-config`: a preset name or a YAML file "
            '(e.g. nasforge-config = "federated" under [tool.flwr.app.config]).'
        )
    return dict(load_preset(source) if source in preset_names() else load_file(source))


def _space_and_evaluator(context: Context) -> tuple[Any, Any]:
    from nasforge.config import build_parts
    from nasforge.federated.evaluator import FederatedEvaluator

    key = str(context.run_config.get("nasforge-config", ""))
    with _lock:
        if key not in _parts:
            _, space, evaluator = build_parts(_configuration(context))
            if not isinstance(evaluator, FederatedEvaluator):
                raise ConfigError(
                    f"A deployed federation needs `evaluator: {{name: federated, ...}}` in {key!r}, but its "
                    f"evaluator is {type(evaluator).__name__}."
                )
            _parts[key] = (space, evaluator)
        return _parts[key]


def _task(msg: Message, context: Context) -> ClientTask:
    """What this client trains: the arch the server's message names, with the configured settings."""
    space, evaluator = _space_and_evaluator(context)
    return task_for(space, evaluator, msg)


def task_for(space: Any, evaluator: Any, msg: Message) -> ClientTask:
    """The task a message asks of a client of `evaluator`'s federation over `space`: train the arch it names
    (JSON) with the evaluator's settings, or, where it names a FedNAS search's settings, that search's
    supernet."""
    config = msg.content.config_records["config"]
    arch = space.validate(json.loads(str(config["arch"])))
    seed = config.get("seed", 0)
    search = None
    if "search" in config:  # a FedNAS round: the message names the search's settings
        from nasforge.oneshot.fednas import FedNAS

        search = FedNAS(**json.loads(str(config["search"])))
    return ClientTask(
        space,
        arch,
        evaluator.data,
        evaluator.train_config(arch),
        seed=seed if isinstance(seed, int) else 0,
        search=search,
    )


clientapp = make_client_app(_task)
serverapp = ServerApp()


@serverapp.main()
def main(grid: Grid, context: Context) -> None:
    """Run the configured search with every trial trained over the connected SuperNodes, then retrain and
    export the best arch as the configuration's `export` section asks."""
    from nasforge.config import build_experiment

    cfg = _configuration(context)
    if cfg.get("executor", {"name": "sequential"}).get("name", "sequential") != "sequential":
        raise ConfigError("A deployed federation runs its trials one after another: use executor: {name: sequential}.")
    storage = str(context.run_config.get("nasforge-storage", cfg.get("storage", "nasforge.db")))
    experiment = build_experiment(cfg, storage=storage)
    experiment.evaluator.attach(grid)
    run = cfg.get("run", {})
    experiment.run(max_trials=run.get("max_trials"), timeout=run.get("timeout"))
    best = experiment.best_trial
    if best is None:
        print("nasforge: no trial completed; see `nasforge trials` on the server's storage.", flush=True)
        return
    print(
        f"best trial {best.number}: val_acc={best.metrics.get('val_acc', float('nan')):.4f} arch={best.arch.to_json()}"
    )
    export = cfg.get("export", {})
    if export.get("path"):
        folder, metrics = experiment.export(
            export["path"], epochs=export.get("epochs"), time_budget=export.get("time_budget")
        )
        print(f"exported to {folder}: test_acc={metrics.get('test_acc', float('nan')):.4f}", flush=True)
