"""Federated NAS: architectures searched where the data cannot move, on Flower (the `federated` extra).

Clients and partitions (`FederatedData`, `PARTITIONERS`) need only nasforge; training an arch over the
clients (`FederatedEvaluator`, `run_federation`) runs Flower's simulation runtime, which moves the
parameters. See docs/federated.md.
"""

from __future__ import annotations

import os

# Flower and Ray report usage over the network unless told not to; nasforge runs offline.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from nasforge.federated.data import FederatedData, pool_groups
from nasforge.federated.evaluator import FederatedEvaluator
from nasforge.federated.partition import (
    BasePartitioner,
    DirichletPartitioner,
    GroupPartitioner,
    IIDPartitioner,
)
from nasforge.federated.registry import PARTITIONERS

__all__ = [
    "PARTITIONERS",
    "BasePartitioner",
    "DirichletPartitioner",
    "FederatedData",
    "FederatedEvaluator",
    "GroupPartitioner",
    "IIDPartitioner",
    "pool_groups",
]
