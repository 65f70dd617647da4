"""`MLPSpace`: multilayer perceptrons for tabular data (a `CSVDataset`'s encoded rows) or any flat input."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from nasforge.errors import SpaceError
from nasforge.space import ModelSpace, Repeat, choice, hparam

#: activation name -> module factory
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "selu": nn.SELU,
}
NORMS = ("batch", "layer", "none")


class MLPSpace(ModelSpace):
    """A stack of 1-4 fully connected layers (Linear, normalisation, activation, dropout) and a linear head.

    Decisions: `layers` (the depth) and each layer's `width` (`layers/0/width`, ...); shared by all layers,
    the `norm` (batch / layer / none), `activation`, `dropout` and whether each layer is `residual` (a skip
    connection, through a linear projection where the width changes); and the training hyperparameters
    `optimizer` (adamw / sgd), `learning_rate`, `batch_size` and `weight_decay`, which the training
    evaluator reads from the arch. The input is flattened, so any `input_shape` works.

    >>> space = MLPSpace(input_shape=(12,), num_classes=3)
    >>> net = space.freeze(space.random(0))
    >>> net(torch.zeros(5, 12)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (16,),
        num_classes: int = 2,
        depths: Sequence[int] = (1, 2, 3, 4),
        widths: Sequence[int] = (64, 128, 256, 512),
        dropouts: Sequence[float] = (0.0, 0.1, 0.2, 0.3),
        norms: Sequence[str] = NORMS,
        activations: Sequence[str] = ("relu", "gelu", "silu"),
        residual: bool = True,
    ) -> None:
        super().__init__()
        owner = "MLPSpace"
        shape = tuple(input_shape)
        if not shape or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in shape):
            raise SpaceError(f"`input_shape` of {owner} must be ints >= 1, e.g. (32,), but got {input_shape!r}.")
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise SpaceError(f"`num_classes` of {owner} must be an int >= 1, but got {num_classes!r}.")
        if not depths or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in depths):
            raise SpaceError(f"`depths` of {owner} must be ints >= 1 (hidden layers), but got {depths!r}.")
        if not widths or any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
            raise SpaceError(f"`widths` of {owner} must be ints >= 1, but got {widths!r}.")
        if not dropouts or any(not isinstance(p, (int, float)) or not 0 <= p < 1 for p in dropouts):
            raise SpaceError(f"`dropouts` of {owner} must be numbers in [0, 1), but got {dropouts!r}.")
        for arg, given, valid in (("norms", norms, NORMS), ("activations", activations, tuple(ACTIVATIONS))):
            unknown = [v for v in given if v not in valid]
            if unknown or not given:
                raise SpaceError(
                    f"`{arg}` of {owner} must be a non-empty subset of {list(valid)}, but got {list(given)!r}."
                )
        # AdamW and SGD want learning rates a decade or two apart: the grid spans both
        hparam("optimizer", ["adamw", "sgd"])
        hparam("learning_rate", [0.003, 0.001, 0.01, 0.03, 0.1])
        hparam("batch_size", [128, 64, 256])
        hparam("weight_decay", [1e-4, 1e-3, 1e-2, 0.0])
        norm = choice("norm", list(norms))
        act = choice("activation", list(activations))
        drop = choice("dropout", [float(p) for p in dropouts])
        skip = choice("residual", [False, True]) if residual else False
        state = {"c": math.prod(shape)}

        def layer(i: int) -> nn.Module:
            c_in, c_out = state["c"], choice("width", list(widths))
            state["c"] = c_out
            return DenseBlock(c_in, c_out, norm, act, drop, skip)

        self.flatten = nn.Flatten()
        self.layers = Repeat(layer, tuple(depths), label="layers")
        self.head = nn.Linear(state["c"], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.flatten(x)))


class DenseBlock(nn.Module):
    """Linear -> normalisation -> activation -> dropout, optionally added to its (projected) input."""

    def __init__(self, c_in: int, c_out: int, norm: str, activation: str, dropout: float, residual: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(c_in, c_out, bias=norm == "none")  # a norm's shift makes the bias redundant
        self.norm = {"batch": lambda: nn.BatchNorm1d(c_out), "layer": lambda: nn.LayerNorm(c_out)}.get(
            norm, nn.Identity
        )()
        self.act = ACTIVATIONS[activation]()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.residual = residual
        self.skip = nn.Identity() if c_in == c_out or not residual else nn.Linear(c_in, c_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.drop(self.act(self.norm(self.linear(x))))
        if self.residual:
            out = out + self.skip(x)
        return out
