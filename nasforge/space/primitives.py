"""Choice primitives, used inside a `ModelSpace` constructor.

What each returns depends on the active mode (see `nasforge.space.mode`): in discover mode they record a
decision and return a module that runs the default; under `space.freeze(arch)` they return the chosen value
or a plain module, so the frozen network contains no nasforge types at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import torch
from torch import nn

from nasforge.errors import SpaceError
from nasforge.space.arch import Value
from nasforge.space.decision import make_domain
from nasforge.space.mode import BaseMode, check_label, current_mode

Candidate = Union[nn.Module, Callable[[], nn.Module]]  # noqa: UP007 - a runtime alias on Python 3.10
REDUCTIONS = ("sum", "mean", "concat")


def _mode(primitive: str, label: str) -> BaseMode:
    mode = current_mode()
    if mode is None:
        raise SpaceError(
            f"{primitive}({label!r}) must be created inside the constructor of a ModelSpace subclass, "
            "where nasforge decides what it returns."
        )
    return mode


def choice(label: str, values: Sequence[Any]) -> Any:
    """A choice among plain values (a width, a kernel size, a flag).

    Returns the chosen value; while the space is being discovered, the first value.
    """
    check_label(label)
    return _mode("choice", label).choice(label, make_domain(label, values), "choice")


def hparam(label: str, values: Sequence[Any]) -> Any:
    """A training hyperparameter (learning rate, batch size, ...): searched jointly with the architecture.

    Evaluators read it from the arch by its label; one-shot supernets fix it at its first value.
    """
    check_label(label)
    return _mode("hparam", label).choice(label, make_domain(label, values), "hparam")


def _candidates(label: str, candidates: Sequence[Candidate] | Mapping[str, Candidate]) -> dict[Value, Candidate]:
    if isinstance(candidates, Mapping):
        items: dict[Value, Candidate] = {}
        for key, cand in candidates.items():
            if not isinstance(key, str):
                raise SpaceError(f"LayerChoice {label!r}: candidate names must be strings, but got {key!r}.")
            items[key] = cand
    elif isinstance(candidates, Sequence) and not isinstance(candidates, (str, bytes)):
        items = dict(enumerate(candidates))
    else:
        raise SpaceError(
            f"LayerChoice {label!r} takes a list or a dict of candidates, but got {type(candidates).__name__}."
        )
    if not items:
        raise SpaceError(f"LayerChoice {label!r} needs at least one candidate.")
    for key, cand in items.items():
        if not (isinstance(cand, nn.Module) or callable(cand)):
            raise SpaceError(
                f"LayerChoice {label!r}: candidate {key!r} must be an nn.Module or a factory returning one, "
                f"but got {type(cand).__name__}."
            )
    return items


class LayerChoice(nn.Module):
    """Choose one of several modules.

    Candidates are modules or zero-argument factories (a dict names them; a list numbers them). Factories are
    preferred: decisions made inside a factory exist only when that candidate is chosen, and under freeze
    unchosen candidates are never built.

    In discover mode this module holds every candidate and runs the first; frozen, the chosen candidate
    itself takes its place.
    """

    label: str
    keys: list[Value]
    candidates: nn.ModuleDict

    def __new__(  # type: ignore[misc]
        cls, candidates: Sequence[Candidate] | Mapping[str, Candidate], *, label: str
    ) -> nn.Module:
        check_label(label)
        return _mode("LayerChoice", label).layer_choice(label, _candidates(label, candidates))

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # built by `_create`
        pass

    @classmethod
    def _create(cls, label: str, built: dict[Value, nn.Module]) -> LayerChoice:
        self = nn.Module.__new__(cls)
        nn.Module.__init__(self)
        self.label = label
        self.keys = list(built)
        self.candidates = nn.ModuleDict({str(k): m for k, m in built.items()})
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.candidates[str(self.keys[0])](*args, **kwargs)


def input_domain(n_candidates: int, n_chosen: int) -> tuple[tuple[int, ...], ...]:
    return tuple(itertools.combinations(range(n_candidates), n_chosen))


def reduce_inputs(tensors: list[torch.Tensor], reduction: str) -> torch.Tensor:
    if reduction == "sum":
        return torch.stack(tensors).sum(0) if len(tensors) > 1 else tensors[0]
    if reduction == "mean":
        return torch.stack(tensors).mean(0) if len(tensors) > 1 else tensors[0]
    return torch.cat(tensors, dim=1)


class InputChoice(nn.Module):
    """Choose `n_chosen` of `n_candidates` inputs and reduce them (sum, mean or concat along channels).

    Called with the list of candidate tensors. The arch value is the sorted tuple of chosen indices.
    """

    label: str
    n_candidates: int
    n_chosen: int
    reduction: str

    def __new__(  # type: ignore[misc]
        cls, n_candidates: int, n_chosen: int = 1, *, label: str, reduction: str = "sum"
    ) -> nn.Module:
        check_label(label)
        if not isinstance(n_candidates, int) or isinstance(n_candidates, bool) or n_candidates < 1:
            raise SpaceError(f"InputChoice {label!r}: n_candidates must be an int >= 1, but got {n_candidates!r}.")
        if not isinstance(n_chosen, int) or isinstance(n_chosen, bool) or not 1 <= n_chosen <= n_candidates:
            raise SpaceError(
                f"InputChoice {label!r}: n_chosen must be an int in [1, n_candidates={n_candidates}], "
                f"but got {n_chosen!r}."
            )
        if reduction not in REDUCTIONS:
            raise SpaceError(f"InputChoice {label!r}: reduction must be one of {REDUCTIONS}, but got {reduction!r}.")
        return _mode("InputChoice", label).input_choice(label, n_candidates, n_chosen, reduction)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    @classmethod
    def _create(cls, label: str, n_candidates: int, n_chosen: int, reduction: str) -> InputChoice:
        self = nn.Module.__new__(cls)
        nn.Module.__init__(self)
        self.label = label
        self.n_candidates = n_candidates
        self.n_chosen = n_chosen
        self.reduction = reduction
        return self

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return reduce_inputs(list(inputs[: self.n_chosen]), self.reduction)


class ChosenInputs(nn.Module):
    """The frozen form of an `InputChoice`: a fixed selection and reduction."""

    def __init__(self, indices: tuple[int, ...], reduction: str) -> None:
        super().__init__()
        self.indices = list(indices)
        self.reduction = reduction

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return reduce_inputs([inputs[i] for i in self.indices], self.reduction)

    def extra_repr(self) -> str:
        return f"indices={self.indices}, reduction={self.reduction!r}"


class Repeat(nn.Module):
    """A stack of `factory(i)` blocks whose depth is a decision.

    Labels made inside block `i` are scoped `label/i/...`; blocks deeper than the smallest depth exist only
    in archs deep enough to have them. Frozen, it is an `nn.Sequential` of exactly the chosen depth.
    """

    label: str
    depths: tuple[int, ...]
    blocks: nn.ModuleList

    def __new__(  # type: ignore[misc]
        cls, factory: Callable[[int], nn.Module], depth: Sequence[int] | int, *, label: str
    ) -> nn.Module:
        check_label(label)
        depths = (depth,) if isinstance(depth, int) else tuple(depth)
        if not depths or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in depths):
            raise SpaceError(f"Repeat {label!r}: depth must be ints >= 0, but got {depth!r}.")
        if len(set(depths)) != len(depths):
            raise SpaceError(f"Repeat {label!r}: depths must be distinct, but got {depth!r}.")
        if not callable(factory):
            raise SpaceError(f"Repeat {label!r}: factory must be callable as factory(index) -> nn.Module.")
        return _mode("Repeat", label).repeat(label, factory, make_domain(label, depths))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    @classmethod
    def _create(cls, label: str, blocks: list[nn.Module], depths: tuple[int, ...]) -> Repeat:
        self = nn.Module.__new__(cls)
        nn.Module.__init__(self)
        self.label = label
        self.depths = depths
        self.blocks = nn.ModuleList(blocks)
        return self

    def forward(self, x: Any) -> Any:
        for block in self.blocks[: self.depths[0]]:
            x = block(x)
        return x
