"""Performance estimation without training: zero-cost proxies of an untrained network."""

from nasforge.estimation.proxies import (
    PROXIES,
    Proxy,
    fisher,
    flops,
    grad_norm,
    jacob_cov,
    naswot,
    params,
    score,
    snip,
    synflow,
)
from nasforge.estimation.scorer import DATA_FREE, ProxyScorer, mean_rank

__all__ = [
    "DATA_FREE",
    "PROXIES",
    "Proxy",
    "ProxyScorer",
    "fisher",
    "flops",
    "grad_norm",
    "jacob_cov",
    "mean_rank",
    "naswot",
    "params",
    "score",
    "snip",
    "synflow",
]
