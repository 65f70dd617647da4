"""Candidate building blocks for search spaces."""

from nasforge.ops.conv import ConvBNReLU, GlobalPoolHead, MBConv, Residual, SepConv, Zero, residual_if

__all__ = ["ConvBNReLU", "GlobalPoolHead", "MBConv", "Residual", "SepConv", "Zero", "residual_if"]
