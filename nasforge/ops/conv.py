"""Convolutional building blocks shared by the zoo's spaces."""

from __future__ import annotations

import torch
from torch import nn

from nasforge.space.entangle import Switch, optional


class ConvBNReLU(nn.Sequential):
    """Conv -> BatchNorm -> ReLU with 'same' padding."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class SepConv(nn.Sequential):
    """Depthwise-separable convolution: depthwise k x k, then pointwise 1 x 1 (each with BN and ReLU)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__(
            ConvBNReLU(c_in, c_in, kernel, stride, groups=c_in),
            ConvBNReLU(c_in, c_out, 1),
        )


class MBConv(nn.Module):
    """Inverted residual block of MobileNetV2: expand 1 x 1, depthwise k x k, project 1 x 1 (linear)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, expand: int = 4, stride: int = 1) -> None:
        super().__init__()
        hidden = c_in * expand
        self.body = nn.Sequential(
            ConvBNReLU(c_in, hidden, 1),
            ConvBNReLU(hidden, hidden, kernel, stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Zero(nn.Module):
    """Outputs zeros of the right shape: the 'none' operation of cell spaces."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class Residual(nn.Module):
    """`body(x) + shortcut(x)`, projecting the shortcut with a 1 x 1 conv when the widths differ."""

    def __init__(self, body: nn.Module, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = body
        self.shortcut: nn.Module = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


def residual_if(flag: bool | Switch, body: nn.Module, c_in: int, c_out: int) -> nn.Module:
    """`Residual(body, c_in, c_out)` when `flag` holds, else `body` itself; a searched `flag` written this way
    (rather than with a Python `if`) is shared by a weight-entangled supernet (`nasforge.space.optional`)."""
    return optional(flag, lambda: Residual(body, c_in, c_out), body, "body", shortcut=True)


class GlobalPoolHead(nn.Module):
    """Global average pooling, dropout and a linear classifier."""

    def __init__(self, c_in: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))
