"""`SmallImageCNN`: a convolutional space for small images (Fashion-MNIST, digits, CIFAR-sized inputs)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasforge.errors import SpaceError
from nasforge.ops import ConvBNReLU, GlobalPoolHead, MBConv, SepConv, residual_if
from nasforge.space import LayerChoice, ModelSpace, Repeat, choice, hparam, label_scope

#: Width options per stage; each block picks its own, the first option is the default.
STAGE_WIDTHS = ((24, 32, 48), (48, 64, 96), (96, 128, 192))
OPS = ("conv", "sep", "mbconv")


class SmallImageCNN(ModelSpace):
    """Three stages at falling resolution, each a stack of 1-3 searched blocks.

    After a full-resolution stem, every stage starts by halving the resolution (`downsample_first`; set it
    False to run the first stage at full resolution, at about four times the cost).

    Decisions: stem width; per stage the downsampling (max / avg pool or strided conv) and depth; per block
    the operation (conv, separable conv or MBConv, with the expansion ratio under MBConv), kernel size,
    width and a residual connection; head dropout; and the training hyperparameters `learning_rate`,
    `batch_size` and `weight_decay`, which the training evaluator reads from the arch.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        depths: Sequence[int] = (1, 2, 3),
        widths: Sequence[Sequence[int]] = STAGE_WIDTHS,
        ops: Sequence[str] = OPS,
        stem_widths: Sequence[int] = (16, 24, 32),
        downsample_first: bool = True,
    ) -> None:
        super().__init__()
        if len(widths) < 1 or any(len(w) < 1 for w in widths):
            raise SpaceError(f"`widths` of SmallImageCNN must be one non-empty list per stage, but got {widths!r}.")
        unknown = [op for op in ops if op not in OPS]
        if unknown or not ops:
            raise SpaceError(f"`ops` of SmallImageCNN must be a non-empty subset of {OPS}, but got {list(ops)!r}.")
        hparam("learning_rate", [0.05, 0.1, 0.2])
        hparam("batch_size", [128, 64, 256])
        hparam("weight_decay", [5e-4, 1e-4, 0.0])
        c = choice("stem_width", list(stem_widths))
        self.stem = ConvBNReLU(int(input_shape[0]), c, 3)
        stages: list[nn.Module] = []
        for s, stage_widths in enumerate(widths):
            with label_scope(f"stage{s}"):
                layers: list[nn.Module] = []
                if s > 0 or downsample_first:
                    layers.append(_downsample(c))
                state = {"c": c}
                layers.append(
                    Repeat(lambda i, w=stage_widths, st=state: _block(st, w, ops), tuple(depths), label="blocks")
                )
                stages.append(nn.Sequential(*layers))
                c = state["c"]
        self.stages = nn.Sequential(*stages)
        self.head = GlobalPoolHead(c, num_classes, choice("dropout", [0.0, 0.1, 0.3]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def _downsample(c: int) -> nn.Module:
    return LayerChoice(
        {
            "max": lambda: nn.MaxPool2d(2, ceil_mode=True),
            "avg": lambda: nn.AvgPool2d(2, ceil_mode=True),
            "conv": lambda: ConvBNReLU(c, c, 3, stride=2),
        },
        label="downsample",
    )


def _block(state: dict[str, int], widths: Sequence[int], ops: Sequence[str]) -> nn.Module:
    c_in = state["c"]
    c_out = choice("width", list(widths))
    kernel = choice("kernel", [3, 5])
    factories = {
        "conv": lambda: ConvBNReLU(c_in, c_out, kernel),
        "sep": lambda: SepConv(c_in, c_out, kernel),
        "mbconv": lambda: MBConv(c_in, c_out, kernel, expand=choice("expand", [3, 6])),
    }
    op = LayerChoice({name: factories[name] for name in ops}, label="op")
    state["c"] = c_out
    return residual_if(choice("residual", [True, False]), op, c_in, c_out)
