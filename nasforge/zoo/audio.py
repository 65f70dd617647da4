"""`AudioCNN`: convolution stacks over (features, time) input: log-mel spectrograms, cepstra, sensor series.

The first decision, `kind`, is a LayerChoice between two whole networks: a 1-D stack that treats the
features as channels and convolves over time, and a 2-D stack that treats (features x time) as a
one-channel image. The two share no layer shapes (1-D widths are in the hundreds, 2-D in the tens; 2-D
blocks must downsample to stay cheap), so each candidate carries its own decisions under its own scope
(`conv1d/...`, `conv2d/...`); a strategy sees them as conditional on `kind`, and one registered space
searches both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from nasforge.errors import SpaceError
from nasforge.space import LayerChoice, ModelSpace, Repeat, choice, hparam, label_scope

KINDS = ("conv1d", "conv2d")
WIDTHS_1D = (64, 128, 192)
WIDTHS_2D = (16, 32, 64)


class AudioCNN(ModelSpace):
    """1-D or 2-D convolution stacks over input of shape (features, time) or (channels, features, time).

    Decisions: `kind` (conv1d | conv2d); under each, the depth (`blocks`), per block the width, kernel
    size and pooling (max / avg, and for 1-D also none: 2-D blocks always halve both axes), the
    normalisation (batch | group | none), the global pooling over time (avg | avg+max) and head dropout;
    and the training hyperparameters `learning_rate`, `batch_size`, `weight_decay`, `optimizer` and
    `augment` (SpecAugment-style shifts and masks, or none), which the training evaluator reads.

    >>> space = AudioCNN((40, 63), 10)
    >>> space.freeze(space.default_arch())(torch.zeros(2, 40, 63)).shape  # doctest: +SKIP
    torch.Size([2, 10])
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (40, 63),
        num_classes: int = 10,
        kinds: Sequence[str] = KINDS,
        depths: Sequence[int] = (2, 3, 4),
        widths_1d: Sequence[int] = WIDTHS_1D,
        widths_2d: Sequence[int] = WIDTHS_2D,
        kernels: Sequence[int] = (3, 5, 7),
        augments: Sequence[str] = ("specaugment", "none"),
    ) -> None:
        super().__init__()
        shape = tuple(input_shape)
        if len(shape) not in (2, 3) or not all(isinstance(s, int) and s >= 1 for s in shape):
            raise SpaceError(
                "`input_shape` of AudioCNN must be (features, time) or (channels, features, time), ints >= 1, "
                f"but got {input_shape!r}."
            )
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise SpaceError(f"`kinds` of AudioCNN must be a non-empty subset of {KINDS}, but got {list(kinds)!r}.")
        if not depths or any(not isinstance(d, int) or d < 1 for d in depths):
            raise SpaceError(f"`depths` of AudioCNN must be a non-empty list of ints >= 1, but got {list(depths)!r}.")
        if not kernels or any(not isinstance(k, int) or k < 1 or k % 2 == 0 for k in kernels):
            raise SpaceError(f"`kernels` of AudioCNN must be odd ints >= 1, but got {list(kernels)!r}.")
        for arg, widths in (("widths_1d", widths_1d), ("widths_2d", widths_2d)):
            if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
                raise SpaceError(f"`{arg}` of AudioCNN must be a non-empty list of ints >= 1, but got {widths!r}.")
        hparam("learning_rate", [0.003, 0.001, 0.01])
        hparam("batch_size", [64, 32, 128])
        hparam("weight_decay", [1e-4, 1e-3, 0.0])
        hparam("optimizer", ["adamw", "sgd"])
        hparam("augment", list(augments))
        channels, features = (1, shape[0]) if len(shape) == 2 else shape[:2]
        # 1-D stacks see every (channel, feature) row as a channel; 2-D stacks see feature x time images
        factories = {
            "conv1d": lambda: _Stack(channels * features, len(shape), num_classes, 1, depths, widths_1d, kernels),
            "conv2d": lambda: _Stack(channels, len(shape), num_classes, 2, depths, widths_2d, kernels),
        }
        self.net = LayerChoice({k: factories[k] for k in kinds}, label="kind")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Stack(nn.Module):
    """A searched stack of conv blocks with a global-pooling classifier, 1-D or 2-D."""

    def __init__(
        self,
        c_in: int,
        input_dims: int,
        num_classes: int,
        dims: int,
        depths: Sequence[int],
        widths: Sequence[int],
        kernels: Sequence[int],
    ) -> None:
        super().__init__()
        self.dims = dims
        self.input_dims = input_dims
        with label_scope(f"conv{dims}d"):
            norm = choice("norm", ["batch", "group", "none"])
            pools = ["max", "avg", "none"] if dims == 1 else ["max", "avg"]
            state = {"c": c_in}

            def block(i: int) -> nn.Module:
                c_in, c_out = state["c"], choice("width", list(widths))
                state["c"] = c_out
                return _Block(dims, c_in, c_out, choice("kernel", list(kernels)), norm, choice("pool", pools))

            self.blocks = Repeat(block, tuple(depths), label="blocks")
            self.global_pool = choice("global_pool", ["avg", "avgmax"])
            c = state["c"] * (2 if self.global_pool == "avgmax" else 1)
            dropout = choice("dropout", [0.0, 0.2, 0.4])
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dims == 1 and self.input_dims == 3:
            x = x.flatten(1, 2)
        elif self.dims == 2 and self.input_dims == 2:
            x = x.unsqueeze(1)
        h = self.blocks(x)
        h = h.flatten(2)  # (N, C, positions): 2-D maps pool over frequency and time alike
        pooled = h.mean(2)
        if self.global_pool == "avgmax":
            pooled = torch.cat([pooled, h.amax(2)], dim=1)
        return self.fc(self.dropout(pooled))


class _Block(nn.Sequential):
    """Conv ('same' padding) -> normalisation -> ReLU -> optional 2x pooling (ceil mode: no size is lost)."""

    def __init__(self, dims: int, c_in: int, c_out: int, kernel: int, norm: str, pool: str) -> None:
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        layers: list[nn.Module] = [conv(c_in, c_out, kernel, padding=kernel // 2, bias=norm == "none")]
        if norm == "batch":
            layers.append(nn.BatchNorm1d(c_out) if dims == 1 else nn.BatchNorm2d(c_out))
        elif norm == "group":
            layers.append(nn.GroupNorm(math.gcd(8, c_out), c_out))
        layers.append(nn.ReLU(inplace=True))
        if pool != "none":
            if dims == 1:
                layers.append(nn.MaxPool1d(2, ceil_mode=True) if pool == "max" else nn.AvgPool1d(2, ceil_mode=True))
            else:
                layers.append(nn.MaxPool2d(2, ceil_mode=True) if pool == "max" else nn.AvgPool2d(2, ceil_mode=True))
        super().__init__(*layers)


__all__ = ["AudioCNN"]
