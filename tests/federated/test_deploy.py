"""The deployed apps (`nasforge.federated.deploy`): a client builds the arch a message names from the run's
configuration and trains on its own partition; the server side runs on any Flower `Grid`. Checked in this
process with a grid that hands each message to the client app, as a SuperLink hands it to a SuperNode."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("flwr")

from nasforge.config import build_parts
from nasforge.federated.client import ClientTask
from nasforge.federated.deploy import clientapp
from nasforge.federated.run import FederationSettings, run_on_grid
from tests.federated.loopback import LoopbackGrid

CONFIG = {
    "name": "deployed",
    "space": {"name": "cnn", "depths": [1], "widths": [[8], [8], [8]]},
    "dataset": {"name": "digits"},
    "strategy": {"name": "random"},
    "evaluator": {"name": "federated", "partition": "iid", "num_clients": 3, "batch_size": 64},
    "executor": {"name": "sequential"},
}


@pytest.mark.usefixtures("server_identity")
def test_deployed_clients_build_the_named_arch_and_train_on_their_own_part(tmp_path: Path) -> None:
    path = tmp_path / "federated.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    _, space, evaluator = build_parts(CONFIG)
    arch = space.random(3)
    task = ClientTask(space, arch, evaluator.data, evaluator.train_config(arch), seed=0)
    grid = LoopbackGrid(clientapp, 3, {"nasforge-config": str(path)})
    fed = run_on_grid(grid, task, FederationSettings(fraction=1.0), rounds=2)
    assert len(fed.rounds) == 2 and 0 <= fed.rounds[-1].val_acc <= 1
    assert fed.state_dict is not None and set(fed.state_dict) == set(space.freeze(arch).state_dict())
    # every message names the arch; the client sizes are its own partition's
    assert all(msg.content.config_records["config"]["arch"] == arch.to_json() for msg in grid.seen)
    valid_sizes = sorted(len(evaluator.data.client(c)[1]) for c in range(3))
    assert sorted(fed.rounds[-1].client_n) == valid_sizes
