"""A kept simulation (`nasforge.federated.simulation`): one Flower simulation serves the federations of a
search one after another, its clients building each trial's task from the message that asks for it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("flwr")

from nasforge.config import build_parts
from nasforge.federated.client import ClientTask, make_client_app
from nasforge.federated.run import FederationSettings, run_federation, run_on_grid
from nasforge.federated.simulation import message_resolver, simulation_for
from tests.federated.loopback import LoopbackGrid

CONFIG = {
    "name": "kept",
    "space": {"name": "cnn", "depths": [1], "widths": [[8], [8], [8]]},
    "dataset": {"name": "digits"},
    "strategy": {"name": "random"},
    "evaluator": {"name": "federated", "partition": "iid", "num_clients": 3, "batch_size": 64},
    "executor": {"name": "sequential"},
}


@pytest.mark.slow  # seven seconds: two in-process federations
@pytest.mark.usefixtures("server_identity")
def test_clients_of_a_kept_simulation_train_the_task_each_message_names() -> None:
    _, space, evaluator = build_parts(CONFIG)
    grid = LoopbackGrid(make_client_app(message_resolver(space, evaluator.data, None)), 3, {})
    for number in (1, 2):  # two trials, other archs and training settings, the same client app
        arch = space.random(number)
        config = dataclasses.replace(evaluator.train_config(arch), learning_rate=0.01 * number)
        task = ClientTask(space, arch, evaluator.data, config, seed=number)
        grid.seen.clear()
        fed = run_on_grid(grid, task, FederationSettings(fraction=1.0), rounds=1)
        assert fed.state_dict is not None and set(fed.state_dict) == set(space.freeze(arch).state_dict())
        named = [msg.content.config_records["config"] for msg in grid.seen]
        assert named and all(c["arch"] == arch.to_json() and c["seed"] == number for c in named)
        assert all(json.loads(str(c["train"])) == dataclasses.asdict(config) for c in named)
        assert 0 <= fed.rounds[-1].val_acc <= 1


@pytest.mark.slow  # a real simulation: Ray starts client processes once for both federations (about a minute on one core with the third)
def test_a_second_federation_over_the_same_clients_runs_in_the_kept_simulation() -> None:
    # in a fresh process: a kept simulation lives as long as its process, and in this suite's long-lived
    # process one once ended the run (docs/federated.md, Limits)
    root = Path(__file__).resolve().parents[2]
    code = "from tests.federated.test_simulation import kept_simulation_check; kept_simulation_check()"
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def kept_simulation_check() -> None:
    """Two federations over the same clients share one kept simulation; one that does not keep closes it."""
    _, space, evaluator = build_parts(CONFIG)
    feds, sims = [], []
    for number in (1, 2):
        arch = space.random(number)
        task = ClientTask(space, arch, evaluator.data, evaluator.train_config(arch), seed=number)
        sims.append(simulation_for(task, 1, keep=True))
        feds.append(run_federation(task, FederationSettings(fraction=1.0, keep=True), rounds=1))
        assert feds[-1].state_dict is not None and set(feds[-1].state_dict) == set(space.freeze(arch).state_dict())
    assert sims[0] is sims[1] and sims[1].alive()
    # a federation that does not keep its simulation closes the kept one and its own
    arch = space.random(3)
    task = ClientTask(space, arch, evaluator.data, evaluator.train_config(arch), seed=3)
    run_federation(task, FederationSettings(fraction=1.0, keep=False), rounds=1)
    assert not sims[0].alive()
