"""`SmallImageCNN`: a convolutional space for small images (Fashion-MNIST, digits, CIFAR-sized inputs)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasforge.ops import ConvBNReLU, GlobalPoolHead, MBConv, Residual, SepConv
from nasforge.space import LayerChoice, ModelSpace, Repeat, choice, hparam, label_scope

#: Width options per stage; each block picks its own, the first option is the default.
STAGE_WIDTHS = ((16, 24, 32), (32, 48, 64), (64, 96, 128))


class SmallImageCNN(ModelSpace):
    """Three stages at falling resolution, each a stack of 1-3 searched blocks.

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
    ) -> None:
        super().__init__()
        hparam("learning_rate", [0.05, 0.1, 0.2])
        hparam("batch_size", [128, 64, 256])
        hparam("weight_decay", [5e-4, 1e-4, 0.0])
        c = choice("stem_width", [16, 24, 32])
        self.stem = ConvBNReLU(int(input_shape[0]), c, 3)
        stages: list[nn.Module] = []
        for s, widths in enumerate(STAGE_WIDTHS):
            with label_scope(f"stage{s}"):
                layers: list[nn.Module] = []
                if s > 0:
                    layers.append(_downsample(c))
                state = {"c": c}
                layers.append(Repeat(lambda i, w=widths, st=state: _block(st, w), tuple(depths), label="blocks"))
                stages.append(nn.Sequential(*layers))
                c = state["c"]
        self.stages = nn.Sequential(*stages)
        self.head = GlobalPoolHead(c, num_classes, choice("dropout", [0.0, 0.1, 0.3]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def _downsample(c: int) -> nn.Module:
    return LayerChoice(
        {
            "max": lambda: nn.MaxPool2d(2),
            "avg": lambda: nn.AvgPool2d(2),
            "conv": lambda: ConvBNReLU(c, c, 3, stride=2),
        },
        label="downsample",
    )


def _block(state: dict[str, int], widths: Sequence[int]) -> nn.Module:
    c_in = state["c"]
    c_out = choice("width", list(widths))
    kernel = choice("kernel", [3, 5])
    op = LayerChoice(
        {
            "conv": lambda: ConvBNReLU(c_in, c_out, kernel),
            "sep": lambda: SepConv(c_in, c_out, kernel),
            "mbconv": lambda: MBConv(c_in, c_out, kernel, expand=choice("expand", [3, 6])),
        },
        label="op",
    )
    state["c"] = c_out
    if choice("residual", [True, False]):
        return Residual(op, c_in, c_out)
    return op
