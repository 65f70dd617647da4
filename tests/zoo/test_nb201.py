"""`NB201Space`: the NAS-Bench-201 decisions, its cell strings, the official network and its parameter counts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.errors import ArchError, SpaceError
from nasforge.ops import Zero
from nasforge.space import LayerChoice
from nasforge.tables import NB201Table
from nasforge.zoo import SPACES
from nasforge.zoo.nb201 import EDGES, OPS, NB201Space, arch_to_str, str_to_arch

OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny forward passes: threads only add synchronisation, which is slow when the CPUs are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def n_params(space: NB201Space, arch_str: str) -> int:
    with torch.device("meta"):  # counts shapes only: nothing is allocated or initialised
        net = space.freeze(str_to_arch(arch_str))
    return sum(p.numel() for p in net.parameters())


def check_params(space: NB201Space, table: NB201Table, column: str, indices: np.ndarray) -> int:
    """Every count within 1% of the table, except rows that hold an isomorphic cell's count; returns how many
    rows were such exceptions (about 1% of the table, an artefact of how its sources were merged)."""
    expected = table.column(column) * 1e6
    exceptions = 0
    for i in indices:
        count = n_params(space, table.arch_strs[i])
        if abs(count - expected[i]) <= 0.01 * expected[i]:
            continue
        siblings = np.flatnonzero(table.unique_keys == table.unique_keys[i])
        assert any(abs(n_params(space, table.arch_strs[j]) - expected[i]) <= 0.01 * expected[i] for j in siblings), (
            f"cell {i} {table.arch_strs[i]}: {count} parameters, the table says {expected[i]:.0f}"
        )
        exceptions += 1
    return exceptions


def test_decisions_are_the_six_edges(space: NB201Space) -> None:
    assert space.labels == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"] == list(EDGES)
    assert all(space.decision(e).values == OPS for e in EDGES)
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert space.size() == 15625
    assert isinstance(SPACES.create("nb201"), NB201Space)


def test_strings_round_trip_for_random_archs(space: NB201Space) -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        arch = space.random(rng)
        assert str_to_arch(arch_to_str(arch)) == arch
        assert space.validate(str_to_arch(arch_to_str(arch))) == arch


def test_strings_round_trip_for_every_cell_of_the_table(space: NB201Space, table: NB201Table) -> None:
    archs = [str_to_arch(s) for s in table.arch_strs]
    assert [arch_to_str(a) for a in archs] == table.arch_strs
    assert len(set(archs)) == 15625
    assert str_to_arch(OPTIMUM) == {
        "1<-0": "nor_conv_3x3",
        "2<-0": "nor_conv_3x3",
        "2<-1": "nor_conv_3x3",
        "3<-0": "skip_connect",
        "3<-1": "nor_conv_3x3",
        "3<-2": "nor_conv_1x1",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("|none~0|+|none~0|none~1|", "2 node"),
        (ALL_NONE + "+|none~0|", "4 node"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "start and end with"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "must have 2 edge"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "must read 'op~0'"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "must read 'op~0'"),
        ("|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "Did you mean 'nor_conv_3x3'"),
        ("", "1 node"),
    ],
)
def test_malformed_strings_show_the_format(text: str, reason: str) -> None:
    with pytest.raises(ArchError, match=r"must read '\|op~0\|\+\|op~0\|op~1\|\+\|op~0\|op~1\|op~2\|'") as info:
        str_to_arch(text)
    assert reason in str(info.value)


def test_arch_to_str_checks_the_arch() -> None:
    arch = dict(str_to_arch(OPTIMUM))
    assert arch_to_str({**arch, "learning_rate": 0.1}) == OPTIMUM  # an arch of a larger space works too
    with pytest.raises(ArchError, match=r"\['3<-2'\] are missing"):
        arch_to_str({k: v for k, v in arch.items() if k != "3<-2"})
    with pytest.raises(ArchError, match="Did you mean 'avg_pool_3x3'"):
        arch_to_str({**arch, "2<-1": "avg_pool3x3"})
    with pytest.raises(ArchError, match="str like"):
        str_to_arch(None)  # type: ignore[arg-type]


def test_frozen_network_has_only_the_chosen_ops(space: NB201Space) -> None:
    net = space.freeze(str_to_arch("|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"))
    assert not any(isinstance(m, LayerChoice) for m in net.modules())
    edges = list(net.cells[0].get_submodule("edges").children())
    assert isinstance(edges[0], Zero) and isinstance(edges[1], nn.Identity) and isinstance(edges[5], Zero)
    assert [m.kernel_size for m in edges[2].modules() if isinstance(m, nn.Conv2d)] == [(1, 1)]
    assert [m.kernel_size for m in edges[3].modules() if isinstance(m, nn.Conv2d)] == [(3, 3)]
    assert isinstance(edges[4], nn.AvgPool2d) and edges[4].count_include_pad is False
    # 15 cells (3 stages of 5) and the two reduction blocks
    assert len(net.cells) == 17


@pytest.mark.usefixtures("one_thread")
def test_cells_compute_the_graph(space: NB201Space) -> None:
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        identity = space.freeze(str_to_arch("|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"))
        assert torch.equal(identity.cells[0](x), x)
        twice = space.freeze(str_to_arch("|skip_connect~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|"))
        assert torch.equal(twice.cells[0](x), x)
        four = space.freeze(
            str_to_arch("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
        )
        assert torch.allclose(four.cells[0](x), 2 * x)
        zero = space.freeze(str_to_arch(ALL_NONE))
        assert torch.count_nonzero(zero.cells[0](x)) == 0


@pytest.mark.parametrize(
    ("kwargs", "shape", "classes"),
    [({}, (3, 32, 32), 10), ({"num_classes": 120, "input_shape": (3, 16, 16)}, (3, 16, 16), 120)],
)
@pytest.mark.usefixtures("one_thread")
def test_forward_shapes(kwargs: dict, shape: tuple[int, ...], classes: int) -> None:
    space = NB201Space(**kwargs)
    net = space.freeze(str_to_arch(OPTIMUM)).eval()
    with torch.no_grad():
        assert net(torch.randn(2, *shape)).shape == (2, classes)
        assert space(torch.randn(2, *shape)).shape == (2, classes)  # the space runs its default arch


def test_arguments_are_validated() -> None:
    with pytest.raises(SpaceError, match="divisible by 4"):
        NB201Space(input_shape=(3, 30, 30))
    with pytest.raises(SpaceError, match="`C` of NB201Space must be an int >= 1, but got 0"):
        NB201Space(C=0)
    with pytest.raises(SpaceError, match="channels, height, width"):
        NB201Space(input_shape=(32, 32))


def test_parameter_counts_of_known_cells(space: NB201Space) -> None:
    assert n_params(space, OPTIMUM) == 1_073_466  # the table: 1.07347 M
    assert n_params(space, ALL_NONE) == 73_306  # stem, reductions, last BN and classifier only
    assert n_params(NB201Space(num_classes=100), ALL_NONE) == 79_156
    assert n_params(NB201Space(num_classes=120, input_shape=(3, 16, 16)), ALL_NONE) == 80_456


def test_parameter_counts_match_the_table(space: NB201Space, table: NB201Table) -> None:
    rng = np.random.default_rng(201)
    sample = rng.choice(len(table), 40, replace=False)
    assert check_params(space, table, "c10_params_mb", sample) <= 3
    few = sample[:5]
    assert check_params(NB201Space(num_classes=100), table, "c100_params_mb", few) <= 1
    assert check_params(NB201Space(num_classes=120, input_shape=(3, 16, 16)), table, "in16_params_mb", few) <= 1


def test_table_rows_that_hold_an_isomorphic_cells_count(space: NB201Space, table: NB201Table) -> None:
    # cell 327 has three 1x1 convs; the table gives it the count of cell 10444, an isomorphic cell with two
    # (cell 11178, isomorphic too and with three, has the right count)
    assert table.unique_keys[327] == table.unique_keys[10444] == table.unique_keys[11178]
    assert n_params(space, table.arch_strs[327]) == n_params(space, table.arch_strs[11178]) == 157_306
    assert table.column("c10_params_mb")[11178] == pytest.approx(0.157306)
    assert check_params(space, table, "c10_params_mb", np.array([327])) <= 1


def test_canonical_key_reproduces_the_tables_isomorphism_classes(table: NB201Table) -> None:
    from nasforge.zoo.nb201 import canonical_key

    ours: dict[str, set[int]] = {}
    for i, s in enumerate(table.arch_strs):
        ours.setdefault(canonical_key(str_to_arch(s)), set()).add(i)
    theirs: dict[int, set[int]] = {}
    for i, k in enumerate(table.unique_keys):
        theirs.setdefault(int(k), set()).add(i)
    assert len(ours) == 6466
    assert {frozenset(v) for v in ours.values()} == {frozenset(v) for v in theirs.values()}
    assert NB201Space().canonical_key(str_to_arch(table.arch_strs[0])) == canonical_key(str_to_arch(table.arch_strs[0]))
