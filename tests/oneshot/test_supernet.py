from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.errors import SpaceError
from nasforge.oneshot import MixedInput, MixedOp, Supernet, SupernetMode
from nasforge.space import InputChoice, LayerChoice, ModelSpace, Repeat, choice, hparam
from nasforge.zoo.nb201 import EDGES, NB201Space
from tests.toys import ToySpace


class TwoInputs(ModelSpace):
    """One LayerChoice used twice (shared label), an InputChoice and an hparam."""

    def __init__(self, reduction: str = "sum", n_chosen: int = 1) -> None:
        super().__init__()
        self.lr = hparam("learning_rate", [0.1, 0.01])
        self.a = LayerChoice({"lin": lambda: nn.Linear(4, 4), "id": nn.Identity}, label="op")
        self.b = LayerChoice({"lin": lambda: nn.Linear(4, 4), "id": nn.Identity}, label="op")
        self.pick = InputChoice(3, n_chosen, label="pick", reduction=reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pick([x, self.a(x), self.b(x)])


class WithRepeat(ModelSpace):
    def __init__(self) -> None:
        super().__init__()
        self.body = Repeat(lambda i: nn.Linear(4, 4), [1, 2], label="depth")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_layer_choice_becomes_mixed_op_sharing_alphas_by_label() -> None:
    supernet = Supernet(TwoInputs(), kind="softmax")
    mixed = [m for m in supernet.modules() if isinstance(m, MixedOp)]
    assert len(mixed) == 2 and {m.label for m in mixed} == {"op"}
    assert supernet.labels == ["op", "pick"]
    assert [a.numel() for a in supernet.arch_parameters()] == [2, 3]
    assert not set(map(id, supernet.arch_parameters())) & set(map(id, supernet.weight_parameters()))
    assert any(isinstance(m, MixedInput) for m in supernet.modules())


def test_softmax_forward_is_the_weighted_sum_and_gradients_reach_alphas() -> None:
    space = TwoInputs()
    supernet = Supernet(space, kind="softmax")
    x = torch.randn(5, 4)
    out = supernet(x)
    lin = supernet.net.a.candidates[0]
    mixed = 0.5 * lin(x) + 0.5 * x  # alphas start at 0: uniform weights
    expected = (x + mixed + 0.5 * supernet.net.b.candidates[0](x) + 0.5 * x) / 3
    assert torch.allclose(out, expected, atol=1e-6)
    out.sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in supernet.arch_parameters())


def test_derive_takes_argmax_per_label_and_is_valid() -> None:
    space = TwoInputs()
    supernet = Supernet(space, kind="softmax")
    with torch.no_grad():
        supernet.arch_parameters()[0][1] = 1.0
        supernet.arch_parameters()[1][2] = 1.0
    arch = supernet.derive()
    assert dict(arch) == {"learning_rate": 0.1, "op": "id", "pick": (2,)}
    assert space.validate(arch) == arch


def test_input_choice_picks_top_n() -> None:
    supernet = Supernet(TwoInputs(n_chosen=2), kind="softmax")
    with torch.no_grad():
        supernet.arch_parameters()[1].copy_(torch.tensor([0.3, -1.0, 0.5]))
    assert supernet.derive()["pick"] == (0, 2)


def test_single_path_runs_only_the_chosen_candidates() -> None:
    space = TwoInputs(reduction="concat", n_chosen=2)
    supernet = Supernet(space, kind="path")
    supernet.set_path({"op": "id", "pick": (0, 2)})
    x = torch.randn(3, 4)
    assert torch.equal(supernet(x), torch.cat([x, x], dim=1))
    path = supernet.sample_path(np.random.default_rng(0))
    assert set(path) == {"op", "pick"}


def test_gumbel_runs_one_candidate_per_label_with_straight_through_gradients() -> None:
    supernet = Supernet(TwoInputs(), kind="gumbel")
    calls: list[str] = []
    for mixed in (supernet.net.a, supernet.net.b):
        for key, module in zip(["lin", "id"], mixed.candidates):
            module.register_forward_hook(lambda *_, key=key: calls.append(key))
    torch.manual_seed(0)
    x = torch.randn(5, 4)
    out = supernet(x)
    assert len(calls) == 2 and calls[0] == calls[1]  # one candidate each; `b` shares `a`'s label and sample
    out.pow(2).sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in supernet.arch_parameters())


def test_nb201_supernet_shares_the_six_edges_across_cells() -> None:
    space = NB201Space(C=4, N=2, input_shape=(1, 8, 8))
    supernet = Supernet(space, kind="dirichlet")
    assert sorted(supernet.labels) == sorted(EDGES)
    assert sum(isinstance(m, MixedOp) for m in supernet.modules()) == 6 * 2 * 3
    assert supernet(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert space.validate(supernet.derive()) == supernet.derive()


def test_choice_cannot_be_expressed_and_names_label_and_mode() -> None:
    with pytest.raises(SpaceError, match=r"choice 'x' cannot be expressed in supernet\(softmax\) mode.*fixed="):
        Supernet(ToySpace(), kind="softmax")


def test_fixed_pins_choices_and_repeat() -> None:
    space = ToySpace()
    supernet = Supernet(space, kind="softmax", fixed={"x": 3, "y": 1, "k": 2})
    assert sorted(supernet.labels) == ["extra", "op"]
    arch = supernet.derive()
    assert arch["x"] == 3 and space.validate(arch) == arch
    with pytest.raises(SpaceError, match=r"Repeat 'depth' cannot be expressed in supernet\(path\) mode"):
        Supernet(WithRepeat(), kind="path")
    deep = Supernet(WithRepeat(), kind="path", fixed={"depth": 2})
    assert deep.derive() == {"depth": 2}


def test_fixed_pins_a_layer_choice_which_no_method_then_searches() -> None:
    """`fixed` on a LayerChoice label was once accepted and ignored: the label was still searched."""
    for kind in ("softmax", "path"):
        supernet = Supernet(TwoInputs(), kind=kind, fixed={"op": "id"})
        assert supernet.labels == ["pick"] and not any(isinstance(m, MixedOp) for m in supernet.modules())
        assert supernet.pinned["op"] == "id" and supernet.derive()["op"] == "id"
        assert "op" not in supernet.sample_path(np.random.default_rng(0))
    with pytest.raises(SpaceError, match="fixed value 'conv' of 'op'"):
        Supernet(TwoInputs(), fixed={"op": "conv"})


def test_weighted_concat_of_several_inputs_is_rejected() -> None:
    with pytest.raises(SpaceError, match=r"InputChoice 'pick' .* supernet\(softmax\) mode"):
        Supernet(TwoInputs(reduction="concat", n_chosen=2), kind="softmax")


def test_unknown_kind_and_fixed_label() -> None:
    with pytest.raises(SpaceError, match="`kind` of SupernetMode must be one of"):
        SupernetMode("sofmax")
    with pytest.raises(SpaceError, match="not decisions of this space"):
        Supernet(TwoInputs(), fixed={"nope": 1})


def test_choice_outside_domain_in_fixed() -> None:
    with pytest.raises(SpaceError, match="not in its domain"):
        Supernet(ToySpace(), fixed={"x": 9, "y": 1, "k": 2})


def test_plain_choice_of_user_space_is_untouched_by_freeze() -> None:
    # the supernet mode must leave the space usable as before
    space = TwoInputs()
    Supernet(space)
    net = space.freeze({"learning_rate": 0.1, "op": "lin", "pick": (1,)})
    assert not any(isinstance(m, MixedOp) for m in net.modules())
    assert choice  # imported for the spaces above
