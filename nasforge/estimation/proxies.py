"""Zero-cost proxies: scores of an untrained network, computed on one batch, that rank architectures.

Every proxy is a function `(model, x, y) -> float` on any `nn.Module` that maps a batch `x` of shape
`(N, ...)` to a tensor (logits `(N, classes)` for the proxies that need a loss); `y` holds int64 class labels
and may be `None` for the proxies that do not use it (`synflow`, `naswot`, `jacob_cov`, `params`, `flops`).
Higher is better for all of them. `PROXIES` maps names to functions; `score` computes several at once.

The definitions follow Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS" (ICLR 2021; the code of
SamsungLabs/zero-cost-nas, also used by NASLib), Tanaka et al. 2020 (synflow) and Mellor et al. 2021
(naswot, and jacob_cov from that paper's first version):

- `synflow`: parameters replaced by their absolute values in float64, BatchNorm bypassed (its output is its
  input, as NASLib's `bn=False`), dropout off, one input of ones; sum over conv / linear weights of
  `|theta * d(sum of output)/d theta|`. Data-free: `x` gives only the input shape. The raw sum is returned
  (about 1e18 to 1e50 on NAS-Bench-201); NASLib's published NAS-Bench-201 scores are its natural log.
- `naswot`: binary codes `c` of the inputs of every `nn.ReLU` per sample; `K = sum over ReLUs of
  c c^T + (1 - c)(1 - c)^T`; score `log|det K|`. ReLUs whose input gets no gradient from the output (dead
  branches such as a conv feeding only a `none` edge, or all units inactive) are left out, as NASLib does.
- `grad_norm`: sum over conv / linear layers of the L2 norm of the weight gradient of the cross-entropy loss.
- `snip`: sum over conv / linear weights of `|theta * dL/dtheta|` (cross-entropy loss).
- `fisher`: at the output `z` of every conv / linear layer, `g[n, k] = sum over positions of
  z * dL/dz`, `F_k = 0.5 * mean_n g[n, k]^2`; score `sum_k F_k * fan_in`, where `fan_in` is the number of
  weights feeding channel k. This weighting is what the published code sums (it spreads each channel's
  value over the channel's weights before summing), so the scores compare with the published ones.
- `jacob_cov`: Jacobian `J` of the sum of the output with respect to the input, one row per sample;
  eigenvalues `v` of the correlation matrix of the rows; score `-sum(log(v + k) + 1 / (v + k))`, k = 1e-5.
- `params`, `flops`: `nasforge.cost.count_params` and `count_flops` (one sample of `x`'s shape).

The data-dependent proxies run the network in training mode (BatchNorm on batch statistics, as the
reference code does on a freshly initialised network) with dropout off, so they are deterministic.

No proxy changes the model: all of them run on copies of its parameters and buffers through
`torch.func.functional_call` (so weights, BatchNorm running statistics and `.grad` stay as they were), and
the train / eval mode of every module is restored. A score that comes out NaN or infinite (e.g. a singular
kernel for `naswot`, or a network whose Jacobian rows are constant) is returned as `float('nan')`: the caller
decides how to rank such a network. Invalid inputs raise `ConfigError`.

>>> from torch import nn
>>> net = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
>>> x, y = torch.randn(6, 3, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2])
>>> scores = score(net, x, y, names=("synflow", "params"))
>>> scores["params"]
131.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from nasforge.cost import count_flops, count_params
from nasforge.errors import ConfigError
from nasforge.registry import Registry

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

#: A zero-cost proxy: `(model, x, y) -> float`, higher meaning a better architecture.
Proxy = Callable[[nn.Module, torch.Tensor, torch.Tensor | None], float]

JACOB_COV_K = 1e-5
_WEIGHTED = (nn.Linear, nn.modules.conv._ConvNd)


# ----------------------------------------------------------------------------------------------- helpers


def _check(model: Any, x: Any, y: Any, what: str, *, labels: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Validate the arguments; return `x` and `y` on the model's device, `x` in its floating dtype."""
    if not isinstance(model, nn.Module):
        raise ConfigError(f"`model` of proxy {what!r} must be a torch.nn.Module, but got {type(model).__name__}.")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2 or len(x) < 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ConfigError(
            f"`x` of proxy {what!r} must be a floating tensor of shape (N, ...) with N >= 1, but got {shape}."
        )
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    device = param.device if param is not None else x.device
    dtype = param.dtype if param is not None else x.dtype
    x = x.detach().to(device=device, dtype=dtype)
    if y is None:
        if labels:
            raise ConfigError(f"Proxy {what!r} needs class labels `y` (an int64 tensor of shape (N,)), but got None.")
        return x, None
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.dim() != 1 or len(y) != len(x):
        got = f"{y.dtype} of shape {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
        raise ConfigError(
            f"`y` of proxy {what!r} must be an int64 tensor of shape ({len(x)},) matching `x`, but got {got}."
        )
    return x, y.detach().to(device)


def _nan_if_bad(value: float) -> float:
    return value if math.isfinite(value) else float("nan")


@contextmanager
def _modes_kept(model: nn.Module) -> Iterator[None]:
    """Restore the train / eval mode of every module of `model` on exit."""
    saved = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for m, training in saved:
            m.training = training


@contextmanager
def _mode(model: nn.Module, train: bool) -> Iterator[None]:
    """Set `model` to train or eval mode with dropout off; restore every module's mode afterwards."""
    with _modes_kept(model):
        model.train(train)
        for m in model.modules():
            if isinstance(m, nn.modules.dropout._DropoutNd):
                m.eval()
        yield


@contextmanager
def _hooks(modules: Sequence[nn.Module], hook: Callable[..., Any]) -> Iterator[None]:
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _copies(model: nn.Module, dtype: torch.dtype | None = None, absolute: bool = False) -> dict[str, torch.Tensor]:
    """Detached copies of the parameters (floating ones requiring grad) and buffers, for `functional_call`."""
    out: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        t = p.detach().clone()
        if t.is_floating_point():
            if dtype is not None:
                t = t.to(dtype)
            if absolute:
                t = t.abs()
            t.requires_grad_(True)
        out[name] = t
    for name, b in model.named_buffers():
        t = b.detach().clone()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        out[name] = t
    return out


def _run(model: nn.Module, tensors: dict[str, torch.Tensor], x: torch.Tensor, what: str) -> torch.Tensor:
    out = functional_call(model, tensors, (x,))
    if not isinstance(out, torch.Tensor):
        raise ConfigError(
            f"Proxy {what!r} needs a model that returns one tensor, but it returned {type(out).__name__}."
        )
    return out


def _weighted_layers(model: nn.Module, tensors: dict[str, torch.Tensor], what: str) -> list[tuple[nn.Module, str]]:
    """Conv and linear layers with their weight's name in `tensors` (tied weights once)."""
    layers: list[tuple[nn.Module, str]] = [
        (m, f"{name}.weight" if name else "weight")
        for name, m in model.named_modules()
        if isinstance(m, _WEIGHTED) and isinstance(getattr(m, "weight", None), nn.Parameter)
    ]
    layers = [(m, key) for m, key in layers if key in tensors and tensors[key].requires_grad]
    if not layers:
        raise ConfigError(f"Proxy {what!r} needs a model with convolution or linear layers, but it has none.")
    return layers


def _grads(out: torch.Tensor, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
    grads = torch.autograd.grad(out, list(inputs), allow_unused=True)
    return list(grads)


def _loss(out: torch.Tensor, y: torch.Tensor | None, what: str) -> torch.Tensor:
    assert y is not None
    if out.dim() != 2 or len(out) != len(y):
        raise ConfigError(
            f"Proxy {what!r} needs logits of shape (N, classes) with N = {len(y)}, but the model returned "
            f"{tuple(out.shape)}."
        )
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= out.shape[1]):
        raise ConfigError(
            f"Proxy {what!r} needs labels in 0..{out.shape[1] - 1} (the model's {out.shape[1]} outputs), but `y` "
            f"holds {int(y.min())}..{int(y.max())}."
        )
    return F.cross_entropy(out, y)


# ----------------------------------------------------------------------------------------------- proxies


def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """Synaptic flow on absolute float64 weights with BatchNorm bypassed; data-free (only `x`'s shape)."""
    x, _ = _check(model, x, y, "synflow", labels=False)
    tensors = _copies(model, dtype=torch.float64, absolute=True)
    layers = _weighted_layers(model, tensors, "synflow")
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
    with _mode(model, train=False), _hooks(norms, lambda _m, inp, _out: inp[0]):
        out = _run(model, tensors, ones, "synflow")
        weights = [tensors[key] for _, key in layers]
        grads = _grads(out.sum(), weights)
    total = sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads) if g is not None)
    return _nan_if_bad(total)


def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """log|det K| of the kernel of binary ReLU codes (Mellor et al. 2021, second version)."""
    x, _ = _check(model, x, y, "naswot", labels=False)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ConfigError("Proxy 'naswot' needs a model with nn.ReLU modules (it reads their codes), but it has none.")
    tensors = _copies(model)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []  # (ReLU input, its kernel)

    def record(_m: nn.Module, inp: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        codes = (inp[0].detach() > 0).reshape(len(x), -1).float()
        kernel = codes @ codes.T + (1.0 - codes) @ (1.0 - codes).T  # exact in float32 below 2**24 units
        seen.append((inp[0], kernel.double()))

    with _mode(model, train=True), _hooks(relus, record):
        out = _run(model, tensors, x, "naswot")
        wanted = [t for t, _ in seen if t.requires_grad]
        grads = iter(_grads(out.sum(), wanted)) if wanted else iter(())
    K = torch.zeros((len(x), len(x)), dtype=torch.float64, device=x.device)
    for t, kernel in seen:
        if t.requires_grad:
            g = next(grads)
            if g is None or not bool(g.ne(0).any()):
                continue  # this ReLU does not reach the output
        K += kernel
    _, logdet = torch.linalg.slogdet(K)
    return _nan_if_bad(float(logdet))


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    """Sum over conv / linear layers of the L2 norm of the weight gradient of the cross-entropy loss."""
    x, y = _check(model, x, y, "grad_norm", labels=True)
    tensors = _copies(model)
    layers = _weighted_layers(model, tensors, "grad_norm")
    with _mode(model, train=True):
        loss = _loss(_run(model, tensors, x, "grad_norm"), y, "grad_norm")
        grads = _grads(loss, [tensors[key] for _, key in layers])
    return _nan_if_bad(sum(float(g.norm()) for g in grads if g is not None))


def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    """Sum over conv / linear weights of |theta * dL/dtheta| (Lee et al. 2019, as a proxy)."""
    x, y = _check(model, x, y, "snip", labels=True)
    tensors = _copies(model)
    layers = _weighted_layers(model, tensors, "snip")
    weights = [tensors[key] for _, key in layers]
    with _mode(model, train=True):
        loss = _loss(_run(model, tensors, x, "snip"), y, "snip")
        grads = _grads(loss, weights)
    return _nan_if_bad(sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads) if g is not None))


def fisher(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    """Channel Fisher information at conv / linear outputs, each channel weighted by its fan-in."""
    x, y = _check(model, x, y, "fisher", labels=True)
    tensors = _copies(model)
    layers = _weighted_layers(model, tensors, "fisher")
    fan_in = {id(m): math.prod(tensors[key].shape[1:]) for m, key in layers}
    outputs: list[tuple[int, torch.Tensor]] = []

    def record(m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if isinstance(out, torch.Tensor) and out.requires_grad:
            outputs.append((id(m), out))

    with _mode(model, train=True), _hooks([m for m, _ in layers], record):
        loss = _loss(_run(model, tensors, x, "fisher"), y, "fisher")
        grads = _grads(loss, [z for _, z in outputs]) if outputs else []
    total = 0.0
    for (key, z), g in zip(outputs, grads):
        if g is None:
            continue
        prod = (z.detach() * g).reshape(z.shape[0], z.shape[1], -1).sum(-1)  # (N, channels)
        total += float(prod.pow(2).mean(0).mul(0.5).sum()) * fan_in[key]
    return _nan_if_bad(total)


def jacob_cov(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """Jacobian covariance score (Mellor et al., first version): -sum(log(v + k) + 1/(v + k)), k = 1e-5."""
    x, _ = _check(model, x, y, "jacob_cov", labels=False)
    if len(x) < 2:
        raise ConfigError(f"Proxy 'jacob_cov' needs a batch of at least 2 samples, but `x` has {len(x)}.")
    tensors = _copies(model)
    inputs = x.clone().requires_grad_(True)
    with _mode(model, train=True):
        out = _run(model, tensors, inputs, "jacob_cov")
        (jac,) = _grads(out.sum(), [inputs])
    if jac is None:
        return float("nan")
    rows = jac.reshape(len(x), -1).double().cpu().numpy()
    with np.errstate(all="ignore"):
        corr = np.corrcoef(rows)
        if not np.all(np.isfinite(corr)):
            return float("nan")
        v = np.linalg.eigvalsh(corr)
        value = -float(np.sum(np.log(v + JACOB_COV_K) + 1.0 / (v + JACOB_COV_K)))
    return _nan_if_bad(value)


def params(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """Number of parameters (`count_params`)."""
    _check(model, x, y, "params", labels=False)
    return float(count_params(model))


def flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """FLOPs of one forward pass on one sample of `x`'s shape (`count_flops`, multiply-add = 2)."""
    x, _ = _check(model, x, y, "flops", labels=False)
    with _modes_kept(model):  # count_flops restores only the top module's mode
        return float(count_flops(model, tuple(x.shape[1:])))


#: Every proxy by name.
PROXIES: Registry[float] = Registry("proxy")
PROXIES.add("synflow", synflow)
PROXIES.add("naswot", naswot)
PROXIES.add("grad_norm", grad_norm)
PROXIES.add("snip", snip)
PROXIES.add("fisher", fisher)
PROXIES.add("jacob_cov", jacob_cov)
PROXIES.add("params", params)
PROXIES.add("flops", flops)
#: the order of `score`'s result when it is given no names
_ORDER = ("synflow", "naswot", "grad_norm", "snip", "fisher", "jacob_cov", "params", "flops")


def score(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, names: Sequence[str] = _ORDER
) -> dict[str, float]:
    """The proxies `names` of `model` on the batch `(x, y)`, by name (NaN where a score is not finite)."""
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"`names` of score must be a sequence of proxy names, but got {names!r}.")
    proxies = [PROXIES.get(name) for name in names]  # every name checked before any is computed
    return {name: proxy(model, x, y) for name, proxy in zip(names, proxies, strict=True)}
