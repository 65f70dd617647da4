"""A one-shot toy with a known optimum, shared by the one-shot and FedNAS tests."""

from __future__ import annotations

import torch
from torch import nn

from nasforge.space import LayerChoice, ModelSpace


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0


class Separable(ModelSpace):
    """Linearly separable data: the `hidden` edge must be `linear`; `zero` kills the signal (known optimum)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = LayerChoice({"zero": Zero, "linear": lambda: nn.Linear(8, 8)}, label="hidden")
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.hidden(x)))
