"""The fading identity shortcut of a weight-entangled supernet (`OFA(shortcut_epochs=...)`): it bridges
exactly the blocks whose residual an arch leaves out, only while training asks for it, and never changes a
subnet scored or extracted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.data import ArrayData
from nasforge.errors import ConfigError, SpaceError
from nasforge.oneshot import OFA
from nasforge.oneshot.entangled import EntangledSupernet
from nasforge.oneshot.shortcut import identity_like
from nasforge.zoo.cnn import SmallImageCNN


def space() -> SmallImageCNN:
    return SmallImageCNN(input_shape=(1, 8, 8), depths=(1, 2), widths=((4, 8), (8, 12)), stem_widths=(4, 8))


def bridged(net: nn.Module, names: list[str], weight: float) -> list[Any]:
    """Hooks on `net` adding each named module's input times `weight` to its output (the expected path)."""
    hook = lambda m, args, out: out + weight * identity_like(args[0], out)  # noqa: E731
    return [net.get_submodule(n).register_forward_hook(hook) for n in names]


def test_the_shortcut_bridges_the_blocks_without_a_residual_and_leaves_the_subnets_unchanged() -> None:
    torch.set_num_threads(1)
    supernet = EntangledSupernet(space()).eval()
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    seen_off = 0
    for seed in range(6):
        arch = supernet.sample(np.random.default_rng(seed))
        off = [k.rsplit("/", 1)[0] for k, v in arch.items() if k.endswith("/residual") and v is False]
        expected_names = sorted(f"stages.{k[5]}.1.{k.split('/')[2]}" for k in off)  # stageS/blocks/I -> stages.S.1.I
        net = supernet.extract(arch).eval()
        with torch.device("meta"):
            names = supernet._bypassed(arch, supernet.space.freeze(arch))
        assert sorted(names) == expected_names
        plain = net(x)
        assert torch.equal(supernet.run(arch, x), plain)
        hooks = bridged(net, names, 0.5)
        assert torch.allclose(supernet.run(arch, x, shortcut=0.5), net(x), atol=1e-6)
        for h in hooks:
            h.remove()
        # the weight holds for one call only: afterwards the supernet and the extracted network agree again
        assert torch.equal(supernet.run(arch, x), plain) and torch.equal(supernet.extract(arch).eval()(x), plain)
        if off:
            seen_off += 1
            assert not torch.allclose(supernet.run(arch, x, shortcut=1.0), plain)
        else:
            assert torch.equal(supernet.run(arch, x, shortcut=1.0), plain)
    assert seen_off >= 2
    with pytest.raises(SpaceError, match="weight of a fading shortcut must be a number >= 0"):
        supernet.run(arch, x, shortcut=-1.0)


def test_identity_like_cuts_pads_and_pools_and_refuses_other_shapes() -> None:
    x = torch.arange(8.0).reshape(1, 2, 2, 2)
    assert torch.equal(identity_like(x, torch.zeros(1, 1, 2, 2)), x[:, :1])
    padded = identity_like(x, torch.zeros(1, 3, 1, 1))
    assert padded.flatten().tolist() == [1.5, 5.5, 0.0]
    with pytest.raises(SpaceError, match="adds a block's input to its output"):
        identity_like(x, torch.zeros(1, 2, 2))


def test_shortcut_epochs_anneal_the_weight_to_zero_and_are_checked() -> None:
    method = OFA(epochs=4, shortcut_epochs=2)
    assert [method.shortcut_weight(step, 10) for step in (0, 9, 18, 19, 39)] == pytest.approx([0.95, 0.5, 0.05, 0, 0])
    assert OFA(epochs=4).shortcut_weight(0, 10) == 0.0
    with pytest.raises(ConfigError, match="`shortcut_epochs` of OFA must be at most `epochs` \\(4\\), but got 5"):
        OFA(epochs=4, shortcut_epochs=5)
    with pytest.raises(ConfigError, match="`shortcut_epochs` of OFA must be an int >= 0"):
        OFA(shortcut_epochs=-1)


def test_training_with_the_shortcut_reports_its_weight_and_differs_from_training_without() -> None:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    data = torch.randn(32, 1, 8, 8, generator=gen), torch.randint(0, 10, (32,), generator=gen)

    options: dict[str, Any] = {"epochs": 2, "batch_size": 8, "population": 2, "generations": 1, "device": "cpu"}
    runs = {}
    for epochs in (0, 2):
        result = OFA(**options, shortcut_epochs=epochs).search(space(), ArrayData(*data), ArrayData(*data))
        assert result is not None
        runs[epochs] = result.history
    assert [h["shortcut"] for h in runs[0]] == [0.0, 0.0]
    assert runs[2][0]["shortcut"] == pytest.approx(0.5) and runs[2][1]["shortcut"] == 0.0
    assert runs[2][0]["student_loss"] != runs[0][0]["student_loss"]
