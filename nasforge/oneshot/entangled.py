"""Weight-entangled supernets (Once-for-All, BigNAS): every `choice` width and kernel and every `Repeat` depth
of an unchanged `ModelSpace` shares one set of weights.

`EntangledMode` builds the space once, by the same mode mechanism as every supernet: a numeric `choice`
takes its largest value (`Widest`), a `Repeat` the deepest stack, a `LayerChoice` a `MixedOp` holding every
candidate, and a True/False `choice` a `Switch` (see `nasforge.space.entangle`). That network holds the
weights. A subnet (one arch) runs the network that `space.freeze(arch)` builds, its structure made once on
the meta device, with every parameter and buffer a slice of the supernet's: the leading channels of each
dimension, the centre of a larger kernel (optionally through OFA's learned kernel transforms), the first k
blocks of a stack. Gradients of a subnet flow into the shared weights; `extract(arch)` copies the same
slices into the plainly frozen network, so it computes exactly what the supernet computes for that arch.

Batch-norm statistics are shared too, which no subnet can use as they are: `recalibrate(arch, batches)`
estimates a subnet's own statistics (a cumulative average over the batches, the supernet untouched) before
the subnet is scored or extracted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from nasforge.errors import SpaceError
from nasforge.oneshot.shortcut import FadingShortcut
from nasforge.oneshot.supernet import MixedOp, Supernet, SupernetMode
from nasforge.space import Arch, ModelSpace
from nasforge.space.arch import Value
from nasforge.space.entangle import CHUNKS_ATTR, OPTIONAL_ATTR, Switch, Widest
from nasforge.space.mode import build_candidate, full_label, label_scope
from nasforge.space.primitives import Repeat

__all__ = ["EntangledMode", "EntangledSupernet"]

_CACHE_SIZE = 64


class EntangledMode(SupernetMode):
    """Builds the widest network of a space: numeric choices at their largest value, the deepest `Repeat`,
    every `LayerChoice` candidate; `fixed` pins decisions to one value, training hyperparameters stay at
    their first value (a supernet's training settings are its method's)."""

    def __init__(self, fixed: Mapping[str, Value] | str | None = None) -> None:
        super().__init__("path", fixed)
        self.name = "supernet(entangled)"

    def choice(self, label: str, values: tuple[Value, ...], kind: str) -> Any:
        full = full_label(label)
        if kind == "hparam" or full in self.fixed:
            return super().choice(label, values, kind)
        if all(isinstance(v, bool) for v in values):
            return Switch(full)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return Widest(max(values), full, values)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return max(values)
        return values[0]  # e.g. an activation's name: the subnet's own frozen network follows the arch

    def repeat(self, label: str, factory: Callable[[int], nn.Module], depths: tuple[int, ...]) -> nn.Module:
        full = full_label(label)
        if full in self.fixed:
            return super().repeat(label, factory, depths)
        blocks = []
        with label_scope(label):
            for i in range(max(depths)):
                with label_scope(str(i)):
                    blocks.append(build_candidate(lambda i=i: factory(i)))  # type: ignore[misc]
        return Repeat._create(full, blocks, depths)


class _Slot(NamedTuple):
    """Where one tensor of a subnet comes from: `owner`'s parameter or buffer `attr`, cut by `cut`, then
    shrunk through the kernel transforms named in `kernels` (centre of size k, then a learned k*k map)."""

    owner: nn.Module
    attr: str
    cut: tuple[slice, ...]
    kernels: tuple[tuple[str, int], ...]
    chunks: int = 1  # equal parts stacked along dimension 0 (q, k, v; an LSTM's gates), each cut apart


class _Plan(NamedTuple):
    structure: nn.Module
    slots: dict[str, _Slot]


def _tensor_of(module: nn.Module, attr: str) -> torch.Tensor | None:
    found = module._parameters.get(attr)
    return found if found is not None else module._buffers.get(attr)


def _chunks(module: nn.Module, attr: str) -> int:
    """Equal parts stacked along dimension 0 of `module.attr`: an LSTM's 4 gates, a GRU's 3, or as `stacked`
    marked (an attention's q, k and v)."""
    if isinstance(module, nn.RNNBase) and attr.startswith(("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
        return {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
    return int(getattr(module, CHUNKS_ATTR, 1)) if attr in ("weight", "bias") else 1


def _centre(w: torch.Tensor, k: int) -> torch.Tensor:
    off = (w.shape[-1] - k) // 2
    return w[..., off : off + k, off : off + k]


class EntangledSupernet(Supernet):
    """A space's widest network, whose subnets (archs) run on slices of its weights.

    `kernel_transform=True` adds, for every convolution whose kernel size is a choice, OFA's learned
    transforms: a (k*k, k*k) matrix per smaller size k, applied to the centre of the next larger kernel.

    >>> from nasforge.zoo.cnn import SmallImageCNN
    >>> space = SmallImageCNN(depths=(1, 2), widths=((8, 16),), stem_widths=(8,), input_shape=(1, 8, 8))
    >>> supernet = EntangledSupernet(space)
    >>> arch = supernet.sample(np.random.default_rng(0))
    >>> x = torch.randn(2, 1, 8, 8)
    >>> _ = supernet.eval()
    >>> bool(torch.equal(supernet.run(arch, x), supernet.extract(arch).eval()(x)))
    True
    """

    def __init__(
        self, space: ModelSpace, fixed: Mapping[str, Value] | str | None = None, kernel_transform: bool = False
    ) -> None:
        super().__init__(space, kind="path", fixed=fixed, bn_affine=True)
        self.kernel_transform = kernel_transform
        self.kernel_transforms = nn.ParameterDict()
        if kernel_transform:
            for name, module in self.net.named_modules():
                if isinstance(module, nn.Conv2d) and isinstance(module.kernel_size[0], Widest):
                    for k in range(int(module.kernel_size[0]) - 2, 0, -2):
                        key = f"{name.replace('.', '__')}__{k}"
                        self.kernel_transforms[key] = nn.Parameter(torch.eye(k * k))
        self._plans: OrderedDict[str, _Plan] = OrderedDict()
        self._shortcut = FadingShortcut()
        self._has_shortcuts = any(getattr(m, OPTIONAL_ATTR, (None, None, False))[2] for m in self.net.modules())
        self.active: Arch = self.space.validate(self._complete({}))
        self._search_labels = [d.label for d in space.decisions if d.label not in self.pinned]

    def _make_mode(self, kind: str, fixed: Mapping[str, Value] | str | None) -> SupernetMode:
        return EntangledMode(fixed)

    def weight_parameters(self) -> list[nn.Parameter]:
        return [*self.net.parameters(), *self.kernel_transforms.values()]

    def probabilities(self) -> dict[str, list[float]]:
        return {}  # no architecture weights: subnets are sampled, then searched

    # --- archs -----------------------------------------------------------------------------------------------
    def arch_of(self, values: Mapping[str, Value], rng: np.random.Generator | None = None) -> Arch:
        """The arch of `values` with the pinned decisions at their pins; a decision that `values` lacks gets
        a random value (`rng`) or its default."""
        out: dict[str, Value] = {}
        for d in self.space.decisions:
            if not d.is_active(out):
                continue
            if d.label in self.pinned:
                out[d.label] = self.pinned[d.label]
            elif d.label in values:
                out[d.label] = values[d.label]
            else:
                out[d.label] = d.values[int(rng.integers(len(d.values)))] if rng is not None else d.default
        return self.space.validate(out)

    def sample(self, rng: np.random.Generator) -> Arch:
        """A uniformly drawn subnet (pinned decisions at their pins)."""
        return self.arch_of({}, rng)

    def set_path(self, arch: Mapping[str, Value]) -> None:
        """Run `forward` as the subnet `arch`."""
        self.active = self.arch_of(arch)

    def sample_path(self, rng: np.random.Generator) -> dict[str, Value]:
        self.active = self.sample(rng)
        return dict(self.active)

    def extreme(self, largest: bool) -> Arch:
        """The subnet with the most (or fewest) parameters: every numeric decision at its largest (smallest)
        value, then each other decision (a layer, a flag) in discovery order at its largest (smallest) option."""

        def numeric(d: Any) -> bool:
            return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in d.values)

        pick = max if largest else min
        arch = self.arch_of({d.label: pick(d.values) if numeric(d) else d.default for d in self.space.decisions})
        sign = 1 if largest else -1
        for d in self.space.decisions:
            if d.label not in arch or d.label in self.pinned or numeric(d):
                continue
            best, best_size = arch, sign * self.param_count(arch)
            for value in d.values:
                if value == arch[d.label]:
                    continue
                candidate = self.arch_of({**arch, d.label: value})
                size = sign * self.param_count(candidate)
                if size > best_size:
                    best, best_size = candidate, size
            arch = best
        return arch

    def param_count(self, arch: Mapping[str, Value]) -> int:
        """Parameters of the subnet `arch` (of its frozen network, counted on the meta device)."""
        with torch.device("meta"):
            net = self.space.freeze(arch)
        return sum(p.numel() for p in net.parameters())

    # --- running a subnet -------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(self.active, x)

    def run(
        self,
        arch: Mapping[str, Value],
        x: torch.Tensor,
        buffers: Mapping[str, torch.Tensor] | None = None,
        shortcut: float = 0.0,
    ) -> Any:
        """The output of subnet `arch` on `x` (train or eval as the supernet is); `buffers` replace its
        batch-norm statistics, e.g. those of `recalibrate`. `shortcut` > 0 (for training) adds each block's
        input times `shortcut` to the output of every block whose residual `arch` leaves out (a
        `nasforge.space.optional` marked `shortcut=True`; see `nasforge.oneshot.shortcut`)."""
        plan = self._plan(arch)
        tensors = self._tensors(plan)
        if buffers:
            tensors.update(buffers)
        plan.structure.train(self.training)
        self._shortcut.set(shortcut)
        try:
            return functional_call(plan.structure, tensors, (x,))
        finally:
            self._shortcut.set(0.0)

    @torch.no_grad()
    def recalibrate(self, arch: Mapping[str, Value], batches: Iterable[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Batch-norm statistics of subnet `arch`: the cumulative average over `batches` (inputs), as OFA and
        BigNAS estimate them before a subnet is scored. The supernet's own statistics are left as they were."""
        plan = self._plan(arch)
        tensors = self._tensors(plan)
        fresh: dict[str, torch.Tensor] = {}
        norms = [
            (name, m)
            for name, m in plan.structure.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        ]
        for name, _ in norms:
            prefix = f"{name}." if name else ""
            like = tensors[prefix + "running_mean"]
            fresh[prefix + "running_mean"] = torch.zeros_like(like)
            fresh[prefix + "running_var"] = torch.ones_like(like)
            fresh[prefix + "num_batches_tracked"] = torch.zeros((), dtype=torch.long, device=like.device)
        if not norms:
            return fresh
        momenta = [m.momentum for _, m in norms]
        plan.structure.eval()
        for _, m in norms:
            m.momentum = None  # a cumulative average over the batches
            m.train()
        try:
            for x in batches:
                functional_call(plan.structure, {**tensors, **fresh}, (x,))
        finally:
            for (_, m), momentum in zip(norms, momenta, strict=True):
                m.momentum = momentum
        return fresh

    def extract(self, arch: Mapping[str, Value], buffers: Mapping[str, torch.Tensor] | None = None) -> ModelSpace:
        """The plain network of `arch` (`space.freeze`) holding copies of its slices of the supernet's weights
        (and `buffers`, e.g. recalibrated statistics): it computes what `run(arch, ...)` computes."""
        plan = self._plan(arch)
        with torch.no_grad():
            tensors = {k: v.detach().clone() for k, v in self._tensors(plan).items()}
        tensors.update({k: v.detach().clone() for k, v in (buffers or {}).items()})
        net = self.space.freeze(self.arch_of(arch))
        wanted = net.state_dict()
        net.load_state_dict({k: tensors[k] for k in wanted}, strict=True)
        device = next(iter(tensors.values())).device if tensors else torch.device("cpu")
        return net.to(device)

    # --- where each tensor of a subnet comes from -------------------------------------------------------------
    def _plan(self, arch: Mapping[str, Value]) -> _Plan:
        full = self.arch_of(arch)
        plan = self._plans.get(full.id)
        if plan is not None:
            self._plans.move_to_end(full.id)
            return plan
        with torch.device("meta"):
            structure = self.space.freeze(full)
        slots = {}
        for name, tensor in chain(structure.named_parameters(), structure.named_buffers()):
            slots[name] = self._slot(full, name, tuple(tensor.shape))
        if self._has_shortcuts:
            for name in self._bypassed(full, structure):
                self._shortcut.attach(structure.get_submodule(name))
        plan = _Plan(structure, slots)
        self._plans[full.id] = plan
        if len(self._plans) > _CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    def _tensors(self, plan: _Plan) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for name, slot in plan.slots.items():
            source = _tensor_of(slot.owner, slot.attr)
            if source is None:  # a module changed after the plan was made
                raise SpaceError(f"Supernet tensor {slot.attr!r} of {type(slot.owner).__name__} has gone.")
            if slot.chunks > 1:
                t = torch.cat([part[slot.cut] for part in source.chunk(slot.chunks)])
            else:
                t = source[slot.cut] if slot.cut else source
            for key, k in slot.kernels:
                t = (_centre(t, k).flatten(-2) @ self.kernel_transforms[key]).unflatten(-1, (k, k))
            out[name] = t
        return out

    def _bypassed(self, arch: Arch, structure: nn.Module) -> list[str]:
        """Names of the modules of `arch`'s frozen network that stand where the supernet has a residual
        (`optional(..., shortcut=True)`) whose flag `arch` turns off: the blocks a fading shortcut bridges."""
        names = []
        for name, _ in structure.named_modules():
            parts = name.split(".") if name else []
            skipped: list[bool] = []
            module = self._descend(self.net, [], arch, skipped if not parts else None)
            for i, part in enumerate(parts):
                child = module.blocks[int(part)] if isinstance(module, Repeat) else module._modules.get(part)
                if child is None:
                    break
                module = self._descend(child, [], arch, skipped if i == len(parts) - 1 else None)
            else:
                if any(skipped):
                    names.append(name)
        return names

    def _descend(self, module: nn.Module, path: list[str], arch: Arch, skipped: list[bool] | None = None) -> nn.Module:
        """Step through the supernet's forms that a frozen network does not have: a `MixedOp` to the chosen
        candidate, an optional wrapper whose flag is off to the module it wraps (noted in `skipped`: whether
        it was a shortcut)."""
        while True:
            if isinstance(module, MixedOp):
                index = module.keys.index(arch[module.label])
                module = module.candidates[index]
                path += ["candidates", str(index)]
                continue
            optional = getattr(module, OPTIONAL_ATTR, None)
            if optional is not None and arch.get(optional[0]) is False:
                if skipped is not None:
                    skipped.append(len(optional) > 2 and bool(optional[2]))
                module = getattr(module, optional[1])
                path.append(optional[1])
                continue
            return module

    def _slot(self, arch: Arch, name: str, shape: tuple[int, ...]) -> _Slot:
        *parts, attr = name.split(".")
        path: list[str] = []
        module = self._descend(self.net, path, arch)
        for part in parts:
            child = module.blocks[int(part)] if isinstance(module, Repeat) else module._modules.get(part)
            path += ["blocks", part] if isinstance(module, Repeat) else [part]
            if child is None:
                break
            module = self._descend(child, path, arch)
        else:
            source = _tensor_of(module, attr)
            if source is not None:
                return self._slicing(module, ".".join(path), attr, tuple(source.shape), shape, name)
        raise SpaceError(
            f"Subnet tensor {name!r} has no counterpart in the weight-entangled supernet (looked for "
            f"{'.'.join([*path, attr])!r}): the space builds it only for some values of a choice, through a Python "
            "`if` or a size that is not the largest one. Pin the decision that adds it with fixed={label: value}."
        )

    def _slicing(
        self, module: nn.Module, path: str, attr: str, big: tuple[int, ...], small: tuple[int, ...], name: str
    ) -> _Slot:
        if len(big) != len(small) or any(s > b for s, b in zip(small, big, strict=True)):
            raise SpaceError(
                f"Subnet tensor {name!r} has shape {list(small)}, which is not a slice of the supernet's "
                f"{list(big)}: a choice that sets this size must grow it with its value (a width or a kernel size)."
            )
        conv = isinstance(module, nn.modules.conv._ConvNd) and attr == "weight"
        chunks = _chunks(module, attr)
        if chunks > 1:
            if big[0] % chunks or small[0] % chunks:
                raise SpaceError(
                    f"Subnet tensor {name!r} stacks {chunks} parts, but its first dimension ({small[0]}, the "
                    f"supernet's {big[0]}) does not split into {chunks} equal parts."
                )
            big, small = (big[0] // chunks, *big[1:]), (small[0] // chunks, *small[1:])
        index: list[slice] = []
        kernels: list[tuple[str, int]] = []
        for d, (b, s) in enumerate(zip(big, small, strict=True)):
            if not (conv and d >= 2) or s == b:
                index.append(slice(0, s))
                continue
            if (b - s) % 2:
                raise SpaceError(
                    f"Kernel of {name!r} is {s} wide and the supernet's {b}: kernel sizes of one choice must differ "
                    "by an even number to share a centre."
                )
            key = f"{path.replace('.', '__')}__{s}"
            if key in self.kernel_transforms:
                index.append(slice(None))
                if d == 2:
                    kernels += [(f"{path.replace('.', '__')}__{k}", k) for k in range(b - 2, s - 1, -2)]
            else:
                index.append(slice((b - s) // 2, (b - s) // 2 + s))
        full = all(i.start in (0, None) and i.stop in (None, b) for i, b in zip(index, big, strict=True))
        return _Slot(module, attr, () if full else tuple(index), tuple(kernels), chunks if not full else 1)
