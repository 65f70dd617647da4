"""Fixtures of the federated tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def server_identity() -> None:
    """Messages are created under a run's identity, which a SuperLink (or the simulation) sets."""
    pytest.importorskip("flwr")
    from flwr.common.constant import SUPERLINK_NODE_ID
    from flwr.supercore.task_identity import TaskIdentity

    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, SUPERLINK_NODE_ID
