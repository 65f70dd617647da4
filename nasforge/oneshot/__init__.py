"""One-shot NAS: a user's unchanged `ModelSpace` becomes a weight-sharing supernet, searched by gradient
(DARTS, GDAS, DrNAS, beta-DARTS) or by sampling (SPOS, ENAS), or shares its widths, kernels and depths
too (OFA, BigNAS: `EntangledSupernet`), or is trained by federated clients on data that never leaves them
(FedNAS), and the found arch is read back as an `Arch`.

`OneShotStrategy` runs a method inside an `Experiment`; each method is a strategy of its registry name."""

from nasforge.oneshot.base import BaseOneShot, OneShotResult
from nasforge.oneshot.darts import DARTS, DARTSPT, GDAS, BetaDARTS, DrNAS, supernet_accuracy
from nasforge.oneshot.enas import ENAS
from nasforge.oneshot.entangled import EntangledMode, EntangledSupernet
from nasforge.oneshot.fednas import FedNAS
from nasforge.oneshot.ofa import OFA
from nasforge.oneshot.registry import DEFAULT_ONESHOT, ONESHOT_METHODS
from nasforge.oneshot.spos import SPOS
from nasforge.oneshot.strategy import ONESHOT_NAMES, OneShotStrategy, SearchData, oneshot_factory
from nasforge.oneshot.supernet import KINDS, MixedInput, MixedOp, Supernet, SupernetMode, SupernetState

__all__ = [
    "DARTS",
    "DARTSPT",
    "DEFAULT_ONESHOT",
    "ENAS",
    "GDAS",
    "KINDS",
    "OFA",
    "ONESHOT_METHODS",
    "ONESHOT_NAMES",
    "SPOS",
    "BaseOneShot",
    "BetaDARTS",
    "DrNAS",
    "EntangledMode",
    "EntangledSupernet",
    "FedNAS",
    "MixedInput",
    "MixedOp",
    "OneShotResult",
    "OneShotStrategy",
    "SearchData",
    "Supernet",
    "SupernetMode",
    "SupernetState",
    "oneshot_factory",
    "supernet_accuracy",
]
