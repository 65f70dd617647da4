"""A client's local training: FedProx's proximal term holds the weights near the ones the server sent."""

from __future__ import annotations

import torch
from torch import nn

from nasforge.data import ArrayData
from nasforge.evaluators import TrainConfig
from nasforge.federated.client import local_train


def drift(mu: float) -> float:
    gen = torch.Generator().manual_seed(0)
    data = ArrayData(torch.randn(64, 6, generator=gen), torch.randint(0, 3, (64,), generator=gen))
    torch.manual_seed(0)
    model = nn.Linear(6, 3)
    start = [p.detach().clone() for p in model.parameters()]
    config = TrainConfig(
        epochs=5, batch_size=16, learning_rate=0.5, optimizer="sgd", momentum=0.0, weight_decay=0.0, augment="none"
    )
    loss = local_train(model, data, config, learning_rate=0.5, proximal_mu=mu, seed=0)
    assert loss > 0
    return float(sum((p.detach() - s).square().sum() for p, s in zip(model.parameters(), start, strict=True)) ** 0.5)


def test_the_proximal_term_keeps_local_weights_near_the_global_ones() -> None:
    free, held = drift(0.0), drift(1.0)
    assert held < 0.7 * free
    assert drift(0.0) == free  # the local training is fixed by its seed
