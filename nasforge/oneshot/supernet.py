"""Supernet modes: `space.build(mode)` turns an unchanged `ModelSpace` into a weight-sharing supernet.

- `LayerChoice` becomes a `MixedOp` holding every candidate: a weighted sum (DARTS, DrNAS), a hard
  Gumbel-softmax sample (GDAS) or one sampled path (SPOS, ENAS), depending on the supernet's `kind`;
- `InputChoice` becomes a `MixedInput` (weighted sum of the candidate inputs, or one sampled selection);
- `choice` and `Repeat` cannot be expressed (no weight-entangled slicing): they raise a `SpaceError` naming
  the label and the mode, unless the user pins them with `fixed={label: value}`; `hparam` is fixed at its
  first value, as the training hyperparameters of a supernet are the strategy's.

Architecture parameters are keyed by decision label, so every place that reuses a label (the 6 edges of
every NAS-Bench-201 cell) shares one parameter vector.

>>> from nasforge.zoo.nb201 import NB201Space
>>> supernet = Supernet(NB201Space(C=4, N=1), kind="softmax")
>>> sorted(supernet.labels)
['1<-0', '2<-0', '2<-1', '3<-0', '3<-1', '3<-2']
>>> supernet.derive()["1<-0"]  # every alpha starts at 0, so argmax picks the first candidate
'none'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.errors import SpaceError, suggest
from nasforge.space import Arch, BaseMode, ModelSpace
from nasforge.space.arch import Value
from nasforge.space.mode import build_candidate, full_label, label_scope
from nasforge.space.primitives import Candidate, input_domain, reduce_inputs

__all__ = ["KINDS", "MixedInput", "MixedOp", "Supernet", "SupernetMode", "SupernetState"]

#: How a mixed module combines its candidates.
#: softmax: weighted sum (DARTS); dirichlet: weighted sum with weights sampled from a Dirichlet (DrNAS);
#: gumbel: one candidate per forward, straight-through hard Gumbel-softmax (GDAS); path: one fixed
#: candidate per label, chosen by the strategy (SPOS, ENAS).
KINDS = ("softmax", "dirichlet", "gumbel", "path")


class SupernetState:
    """What every mixed module of one supernet shares: architecture parameters, the current path, and a
    per-forward cache so a label reused in many places draws one sample per forward (as GDAS does)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.alphas: dict[str, nn.Parameter] = {}
        self.domains: dict[str, tuple[Value, ...]] = {}
        self.decision_kind: dict[str, str] = {}
        self.path: dict[str, int] = {}
        self.tau = 1.0
        self._cache: dict[str, torch.Tensor] = {}

    def register(self, label: str, domain: tuple[Value, ...], size: int, decision_kind: str) -> None:
        old = self.domains.get(label)
        if old is not None:
            if old != domain:
                raise SpaceError(
                    f"Label {label!r} is used twice with different domains ({list(old)!r} and {list(domain)!r}) "
                    "in a supernet; a shared label must have the same candidates everywhere."
                )
            return
        self.domains[label] = domain
        self.decision_kind[label] = decision_kind
        self.alphas[label] = nn.Parameter(torch.zeros(size))
        self.path[label] = 0

    def new_forward(self) -> None:
        self._cache.clear()

    def weights(self, label: str) -> torch.Tensor:
        """Mixing weights of `label`'s candidates for this forward (differentiable in its alpha)."""
        cached = self._cache.get(label)
        if cached is not None:
            return cached
        alpha = self.alphas[label]
        if self.kind == "softmax":
            w = F.softmax(alpha, dim=-1)
        elif self.kind == "dirichlet":
            # DrNAS: concentration elu(alpha) + 1 > 0; rsample is reparameterised (implicit gradients)
            w = torch.distributions.Dirichlet(F.elu(alpha) + 1).rsample()
        elif self.kind == "gumbel":
            w = F.gumbel_softmax(alpha, tau=self.tau, hard=True)
        else:
            w = F.one_hot(torch.tensor(self.path[label]), alpha.numel()).to(alpha.dtype)
        self._cache[label] = w
        return w


class MixedOp(nn.Module):
    """The supernet form of a `LayerChoice`: all candidates, combined as the supernet's kind says."""

    _state: SupernetState

    def __init__(self, label: str, keys: list[Value], candidates: list[nn.Module], state: SupernetState) -> None:
        super().__init__()
        self.label = label
        self.keys = keys
        self.candidates = nn.ModuleList(candidates)
        object.__setattr__(self, "_state", state)  # shared, not a submodule

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        state = self._state
        if state.kind == "path":
            return self.candidates[state.path[self.label]](*args, **kwargs)
        w = state.weights(self.label)
        if state.kind == "gumbel":
            # run only the sampled candidate; the others add their (zero-valued) weight so that their
            # alphas still get the straight-through gradient, as in the official GDAS
            index = int(w.detach().argmax())
            out = w[index] * self.candidates[index](*args, **kwargs)
            rest = [w[i] for i in range(len(self.candidates)) if i != index]
            return out + torch.stack(rest).sum() if rest else out
        return sum(w[i] * cand(*args, **kwargs) for i, cand in enumerate(self.candidates))

    def extra_repr(self) -> str:
        return f"label={self.label!r}, keys={self.keys!r}"


class MixedInput(nn.Module):
    """The supernet form of an `InputChoice`: a weighted sum of the candidate inputs, or one selection."""

    _state: SupernetState

    def __init__(self, label: str, n_candidates: int, n_chosen: int, reduction: str, state: SupernetState) -> None:
        super().__init__()
        self.label = label
        self.n_candidates = n_candidates
        self.n_chosen = n_chosen
        self.reduction = reduction
        self.picks = input_domain(n_candidates, n_chosen)
        object.__setattr__(self, "_state", state)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        state = self._state
        if state.kind == "path":
            return reduce_inputs([inputs[i] for i in self.picks[state.path[self.label]]], self.reduction)
        w = state.weights(self.label)
        out = sum(w[i] * x for i, x in enumerate(inputs[: self.n_candidates]))
        # a sum of n_chosen inputs is n_chosen times their mean
        scale = float(self.n_chosen) if self.reduction == "sum" else 1.0
        return out * scale  # type: ignore[return-value]


class SupernetMode(BaseMode):
    """The construction mode of a supernet of `kind` (one of `KINDS`); `fixed` pins decisions it cannot
    express (a `choice` width, a `Repeat` depth) to one value, or all of them at their defaults with
    `fixed="defaults"`. `pinned` records every pin used, with its value."""

    def __init__(self, kind: str, fixed: Mapping[str, Value] | str | None = None) -> None:
        if kind not in KINDS:
            raise SpaceError(f"`kind` of SupernetMode must be one of {KINDS}, but got {kind!r}.{suggest(kind, KINDS)}")
        if isinstance(fixed, str) and fixed != "defaults":
            raise SpaceError(f"`fixed` must be a mapping {{label: value}} or 'defaults', but got {fixed!r}.")
        self.kind = kind
        self.name = f"supernet({kind})"
        self.pin_defaults = fixed == "defaults"
        self.fixed: dict[str, Value] = dict(fixed) if isinstance(fixed, Mapping) else {}
        self.state = SupernetState(kind)
        self.used_fixed: set[str] = set()
        self.pinned: dict[str, Value] = {}

    def _pinned(self, what: str, label: str, hint: str, default: Value) -> Value:
        full = full_label(label)
        if full not in self.fixed and not self.pin_defaults:
            raise SpaceError(
                f"{what} {full!r} cannot be expressed in {self.name} mode: {hint} Pin it with "
                f"fixed={{{full!r}: value}} (it is then not searched), pin every such decision at its default "
                "with fixed='defaults', or use a sample-based strategy."
            )
        self.used_fixed.add(full)
        value = self.fixed.get(full, default)
        self.pinned[full] = value
        return value

    def choice(self, label: str, values: tuple[Value, ...], kind: str) -> Any:
        if kind == "hparam":  # a supernet's training settings are the strategy's
            full = full_label(label)
            self.pinned[full] = self.fixed.get(full, values[0])
            return self.pinned[full]
        value = self._pinned(
            "choice", label, "a supernet shares weights across candidate modules, not values.", values[0]
        )
        if value not in values:
            raise SpaceError(f"fixed value {value!r} of {full_label(label)!r} is not in its domain {list(values)!r}.")
        return value

    def repeat(self, label: str, factory: Callable[[int], nn.Module], depths: tuple[int, ...]) -> nn.Module:
        depth = self._pinned("Repeat", label, "variable depth is not a mixed operation.", depths[0])
        blocks = []
        with label_scope(label):
            for i in range(int(depth)):
                with label_scope(str(i)):
                    blocks.append(build_candidate(lambda i=i: factory(i)))  # type: ignore[misc]
        return nn.Sequential(*blocks)

    def layer_choice(self, label: str, candidates: dict[Value, Candidate]) -> nn.Module:
        """A `MixedOp` of every candidate, or, where `fixed` pins the label, the pinned candidate alone (as
        the frozen network builds it), recorded in `pinned` and searched by no method."""
        full = full_label(label)
        if full in self.fixed:
            value = self.fixed[full]
            if value not in candidates:
                raise SpaceError(f"fixed value {value!r} of {full!r} is not in its domain {list(candidates)!r}.")
            self.used_fixed.add(full)
            self.pinned[full] = value
            return build_candidate(candidates[value])
        keys = list(candidates)
        self.state.register(full, tuple(keys), len(keys), "layer")
        built = [build_candidate(c) for c in candidates.values()]
        return MixedOp(full, keys, built, self.state)

    def input_choice(self, label: str, n_candidates: int, n_chosen: int, reduction: str) -> nn.Module:
        full = full_label(label)
        if reduction == "concat" and n_chosen > 1 and self.kind != "path":
            raise SpaceError(
                f"InputChoice {full!r} (concat of {n_chosen} inputs) cannot be expressed in {self.name} mode: a "
                "weighted mixture cannot concatenate a varying selection. Use a sample-based strategy (SPOS, ENAS)."
            )
        self.state.register(full, input_domain(n_candidates, n_chosen), n_candidates, "input")
        return MixedInput(full, n_candidates, n_chosen, reduction, self.state)


def _drop_candidate_bn_affine(net: nn.Module) -> None:
    """Batch norms inside the candidates of mixed ops lose their learnable scale and shift, as in the search
    networks of DARTS and NAS-Bench-201: a learnt scale would let a weak candidate's output be scaled up
    instead of its architecture weight, blurring what the weights say. The derived network keeps them."""
    for module in net.modules():
        if isinstance(module, MixedOp):
            for bn in module.candidates.modules():
                if isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.affine:
                    bn.affine = False
                    bn.register_parameter("weight", None)
                    bn.register_parameter("bias", None)


class Supernet(nn.Module):
    """A `ModelSpace` rebuilt in a `SupernetMode`, with its architecture parameters kept apart.

    `bn_affine=False` (the default) drops the learnable scale and shift of batch norms inside candidate
    operations during the search, as DARTS and NAS-Bench-201 do.

    `weight_parameters()` are the network's, `arch_parameters()` the alphas (one vector per label);
    `derive()` reads the arch back (argmax per label) as an `Arch` valid for `space.validate`.
    """

    space: ModelSpace

    def __init__(
        self,
        space: ModelSpace,
        kind: str = "softmax",
        fixed: Mapping[str, Value] | str | None = None,
        bn_affine: bool = False,
    ) -> None:
        super().__init__()
        mode = self._make_mode(kind, fixed)
        self.kind = kind
        self.net = space.build(mode)
        if not bn_affine:
            _drop_candidate_bn_affine(self.net)
        self.state = mode.state
        self.alphas = nn.ParameterList(list(self.state.alphas.values()))
        self.labels = list(self.state.alphas)
        object.__setattr__(self, "space", space)
        unknown = set(mode.fixed) - mode.used_fixed - set(space.labels)
        if unknown:
            raise SpaceError(f"`fixed` of Supernet has labels {sorted(unknown)} that are not decisions of this space.")
        self._fixed = dict(mode.fixed)
        self.pinned: dict[str, Value] = dict(mode.pinned)

    def _make_mode(self, kind: str, fixed: Mapping[str, Value] | str | None) -> SupernetMode:
        """The construction mode of this supernet (a subclass builds its own, e.g. with shared widths)."""
        return SupernetMode(kind, fixed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.state.new_forward()
        out: torch.Tensor = self.net(x)
        return out

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas)

    def set_path(self, arch: Mapping[str, Value]) -> None:
        """Route every single-path forward through `arch`'s candidates (labels absent keep their path)."""
        for label, domain in self.state.domains.items():
            if label in arch:
                value = arch[label]
                if isinstance(value, list):
                    value = tuple(value)
                self.state.path[label] = domain.index(value)

    def sample_path(self, rng: np.random.Generator) -> dict[str, Value]:
        """Draw a uniform path (SPOS); returns it as label -> value."""
        out: dict[str, Value] = {}
        for label, domain in self.state.domains.items():
            i = int(rng.integers(len(domain)))
            self.state.path[label] = i
            out[label] = domain[i]
        return out

    def probabilities(self) -> dict[str, list[float]]:
        """Softmax of each label's alphas (for reports); for dirichlet, the Dirichlet mean."""
        out = {}
        for label, alpha in self.state.alphas.items():
            a = alpha.detach()
            p = (F.elu(a) + 1) / (F.elu(a) + 1).sum() if self.kind == "dirichlet" else F.softmax(a, -1)
            out[label] = [round(float(v), 4) for v in p]
        return out

    def derive(self) -> Arch:
        """The arch of the strongest candidate per label (top-n_chosen inputs for an InputChoice)."""
        values: dict[str, Value] = {}
        for label, alpha in self.state.alphas.items():
            a = alpha.detach()
            domain = self.state.domains[label]
            if self.state.decision_kind[label] == "input":
                n_chosen = len(domain[0])
                values[label] = tuple(sorted(int(i) for i in a.topk(n_chosen).indices))
            else:
                values[label] = domain[int(a.argmax())]
        return self._complete(values)

    def _complete(self, values: Mapping[str, Value]) -> Arch:
        out: dict[str, Value] = dict(values)
        for d in self.space.decisions:
            if d.label not in out:
                out[d.label] = self.pinned.get(d.label, self._fixed.get(d.label, d.default))
        return self.space.validate(out)
