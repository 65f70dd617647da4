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
    assert not child[2].weight[:, 4:].any()  # ... and reach the old outputs through zero weights
    x = torch.randn(5, 4)
    torch.testing.assert_close(child(x), parent(x))  # so the child computes what its parent did
    copied = 4 * 4 + 4 + 3 * 4 + 3
    total = sum(p.numel() for p in child.parameters())
    assert fraction == pytest.approx(copied / total)


def test_partial_off_and_other_kernels_stay_fresh() -> None:
    torch.manual_seed(0)
    assert inherit(mlp(6), mlp(4).state_dict(), partial=False) == pytest.approx((3) / (4 * 6 + 6 + 6 * 3 + 3))
    parent, child = net(kernel=3), net(kernel=4)
    fresh = child[0].weight.detach().clone()
    inherit(child, parent.state_dict())
    assert torch.equal(child[0].weight, fresh)  # a 4x4 kernel has no centre to put a 3x3 one in
    assert torch.equal(child[1].weight, parent[1].weight)  # the batch norm matches
    child = net(kernel=5)
    fresh = child[0].weight.detach().clone()
    inherit(child, parent.state_dict(), preserve=False)
    assert torch.equal(child[0].weight, fresh)  # without `preserve` other kernel sizes stay fresh


def convs(width: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(2, width, kernel, padding=kernel // 2),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, 3, kernel, padding=kernel // 2),
    )


def test_larger_kernels_and_wider_layers_keep_the_parents_function() -> None:
    torch.manual_seed(0)
    parent = convs(4, 3)
    parent[1].running_mean.normal_()
    parent.eval()
    x = torch.randn(2, 2, 9, 9)
    for width, kernel in ((4, 5), (6, 3), (6, 7)):
        child = convs(width, kernel).eval()
        fraction = inherit(child, parent.state_dict())
        assert 0 < fraction < 1
        torch.testing.assert_close(child(x), parent(x))
    smaller = convs(4, 1)  # a 1x1 child gets the centre of each 3x3 kernel
    inherit(smaller, parent.state_dict())
    assert torch.equal(smaller[0].weight[:, :, 0, 0], parent[0].weight[:, :, 1, 1])


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


def test_by_fraction_trains_a_child_longer_the_less_it_inherited() -> None:
    rule = WeightInheritance(epochs=0.25, by_fraction=True)
    assert [rule.child_epochs(4, f) for f in (1.0, 0.9, 0.5, 0.1, 0.0)] == [1, 1, 3, 4, 4]
    assert WeightInheritance(epochs=0.25).child_epochs(4, 0.1) == 1  # off: the inherited part does not count
    assert rule.child_settings(8, 0.1, 0.5) == {"epochs": 5}
    with pytest.raises(ConfigError, match="by_fraction"):
        WeightInheritance(by_fraction=1)  # type: ignore[arg-type]


class Wrapped(nn.Module):
    """A residual block: the layer moves under `body.` and a 1x1 `shortcut` appears beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.shortcut = nn.Sequential(nn.Conv2d(2, 4, 1), nn.BatchNorm2d(4))


def test_a_layer_wrapped_into_a_block_or_out_of_it_keeps_its_weights() -> None:
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4))
    wrapped = Wrapped()
    shortcut = wrapped.shortcut[0].weight.detach().clone()
    assert inherit(wrapped, plain.state_dict()) < 1
    assert torch.equal(wrapped.body[0].weight, plain[0].weight)  # `0.weight` became `body.0.weight`
    # the shortcut does not take the same parent tensor again (and a 1x1 kernel is not the body's)
    assert torch.equal(wrapped.shortcut[0].weight, shortcut)
    torch.manual_seed(1)
    back = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4))
    assert inherit(back, wrapped.state_dict()) == pytest.approx(1.0)
    assert torch.equal(back[0].weight, wrapped.body[0].weight)  # the body, not the shortcut of the same name
