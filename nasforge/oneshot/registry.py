"""One-shot methods by name, for configs and the CLI (`strategy: {name: drnas, epochs: 20}`)."""

from __future__ import annotations

from nasforge.oneshot.base import BaseOneShot
from nasforge.oneshot.darts import DARTS, DARTSPT, GDAS, BetaDARTS, DrNAS
from nasforge.oneshot.enas import ENAS
from nasforge.oneshot.fednas import FedNAS
from nasforge.oneshot.ofa import OFA
from nasforge.oneshot.spos import SPOS
from nasforge.registry import Registry

__all__ = ["DEFAULT_ONESHOT", "ONESHOT_METHODS"]

#: registry name -> one-shot method; each is also a strategy of that name (`nasforge.oneshot.strategy`)
ONESHOT_METHODS: Registry[BaseOneShot] = Registry("one-shot method")
ONESHOT_METHODS.add("darts", DARTS)
ONESHOT_METHODS.add("gdas", GDAS)
ONESHOT_METHODS.add("beta_darts", BetaDARTS)
ONESHOT_METHODS.add("drnas", DrNAS)
ONESHOT_METHODS.add("darts_pt", DARTSPT)
ONESHOT_METHODS.add("spos", SPOS)
ONESHOT_METHODS.add("enas", ENAS)
ONESHOT_METHODS.add("ofa", OFA)
ONESHOT_METHODS.add("fednas", FedNAS)  # over a federated evaluator's clients (docs/federated.md)

#: the method behind the name `oneshot`: the one that held up best on a NAS-Bench-201 proxy (a one-cell supernet
#: on 1,500 Fashion-MNIST images at 16x16, the cell looked up in the CIFAR-10 table; docs/benchmarks.md)
DEFAULT_ONESHOT = "drnas"
