"""Hypothesis properties of the space algebra, on every zoo space and the test spaces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasforge.space import InputChoice, LayerChoice, ModelSpace, Repeat
from nasforge.zoo import SPACES
from tests.toys import CellSpace, ToySpace

SPACES_UNDER_TEST: dict[str, ModelSpace] = {
    "toy": ToySpace(),
    "cell": CellSpace(),
    **{f"zoo:{name}": SPACES.create(name) for name in SPACES},
}
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

space_names = st.sampled_from(sorted(SPACES_UNDER_TEST))
seeds = st.integers(0, 2**32 - 1)


@PROPS
@given(space_names, seeds)
def test_random_archs_are_canonical(name: str, seed: int) -> None:
    space = SPACES_UNDER_TEST[name]
    arch = space.random(seed)
    assert space.validate(arch) == arch
    # only active decisions are present
    assert all(d.is_active(arch) == (d.label in arch) for d in space.decisions)


@PROPS
@given(space_names, seeds)
def test_decode_encode_round_trip(name: str, seed: int) -> None:
    space = SPACES_UNDER_TEST[name]
    arch = space.random(seed)
    vec = space.encode(arch)
    assert vec.shape == (space.encoding_size,)
    assert set(np.unique(vec)) <= {0.0, 1.0}
    assert space.decode(vec) == arch
    from nasforge.space import algebra

    assert algebra.from_indices(space.decisions, algebra.to_indices(space.decisions, arch)) == arch


@PROPS
@given(space_names, seeds, st.integers(1, 3))
def test_mutation_stays_inside_the_space_and_changes_the_arch(name: str, seed: int, n: int) -> None:
    space = SPACES_UNDER_TEST[name]
    rng = np.random.default_rng(seed)
    arch = space.random(rng)
    child = space.mutate(arch, rng, n=n)
    assert space.validate(child) == child
    if n == 1:
        assert child != arch


@PROPS
@given(space_names, seeds)
def test_json_round_trip_through_the_space(name: str, seed: int) -> None:
    from nasforge.space import Arch

    space = SPACES_UNDER_TEST[name]
    arch = space.random(seed)
    assert space.validate(Arch.from_json(arch.to_json())) == arch


@PROPS
@given(space_names, seeds)
def test_freeze_leaves_no_choices(name: str, seed: int) -> None:
    space = SPACES_UNDER_TEST[name]
    net = space.freeze(space.random(seed))
    assert not any(isinstance(m, (LayerChoice, InputChoice, Repeat)) for m in net.modules())
    assert net.decisions == ()


@PROPS
@given(space_names, st.data())
def test_any_vector_decodes_to_a_valid_arch(name: str, data: st.DataObject) -> None:
    space = SPACES_UNDER_TEST[name]
    vec = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=space.encoding_size, max_size=space.encoding_size))
    arch = space.decode(vec)
    assert space.validate(arch) == arch


@pytest.mark.parametrize("space", [ToySpace(), CellSpace()], ids=["toy", "cell"])
def test_grid_enumerates_every_arch_once(space: ModelSpace) -> None:
    archs = list(space.grid())
    assert len(archs) == space.size()
    assert len({a.id for a in archs}) == len(archs)
    assert all(space.validate(a) == a for a in archs)


def test_neighbours_differ_in_one_decision() -> None:
    space = ToySpace()
    arch = space.validate({"x": 1, "y": 1, "op": "a", "extra": "none"})
    neighbours = list(space.neighbours(arch))
    assert len(neighbours) == 4 + 4 + 1 + 1
    for n in neighbours:
        shared = {k for k in n if k in arch and n[k] == arch[k]}
        assert len(set(arch) | set(n)) - len(shared) <= 2


def test_random_is_seeded() -> None:
    space = SPACES.create("cnn")
    assert space.random(7) == space.random(7)
    assert space.random(7) != space.random(8)
