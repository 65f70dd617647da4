"""One-shot NAS: a user's unchanged `ModelSpace` becomes a weight-sharing supernet, searched by gradient
(DARTS, GDAS, DrNAS, beta-DARTS) or by sampling (SPOS, ENAS), and the found arch is read back as an `Arch`."""

from nasforge.oneshot.base import BaseOneShot, OneShotResult
from nasforge.oneshot.darts import DARTS, DARTSPT, GDAS, BetaDARTS, DrNAS, supernet_accuracy
from nasforge.oneshot.enas import ENAS
from nasforge.oneshot.spos import SPOS
from nasforge.oneshot.supernet import KINDS, MixedInput, MixedOp, Supernet, SupernetMode, SupernetState

__all__ = [
    "DARTS",
    "DARTSPT",
    "ENAS",
    "GDAS",
    "KINDS",
    "SPOS",
    "BaseOneShot",
    "BetaDARTS",
    "DrNAS",
    "MixedInput",
    "MixedOp",
    "OneShotResult",
    "Supernet",
    "SupernetMode",
    "SupernetState",
    "supernet_accuracy",
]
