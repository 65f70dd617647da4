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

__all__ = [
    "PROXIES",
    "Proxy",
    "fisher",
    "flops",
    "grad_norm",
    "jacob_cov",
    "naswot",
    "params",
    "score",
    "snip",
    "synflow",
]
