"""Parameters and FLOPs of a network: the static cost of an arch, known without training it.

`count_flops` runs one forward pass on a single sample of zeros in eval mode and counts the floating-point
operations of every ATen op that the pass dispatches. The counting rule (per sample):

- matrix products (linear, conv, matmul, bmm, fused attention's two products): 2 per multiply-add, as
  torch's `FlopCounterMode`; bias additions inside them are not counted.
- element-wise arithmetic and activations (add, sub, mul, div, clamp, relu, gelu, sigmoid, tanh, exp,
  sqrt, ...): 1 per output element, residual additions included.
- embedding look-ups: 1 per value read out (a (L,) id sequence into a width-d table: L * d).
- reductions (sum, mean, max over a dimension): 1 per input element; softmax and log-softmax: 3 per
  element (exponent, sum, divide).
- pooling: 1 per window element (output elements times the kernel's size); adaptive pooling: 1 per input
  element.
- normalisation: batch norm with stored statistics 2 per element with an affine (scale and shift; 1 without);
  a norm that computes its statistics (layer, group and instance norm) 5 with an affine (4 without), as
  fvcore counts them.
- recurrent layers (LSTM, GRU) through their cell's operations: gate products by the first rule, then 13 per
  hidden unit per step for an LSTM cell and 10 for a GRU cell.

Only floating-point results count: the integer and boolean work on token ids and masks (hashing, comparing,
`where` on ids) is bookkeeping, not arithmetic. Copies, views, concatenation and padding count nothing.

>>> from torch import nn
>>> count_flops(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), (4,))  # 2 * 4 * 3 + 3
27
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeGuard

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "count_params"]

aten = torch.ops.aten


def count_params(model: nn.Module) -> int:
    """The number of parameters (trainable or not); buffers such as batch-norm statistics are not counted."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass on a single sample of `input_shape`, in eval mode (the module docstring
    gives the counting rule). The model's train/eval mode is restored."""
    was_training = model.training
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    model.eval()
    recurrent = any(isinstance(m, nn.RNNBase) for m in model.modules())
    counter = FlopCounterMode(display=False, custom_mapping=_FORMULAS)
    try:
        with torch.no_grad(), _cells_only(recurrent), counter:
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


@contextmanager
def _cells_only(active: bool) -> Iterator[None]:
    """oneDNN and cuDNN run a whole recurrent layer as one opaque op; without them it runs cell by cell on
    every device, and the rule counts the cells' operations. Other layers keep the fast backends."""
    if not active:
        yield
        return
    backends = torch.backends
    previous = backends.mkldnn.enabled, backends.cudnn.enabled
    backends.mkldnn.enabled, backends.cudnn.enabled = False, False  # type: ignore[assignment]
    try:
        yield
    finally:
        backends.mkldnn.enabled, backends.cudnn.enabled = previous


# --- the rule's formulas, on the raw arguments and output of one ATen op ---------------------------------------
Formula = Callable[..., int]


def _raw(formula: Formula) -> Formula:
    formula._get_raw = True  # type: ignore[attr-defined]  # FlopCounterMode passes tensors, not their shapes
    return formula


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (tuple, list)) and value else value


def _floating(value: Any) -> TypeGuard[torch.Tensor]:
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def _per_output(flops_per_element: int) -> Formula:
    def formula(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
        out = _first(out_val)
        return flops_per_element * out.numel() if _floating(out) else 0

    return _raw(formula)


def _per_input(flops_per_element: int) -> Formula:
    def formula(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
        x = args[0] if args else None
        return flops_per_element * x.numel() if _floating(x) else 0

    return _raw(formula)


def _window_pool(dims: int) -> Formula:
    def formula(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
        out = _first(out_val)
        given = args[1] if len(args) > 1 else kwargs["kernel_size"]
        kernel = [given] if isinstance(given, int) else list(given)
        window = math.prod(kernel) if len(kernel) == dims else kernel[0] ** dims  # one size for every dim
        return out.numel() * window if _floating(out) else 0

    return _raw(formula)


def _affine_norm(with_affine: int, weight_at: int) -> Formula:
    def formula(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
        x = args[0]
        affine = len(args) > weight_at and args[weight_at] is not None
        return (with_affine if affine else with_affine - 1) * x.numel() if _floating(x) else 0

    return _raw(formula)


@_raw
def _batch_norm(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
    # (input, weight, bias, running_mean, running_var, training, ...) or, without running statistics,
    # (input, weight, bias, training, ...): training mode or no statistics means they are computed here
    training = len(args) > 5 and args[5] is True
    stored = isinstance(args[3], torch.Tensor) and not training
    return _affine_norm(2 if stored else 5, 1)(*args, out_val=out_val)


@_raw
def _lstm_cell(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
    return 13 * args[2].numel()  # cx: (N, H); the gates' sum (4), their activations (4), c' (3), h' (2)


@_raw
def _gru_cell(*args: Any, out_val: Any = None, **kwargs: Any) -> int:
    return 10 * args[2].numel()  # hx: (N, H); r and z (4), n (3), h' (3)


_ELEMENTWISE = (
    "add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_", "neg", "abs", "reciprocal", "pow",
    "exp", "log", "sqrt", "rsqrt", "clamp", "clamp_", "clamp_min", "clamp_min_", "clamp_max", "maximum",
    "minimum", "addcmul", "addcdiv", "relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "gelu",
    "silu", "silu_", "mish", "softplus", "sigmoid", "sigmoid_", "tanh", "tanh_", "hardtanh", "hardtanh_",
    "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_", "erf",
)  # fmt: skip
_REDUCTIONS = ("sum", "mean", "amax", "amin", "max", "min", "prod", "logsumexp")
_POOLS = {
    "max_pool1d": 1, "max_pool2d": 2, "max_pool3d": 3, "max_pool2d_with_indices": 2, "max_pool3d_with_indices": 3,
    "avg_pool1d": 1, "avg_pool2d": 2, "avg_pool3d": 3,
}  # fmt: skip
_ADAPTIVE_POOLS = (
    "_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d",
)  # fmt: skip


def _formulas() -> dict[Any, Formula]:
    table: dict[str, Formula] = {}
    table.update(dict.fromkeys(_ELEMENTWISE, _per_output(1)))
    table.update(dict.fromkeys(_REDUCTIONS, _per_input(1)))
    table.update({name: _window_pool(dims) for name, dims in _POOLS.items()})
    table.update(dict.fromkeys(_ADAPTIVE_POOLS, _per_input(1)))
    table.update(
        embedding=_per_output(1),
        _softmax=_per_output(3),
        _log_softmax=_per_output(3),
        _native_batch_norm_legit_no_training=_affine_norm(2, 1),
        _native_batch_norm_legit=_batch_norm,
        native_batch_norm=_batch_norm,
        native_layer_norm=_affine_norm(5, 2),
        native_group_norm=_affine_norm(5, 1),
        _thnn_fused_lstm_cell=_lstm_cell,
        _thnn_fused_gru_cell=_gru_cell,
    )
    # an op missing from this build of torch is simply not counted
    return {getattr(aten, name): f for name, f in table.items() if hasattr(aten, name)}


_FORMULAS = _formulas()
