"""The deployed apps (`nasforge.federated.deploy`): a client builds the arch a message names from the run's
configuration and trains on its own partition; the server side runs on any Flower `Grid`. Checked in this
process with a grid that hands each message to the client app, as a SuperLink hands it to a SuperNode."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

pytest.importorskip("flwr")

from flwr.app import Context, Message, RecordDict

from nasforge.config import build_parts
from nasforge.federated.client import ClientTask
from nasforge.federated.run import FederationSettings, run_on_grid

CONFIG = {
    "name": "deployed",
    "space": {"name": "cnn", "depths": [1], "widths": [[8], [8], [8]]},
    "dataset": {"name": "digits"},
    "strategy": {"name": "random"},
    "evaluator": {"name": "federated", "partition": "iid", "num_clients": 3, "batch_size": 64},
    "executor": {"name": "sequential"},
}


class LoopbackGrid:
    """Three SuperNodes in this process: node i is the client with `partition-id` i (the part of Flower's
    `Grid` that its strategies use)."""

    def __init__(self, config_path: str) -> None:
        from nasforge.federated.deploy import clientapp

        self.app = clientapp
        self.run_config: dict[str, bool | float | int | str] = {"nasforge-config": config_path}
        self.seen: list[Message] = []

    def get_node_ids(self) -> Iterable[int]:
        return [0, 1, 2]

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        replies = []
        for msg in messages:
            node = msg.metadata.dst_node_id
            context = Context(
                run_id=1,
                node_id=node,
                node_config={"partition-id": node},
                state=RecordDict(),
                run_config=self.run_config,
            )
            self.seen.append(msg)
            replies.append(self.app(msg, context))
        return replies


@pytest.fixture
def server_identity() -> None:
    """Messages are created under a run's identity, which a SuperLink (or the simulation) sets."""
    from flwr.common.constant import SUPERLINK_NODE_ID
    from flwr.supercore.task_identity import TaskIdentity

    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, SUPERLINK_NODE_ID


@pytest.mark.usefixtures("server_identity")
def test_deployed_clients_build_the_named_arch_and_train_on_their_own_part(tmp_path: Path) -> None:
    path = tmp_path / "federated.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    _, space, evaluator = build_parts(CONFIG)
    arch = space.random(3)
    task = ClientTask(space, arch, evaluator.data, evaluator.train_config(arch), seed=0)
    grid = LoopbackGrid(str(path))
    fed = run_on_grid(grid, task, FederationSettings(fraction=1.0), rounds=2)
    assert len(fed.rounds) == 2 and 0 <= fed.rounds[-1].val_acc <= 1
    assert fed.state_dict is not None and set(fed.state_dict) == set(space.freeze(arch).state_dict())
    # every message names the arch; the client sizes are its own partition's
    assert all(msg.content.config_records["config"]["arch"] == arch.to_json() for msg in grid.seen)
    valid_sizes = sorted(len(evaluator.data.client(c)[1]) for c in range(3))
    assert sorted(fed.rounds[-1].client_n) == valid_sizes
