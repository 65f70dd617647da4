"""`NB201Space`: the NAS-Bench-201 topology space (Dong & Yang, ICLR 2020) as a trainable network.

The macro skeleton and the operations follow the official code (xautodl's `TinyNetwork` with `InferCell`),
so a frozen network has exactly the parameters the benchmark reports (`c10_params_mb` and friends in
`nasforge.tables.NB201Table`). The cell is a DAG of 4 nodes; each of its 6 edges picks one of 5 operations,
and every cell of the network shares the same 6 decisions: 5**6 = 15,625 archs.

The official cell string lists node 1's incoming edges, then node 2's, then node 3's, `op~j` being the edge
from node j; `arch_to_str` and `str_to_arch` convert between it and an `Arch`:

>>> arch = str_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
>>> arch["2<-1"]
'avg_pool_3x3'
>>> arch_to_str(arch) == "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from numbers import Integral
from typing import Any

import torch
from torch import nn

from nasforge.errors import ArchError, SpaceError, suggest
from nasforge.ops import Zero
from nasforge.space import Arch, LayerChoice, ModelSpace

__all__ = ["EDGES", "NODES", "OPS", "NB201Space", "arch_to_str", "canonical_key", "str_to_arch"]

#: The candidate operations of every edge, in the order of the decisions' values.
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Intermediate nodes of a cell; node 0 is the cell's input, the last node its output.
NODES = 4
#: Edge labels `"i<-j"` (node j feeds node i) in the order of the official cell string.
EDGES = tuple(f"{i}<-{j}" for i in range(1, NODES) for j in range(i))
FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def canonical_key(arch: Mapping[str, Any]) -> str:
    """A key equal for cells that compute the same function: each node is written as the sorted sum of its
    inputs, a skip connection passes its input's expression, a zero (`none`, or an input that is zero)
    is `#`. It reproduces the benchmark's `unique_str` (6,466 classes of 15,625 cells)."""
    nodes = ["0"]
    for i in range(1, NODES):
        terms = []
        for j in range(i):
            op, src = arch[f"{i}<-{j}"], nodes[j]
            if op == "none" or src == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(src)
            else:
                terms.append(f"({src})@{op}")
        nodes.append("+".join(sorted(terms)))
    return nodes[-1]


def arch_to_str(arch: Mapping[str, Any]) -> str:
    """The official NAS-Bench-201 string of `arch` (a mapping with the 6 edge labels; other keys are ignored,
    so an arch of a larger space that embeds this cell also works)."""
    if not isinstance(arch, Mapping):
        raise ArchError(f"An NB201 arch must be a mapping of the edge labels {list(EDGES)}, but got {arch!r}.")
    missing = [edge for edge in EDGES if edge not in arch]
    if missing:
        raise ArchError(
            f"An NB201 arch needs an operation for every edge {list(EDGES)}, but {missing} are missing "
            f"from {dict(arch)!r}."
        )
    for edge in EDGES:
        if arch[edge] not in OPS:
            raise ArchError(
                f"Edge {edge!r} of an NB201 arch must be one of {list(OPS)}, but got {arch[edge]!r}."
                f"{suggest(str(arch[edge]), OPS)}"
            )
    nodes = ("|".join(f"{arch[f'{i}<-{j}']}~{j}" for j in range(i)) for i in range(1, NODES))
    return "+".join(f"|{node}|" for node in nodes)


def str_to_arch(s: str) -> Arch:
    """Parse an official NAS-Bench-201 cell string into an `Arch` of this space."""
    if not isinstance(s, str):
        raise ArchError(f"An NB201 cell string must be a str like {EXAMPLE!r}, but got {type(s).__name__} {s!r}.")
    values: dict[str, str] = {}
    nodes = s.split("+")
    if len(nodes) != NODES - 1:
        raise _malformed(s, f"it has {len(nodes)} node(s) separated by '+', not {NODES - 1}")
    for i, node in enumerate(nodes, start=1):
        if len(node) < 2 or node[0] != "|" or node[-1] != "|":
            raise _malformed(s, f"node {i} ({node!r}) must start and end with '|'")
        edges = node[1:-1].split("|")
        if len(edges) != i:
            raise _malformed(s, f"node {i} ({node!r}) must have {i} edge(s), but has {len(edges)}")
        for j, edge in enumerate(edges):
            op, sep, source = edge.partition("~")
            if not sep or source != str(j):
                raise _malformed(s, f"edge {j + 1} of node {i} ({edge!r}) must read 'op~{j}'")
            if op not in OPS:
                raise _malformed(s, f"{op!r} is not an operation{suggest(op, OPS)}")
            values[f"{i}<-{j}"] = op
    return Arch(values)


def _malformed(s: str, reason: str) -> ArchError:
    return ArchError(
        f"An NB201 cell string must read {FORMAT!r} with each op one of {list(OPS)} (e.g. {EXAMPLE!r}), "
        f"but got {s!r}: {reason}."
    )


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d, the convolution of NAS-Bench-201."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class ResNetBasicBlock(nn.Module):
    """The reduction between stages: two ReLU-Conv-BN and an avg-pool + 1x1-conv shortcut, stride 2."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


def edge_candidates(c: int) -> dict[str, Callable[[], nn.Module]]:
    """Factories of the 5 operations of an edge with `c` channels, keyed by their official names."""
    return {
        "none": Zero,
        "skip_connect": nn.Identity,
        "nor_conv_1x1": lambda: ReLUConvBN(c, c, 1),
        "nor_conv_3x3": lambda: ReLUConvBN(c, c, 3),
        "avg_pool_3x3": lambda: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
    }


class NB201Cell(nn.Module):
    """Node i is the sum of the edges from every earlier node; the last node is the output."""

    def __init__(self, c: int) -> None:
        super().__init__()
        # in EDGES order, which lists each node's incoming edges together
        self.edges = nn.ModuleList(LayerChoice(edge_candidates(c), label=edge) for edge in EDGES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for i in range(1, NODES):
            out = self.edges[k](nodes[0])
            for j in range(1, i):
                out = out + self.edges[k + j](nodes[j])
            nodes.append(out)
            k += i
        return nodes[-1]


class NB201Space(ModelSpace):
    """The NAS-Bench-201 network: stem, three stages of `N` cells at `C`, `2C`, `4C` channels joined by
    ResNet reduction blocks, then BN-ReLU, global average pooling and a linear classifier.

    The defaults are the benchmark's (C=16, N=5, CIFAR-10); use `num_classes=100` for CIFAR-100 and
    `num_classes=120, input_shape=(3, 16, 16)` for ImageNet16-120. The 6 decisions are the edges `"1<-0"`,
    `"2<-0"`, `"2<-1"`, `"3<-0"`, `"3<-1"`, `"3<-2"`, each one of `OPS`.

    >>> space = NB201Space()
    >>> space.size()
    15625
    >>> net = space.freeze(str_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"))
    >>> sum(p.numel() for p in net.parameters())
    1073466
    """

    def __init__(
        self, num_classes: int = 10, C: int = 16, N: int = 5, input_shape: Sequence[int] = (3, 32, 32)
    ) -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("C", C), ("N", N)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SpaceError(f"`{name}` of NB201Space must be an int >= 1, but got {value!r}.")
        shape = tuple(input_shape)
        if len(shape) != 3 or any(not isinstance(d, Integral) or isinstance(d, bool) or d < 1 for d in shape):
            raise SpaceError(
                f"`input_shape` of NB201Space must be (channels, height, width) of positive ints, but got {input_shape!r}."
            )
        shape = tuple(int(d) for d in shape)
        if shape[1] % 4 or shape[2] % 4:
            # each reduction halves the size with a stride-2 conv and a 2x2 avg pool, which disagree on odd sizes
            raise SpaceError(
                f"`input_shape` of NB201Space must have height and width divisible by 4 (two stride-2 reductions), "
                f"but got {input_shape!r}; crop or pad the images."
            )
        self.stem = nn.Sequential(nn.Conv2d(shape[0], C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(c, 2 * c))
                c *= 2
            layers.extend(NB201Cell(c) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def canonical_key(self, arch: Mapping[str, Any]) -> str:
        """Equal for isomorphic cells; `Deduplicate` uses it to skip archs computing the same function.

        Called once per proposal, so it checks only that every edge is there, not the whole arch."""
        missing = [e for e in EDGES if e not in arch]
        if missing:
            raise ArchError(f"An NB201 arch needs a value for every edge {list(EDGES)}, but {missing} are missing.")
        return canonical_key(arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.global_pooling(out), 1))
