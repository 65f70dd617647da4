"""Weight inheritance: what is copied from a parent network, how much, and the weight files."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasforge.errors import ConfigError
from nasforge.estimation.inheritance import (
    WeightInheritance,
    inherit,
    load_weights,
    make_inheritance,
    save_weights,
)


def net(width: int = 8, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, width, kernel), nn.BatchNorm2d(width), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def mlp(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))


def test_same_shapes_copy_everything_including_buffers() -> None:
    torch.manual_seed(0)
    parent, child = mlp(6), mlp(6)
    parent[0].weight.data.fill_(0.5)
    assert inherit(child, parent.state_dict()) == pytest.approx(1.0)
    for a, b in zip(parent.parameters(), child.parameters(), strict=True):
        assert torch.equal(a, b)
    bn_parent, bn_child = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    bn_parent.running_mean.fill_(2.0)
    inherit(bn_child, bn_parent.state_dict())
    assert torch.equal(bn_child.running_mean, bn_parent.running_mean)


def test_wider_child_gets_the_overlapping_block() -> None:
    torch.manual_seed(0)
    parent, child = mlp(4), mlp(6)
    fresh = child[0].weight.detach().clone()
    fraction = inherit(child, parent.state_dict())
    assert torch.equal(child[0].weight[:4], parent[0].weight)
    assert torch.equal(child[0].weight[4:], fresh[4:])  # the new units keep their initialisation
    assert torch.equal(child[2].weight[:, :4], parent[2].weight)
    copied = 4 * 4 + 4 + 3 * 4 + 3
    total = sum(p.numel() for p in child.parameters())
    assert fraction == pytest.approx(copied / total)


def test_partial_off_and_other_kernels_stay_fresh() -> None:
    torch.manual_seed(0)
    assert inherit(mlp(6), mlp(4).state_dict(), partial=False) == pytest.approx((3) / (4 * 6 + 6 + 6 * 3 + 3))
    parent, child = net(kernel=3), net(kernel=5)
    fresh = child[0].weight.detach().clone()
    inherit(child, parent.state_dict())
    assert torch.equal(child[0].weight, fresh)  # a 5x5 kernel is not part of a 3x3 one
    assert torch.equal(child[1].weight, parent[1].weight)  # the batch norm matches


def test_lazy_parameters_are_left_alone() -> None:
    parent = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    child = nn.Sequential(nn.Linear(4, 4), nn.LazyLinear(2))
    assert inherit(child, parent.state_dict()) == pytest.approx(1.0)  # of the initialised parameters
    assert torch.equal(child[0].weight, parent[0].weight)


def test_unrelated_state_copies_nothing() -> None:
    assert inherit(mlp(4), {"other.weight": torch.ones(2)}) == 0.0
    assert inherit(mlp(4), {}) == 0.0


def test_save_and_load_round_trip(tmp_path) -> None:
    model = mlp(5)
    path = tmp_path / "w" / "3.pt"
    save_weights(model, path)
    state = load_weights(path)
    assert state is not None and set(state) == set(model.state_dict())
    assert not list(path.parent.glob("*.tmp*"))
    assert load_weights(tmp_path / "missing.pt") is None
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert load_weights(tmp_path / "bad.pt") is None


def test_child_epochs_and_specs() -> None:
    assert WeightInheritance(epochs=0.5).child_epochs(4) == 2
    assert WeightInheritance(epochs=0.5).child_epochs(1) == 1
    assert WeightInheritance(epochs=0.3).child_epochs(10) == 3
    assert WeightInheritance(epochs=2).child_epochs(10) == 2
    assert WeightInheritance(epochs=20).child_epochs(10) == 10
    assert make_inheritance(None) is None and make_inheritance(False) is None
    assert make_inheritance(True) == WeightInheritance()
    assert make_inheritance({"epochs": 1}) == WeightInheritance(epochs=1)
    with pytest.raises(ConfigError, match="fraction"):
        WeightInheritance(epochs=1.5)
    with pytest.raises(ConfigError, match="fraction"):
        WeightInheritance(epochs=0)
    with pytest.raises(ConfigError, match="valid"):
        make_inheritance({"epoch": 0.5})
    with pytest.raises(ConfigError, match="lr_scale"):
        WeightInheritance(lr_scale=0)
    with pytest.raises(ConfigError, match="lr_scale"):
        make_inheritance({"lr_scale": 2.0})
    with pytest.raises(ConfigError, match="true, false"):
        make_inheritance("yes")


def test_a_child_fine_tunes_at_a_lower_rate_only_when_asked() -> None:
    assert WeightInheritance(epochs=0.5).child_settings(4, 0.1) == {"epochs": 2}
    tuned = WeightInheritance(epochs=1, lr_scale=0.25).child_settings(4, 0.2)
    assert tuned == {"epochs": 1, "learning_rate": 0.05, "schedule": "cosine"}
    assert make_inheritance({"epochs": 1, "lr_scale": 0.25}) == WeightInheritance(epochs=1, lr_scale=0.25)
