from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from nasforge.errors import ArchError, SpaceError
from nasforge.space import ChosenInputs, InputChoice, LayerChoice, ModelSpace, Repeat, choice, label_scope
from tests.toys import CellSpace, ToySpace


def test_discover_lists_decisions_with_conditions() -> None:
    space = ToySpace()
    assert space.labels == ["x", "y", "op", "extra", "k"]
    k = space.decision("k")
    assert k.conditional and k.parents == {"extra"}
    assert k.is_active({"extra": "k"}) and not k.is_active({"extra": "none"})
    assert space.decision("op").values == ("a", "b")
    assert space.size() == 5 * 5 * 2 * (1 + 3)


def test_repeat_scopes_labels_and_conditions_depth() -> None:
    space = CellSpace()
    labels = space.labels
    assert labels[0] == "cells"
    assert "cells/0/a" in labels and "cells/2/pick" in labels
    assert not space.decision("cells/0/a").conditional
    assert space.decision("cells/1/a").when[0][0].values == frozenset({2, 3})
    assert space.decision("cells/2/b").when[0][0].values == frozenset({3})
    assert space.decision("cells/0/pick").values == ((0, 1), (0, 2), (1, 2))


def test_freeze_builds_a_plain_network() -> None:
    space = CellSpace()
    arch = {
        "cells": 2,
        "cells/0/a": "id",
        "cells/0/b": 1,
        "cells/0/pick": [0, 2],
        "cells/1/a": "lin",
        "cells/1/b": 0,
        "cells/1/pick": (1, 2),
    }
    net = space.freeze(arch)
    assert net.is_frozen and net.arch == space.validate(arch)
    assert isinstance(net.cells, nn.Sequential) and len(net.cells) == 2
    assert isinstance(net.cells[0].a, nn.Identity) and isinstance(net.cells[0].b, nn.Tanh)
    assert isinstance(net.cells[0].pick, ChosenInputs) and net.cells[0].pick.indices == [0, 2]
    kinds = (LayerChoice, InputChoice, Repeat)
    assert not any(isinstance(m, kinds) for m in net.modules())
    assert net(torch.randn(3, 4)).shape == (3, 2)
    assert net.decisions == ()


def test_freeze_never_builds_unchosen_factories() -> None:
    built: list[str] = []

    def make(name: str):
        def factory() -> nn.Module:
            built.append(name)
            return nn.Identity()

        return factory

    class S(ModelSpace):
        def __init__(self) -> None:
            super().__init__()
            self.op = LayerChoice({"a": make("a"), "b": make("b")}, label="op")

    space = S()
    assert built == ["a", "b"]
    built.clear()
    space.freeze({"op": "b"})
    assert built == ["b"]


def test_discovered_space_runs_as_its_default_arch() -> None:
    torch.manual_seed(0)
    space = CellSpace()
    default = space.default_arch()
    assert default["cells"] == 1
    assert space(torch.randn(2, 4)).shape == (2, 2)


def test_validate_names_the_label_path() -> None:
    space = CellSpace()
    arch = dict(space.default_arch())
    arch["cells/0/a"] = "conv"
    with pytest.raises(ArchError, match=r"'cells/0/a' must be one of \['lin', 'id'\], but got 'conv'"):
        space.validate(arch)
    with pytest.raises(ArchError, match=r"label 'cells/0/aa'.*Did you mean 'cells/0/a'"):
        space.validate({**space.default_arch(), "cells/0/aa": "lin"})
    missing = dict(space.default_arch())
    del missing["cells/0/b"]
    with pytest.raises(ArchError, match="no value for decision 'cells/0/b'"):
        space.validate(missing)


def test_inactive_values_are_dropped() -> None:
    space = ToySpace()
    arch = space.validate({"x": 1, "y": 2, "op": "a", "extra": "none", "k": 2})
    assert "k" not in arch


def test_numbers_compare_by_value() -> None:
    space = ToySpace()
    arch = space.validate({"x": 1.0, "y": 2, "op": "a", "extra": "none"})
    assert type(arch["x"]) is int


def test_primitive_outside_a_space_is_an_error() -> None:
    with pytest.raises(SpaceError, match="inside the constructor of a ModelSpace"):
        choice("x", [1, 2])
    with pytest.raises(SpaceError, match="inside the constructor"):
        LayerChoice([nn.ReLU()], label="a")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (lambda: choice("x", []), "must not be empty"),
        (lambda: choice("x", [1, 1]), "distinct"),
        (lambda: choice("x", "abc"), "list or tuple"),
        (lambda: choice("", [1]), "non-empty string"),
        (lambda: choice("x", [object()]), "round-trips through JSON"),
        (lambda: LayerChoice(3, label="a"), "list or a dict"),  # type: ignore[arg-type]
        (lambda: LayerChoice([], label="a"), "at least one"),
        (lambda: LayerChoice(["relu"], label="a"), "nn.Module or a factory"),  # type: ignore[list-item]
        (lambda: InputChoice(2, 3, label="i"), "n_chosen"),
        (lambda: InputChoice(2, 1, label="i", reduction="max"), "reduction"),
        (lambda: Repeat(lambda i: nn.ReLU(), (1, 1), label="r"), "distinct"),
        (lambda: Repeat(lambda i: nn.ReLU(), (-1,), label="r"), ">= 0"),
        (lambda: (choice("x", [1, 2]), choice("x", [1, 3])), "used twice with different domains"),
    ],
)
def test_bad_space_definitions(body, match: str) -> None:
    class Bad(ModelSpace):
        def __init__(self) -> None:
            super().__init__()
            body()

    with pytest.raises(SpaceError, match=match):
        Bad()


def test_shared_label_is_one_decision() -> None:
    class Shared(ModelSpace):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(2, choice("w", [2, 4]))
            self.b = nn.Linear(choice("w", [2, 4]), 2)

    space = Shared()
    assert space.labels == ["w"]
    net = space.freeze({"w": 4})
    assert net.a.out_features == 4 and net.b.in_features == 4


def test_label_scope_prefixes() -> None:
    class Scoped(ModelSpace):
        def __init__(self) -> None:
            super().__init__()
            for s in range(2):
                with label_scope(f"stage{s}"):
                    choice("w", [1, 2])

    assert Scoped().labels == ["stage0/w", "stage1/w"]


def test_domain_depending_on_another_choice_is_caught() -> None:
    class Dependent(ModelSpace):
        def __init__(self) -> None:
            super().__init__()
            w = choice("w", [2, 4])
            choice("v", [w, w * 2])

    space = Dependent()
    with pytest.raises(SpaceError, match="must not depend on other choices"):
        space.freeze({"w": 4, "v": 2})


def test_space_operations_on_a_frozen_network_are_errors() -> None:
    space = ToySpace()
    net = space.freeze(space.default_arch())
    with pytest.raises(SpaceError, match="call it on the space itself"):
        net.freeze(space.default_arch())
    with pytest.raises(SpaceError, match="call it on the space itself"):
        net.random(0)


def test_nested_model_space_joins_the_outer_space() -> None:
    class Inner(ModelSpace):
        def __init__(self) -> None:
            super().__init__()
            self.act = LayerChoice({"relu": nn.ReLU, "tanh": nn.Tanh}, label="act")

    class Outer(ModelSpace):
        def __init__(self) -> None:
            super().__init__()
            with label_scope("inner"):
                self.inner = Inner()
            self.w = choice("w", [1, 2])

    space = Outer()
    assert space.labels == ["inner/act", "w"]
    net = space.freeze({"inner/act": "tanh", "w": 2})
    assert isinstance(net.inner.act, nn.Tanh)


def test_spaces_pickle_by_rediscovery() -> None:
    space = ToySpace(width=6)
    clone = pickle.loads(pickle.dumps(space))
    assert clone.decisions == space.decisions
    assert clone.freeze({"x": 0, "y": 0, "op": "a", "extra": "none"}).op.in_features == 6


def test_rebuilt_changes_only_the_given_arguments() -> None:
    space = ToySpace(width=6)
    wider = space.rebuilt(width=9)
    assert wider.decisions == space.decisions and wider is not space
    arch = {"x": 0, "y": 0, "op": "a", "extra": "none"}
    assert wider.freeze(arch).op.in_features == 9 and space.freeze(arch).op.in_features == 6
    with pytest.raises(SpaceError, match="call it on the space itself"):
        space.freeze(arch).rebuilt(width=3)
