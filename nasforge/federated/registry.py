"""The named ways to deal a dataset out to clients (`evaluator.partition` in a configuration)."""

from __future__ import annotations

from nasforge.federated.partition import BasePartitioner, DirichletPartitioner, GroupPartitioner, IIDPartitioner
from nasforge.registry import Registry

__all__ = ["PARTITIONERS"]

PARTITIONERS: Registry[BasePartitioner] = Registry("partition")
PARTITIONERS.add("dirichlet", DirichletPartitioner, "Each class spread over the clients in Dirichlet(alpha) shares.")
PARTITIONERS.add("groups", GroupPartitioner, "Whole groups per client: speakers, movies, a user's client column.")
PARTITIONERS.add("iid", IIDPartitioner, "Uniformly random parts of equal size (the IID reference).")
