"""Candidate building blocks for search spaces."""

from nasforge.ops.conv import ConvBNReLU, GlobalPoolHead, MBConv, Residual, SepConv, Zero

__all__ = ["ConvBNReLU", "GlobalPoolHead", "MBConv", "Residual", "SepConv", "Zero"]
