"""Weight-entangled supernets: a subnet extracted from the supernet computes exactly what the supernet
computes for its arch (widths, kernels, depths, layer choices), batch-norm statistics are recalibrated per
subnet, and decisions the supernet cannot share fail with the label named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.errors import SpaceError
from nasforge.oneshot import EntangledSupernet
from nasforge.ops import Residual
from nasforge.space import ModelSpace, choice
from nasforge.zoo.cnn import SmallImageCNN
from nasforge.zoo.mlp import MLPSpace
from nasforge.zoo.text import TextClassifierSpace

X = torch.randn(3, 1, 10, 10, generator=torch.Generator().manual_seed(1))


def tiny_cnn() -> SmallImageCNN:
    return SmallImageCNN(input_shape=(1, 10, 10), depths=(1, 2, 3), widths=((4, 6, 8), (8, 12)), stem_widths=(4, 6))


def shaken(supernet: EntangledSupernet) -> EntangledSupernet:
    """Random weights and statistics everywhere, so that a wrong slice cannot go unnoticed."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in [*supernet.parameters(), *supernet.buffers()]:
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
    return supernet


@pytest.mark.parametrize("kernel_transform", [False, True])
def test_extracted_subnets_compute_what_the_supernet_computes(kernel_transform: bool) -> None:
    torch.set_num_threads(1)
    supernet = shaken(EntangledSupernet(tiny_cnn(), kernel_transform=kernel_transform)).eval()
    rng = np.random.default_rng(0)
    sizes, depths, kernels = set(), set(), set()
    for _ in range(12):
        arch = supernet.sample(rng)
        net = supernet.extract(arch).eval()
        assert torch.equal(supernet.run(arch, X), net(X)), dict(arch)
        sizes.add(supernet.param_count(arch))
        depths.add(arch["stage0/blocks"])
        kernels.add(arch["stage0/blocks/0/kernel"])
    assert len(sizes) > 6 and depths == {1, 2, 3} and kernels == {3, 5}  # the archs really differ
    assert (len(supernet.kernel_transforms) > 0) == kernel_transform


def test_widths_are_leading_channels_kernels_the_centre_and_depth_the_first_blocks() -> None:
    space = tiny_cnn()
    supernet = shaken(EntangledSupernet(space))
    base = dict(supernet.extreme(largest=True))
    arch = supernet.arch_of(
        {
            **base,
            "stem_width": 4,
            "stage0/blocks": 1,
            "stage0/blocks/0/op": "conv",
            "stage0/blocks/0/kernel": 3,
            "stage0/blocks/0/width": 6,
        }
    )
    net = supernet.extract(arch)
    big = supernet.net
    assert torch.equal(net.stem[0].weight, big.stem[0].weight[:4])
    conv = big.stages[0][1].blocks[0].body.candidates[0][0]  # residual, then the "conv" candidate
    small = net.stages[0][1][0]
    small_conv = (small.body if isinstance(small, Residual) else small)[0]
    assert conv.weight.shape[-1] == 5 and small_conv.weight.shape == (6, 4, 3, 3)
    assert torch.equal(small_conv.weight, conv.weight[:6, :4, 1:4, 1:4])
    assert len(net.stages[0][1]) == 1 and len(big.stages[0][1].blocks) == 3


def test_a_subnet_trains_the_shared_weights_it_uses_and_no_others() -> None:
    supernet = EntangledSupernet(tiny_cnn()).train()
    arch = supernet.arch_of({**supernet.extreme(largest=False), "stage0/blocks/0/op": "conv"})
    supernet.run(arch, X).sum().backward()
    stem = supernet.net.stem[0].weight
    assert stem.grad is not None and stem.grad[: arch["stem_width"]].abs().sum() > 0
    assert stem.grad[arch["stem_width"] :].abs().sum() == 0  # the channels this subnet does not have
    unused = supernet.net.stages[0][1].blocks[0].body.candidates[1]  # "sep", not chosen
    assert all(p.grad is None for p in unused.parameters())


def test_batch_norm_is_recalibrated_per_subnet_without_touching_the_supernet() -> None:
    supernet = shaken(EntangledSupernet(tiny_cnn()))
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    arch = supernet.sample(np.random.default_rng(3))
    batches = [torch.randn(4, 1, 10, 10, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    stats = supernet.eval().recalibrate(arch, batches)
    assert all(torch.equal(v, before[k]) for k, v in supernet.state_dict().items())
    net = supernet.extract(arch)
    width = arch["stem_width"]
    conv_out = torch.cat([net.stem[0](x) for x in batches])  # the stem's BN sees the stem conv's output
    mean = conv_out.mean(dim=(0, 2, 3))
    assert torch.allclose(stats["stem.1.running_mean"], mean, atol=1e-5) and mean.shape == (width,)
    assert int(stats["stem.1.num_batches_tracked"]) == 3
    recalibrated = supernet.extract(arch, stats).eval()
    assert torch.equal(recalibrated(X), supernet.run(arch, X, stats))
    assert not torch.equal(recalibrated(X), net.eval()(X))


def test_the_largest_and_smallest_subnets_bound_every_other() -> None:
    supernet = EntangledSupernet(tiny_cnn())
    largest, smallest = supernet.extreme(largest=True), supernet.extreme(largest=False)
    big, small = supernet.param_count(largest), supernet.param_count(smallest)
    rng = np.random.default_rng(0)
    assert all(small <= supernet.param_count(supernet.sample(rng)) <= big for _ in range(10))
    assert largest["stage1/blocks"] == 3 and smallest["stage1/blocks"] == 1


def test_training_hyperparameters_stay_fixed_and_are_reported() -> None:
    supernet = EntangledSupernet(tiny_cnn())
    rng = np.random.default_rng(0)
    assert {supernet.sample(rng)["learning_rate"] for _ in range(10)} == {0.05}
    assert supernet.pinned == {"learning_rate": 0.05, "batch_size": 128, "weight_decay": 5e-4}


def test_a_pinned_layer_choice_is_honoured_by_every_subnet() -> None:
    """`fixed` on a LayerChoice label was once dropped silently: subnets still drew every operation."""
    space = tiny_cnn()
    ops = {d.label: "conv" for d in space.decisions if d.label.endswith("/op")}
    supernet = shaken(EntangledSupernet(space, fixed={**ops, "stage0/downsample": "max"}))
    rng = np.random.default_rng(0)
    for _ in range(8):
        arch = supernet.sample(rng)
        assert {arch[label] for label in ops if label in arch} == {"conv"} and arch["stage0/downsample"] == "max"
        assert torch.equal(supernet.eval().run(arch, X), supernet.extract(arch).eval()(X))
    assert all(supernet.pinned[label] == "conv" for label in ops) and supernet.pinned["stage0/downsample"] == "max"
    assert supernet.extreme(largest=False)["stage0/downsample"] == "max"
    with pytest.raises(SpaceError, match="stage0/downsample"):
        EntangledSupernet(space, fixed={"stage0/downsample": "strided"})


class IfOnFlag(ModelSpace):
    def __init__(self) -> None:
        super().__init__()
        layers = [nn.Linear(4, 4)]
        if choice("extra", [True, False]):
            layers.append(nn.Linear(4, 4))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ShrinkingWidth(ModelSpace):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 12 // choice("groups", [1, 2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_decisions_that_cannot_be_shared_name_their_label_and_the_way_out() -> None:
    with pytest.raises(SpaceError, match=r"'extra'.*Python `if`.*fixed=\{'extra'"):
        EntangledSupernet(IfOnFlag())
    assert EntangledSupernet(IfOnFlag(), fixed={"extra": True}).pinned == {"extra": True}
    supernet = EntangledSupernet(ShrinkingWidth())
    with pytest.raises(SpaceError, match=r"'fc.weight' has shape \[12, 4\].*must grow it"):
        supernet.run({"groups": 1}, torch.randn(2, 4))


def test_frozen_cnn_networks_are_built_as_before() -> None:
    space = tiny_cnn()
    arch = space.default_arch()
    plain = space.freeze({**arch, "stage0/blocks/0/residual": False})
    assert not isinstance(plain.stages[0][1][0], Residual)
    assert isinstance(space.freeze({**arch, "stage0/blocks/0/residual": True}).stages[0][1][0], Residual)


def test_the_text_space_shares_embedding_widths_heads_and_recurrent_gates() -> None:
    space = TextClassifierSpace(
        input_shape=(12,), vocab_size=50, embed_dims=(8, 4, 16), ops=("lstm", "gru", "transformer"), depths=(1, 2)
    )
    supernet = shaken(EntangledSupernet(space)).eval()
    x = torch.randint(0, 50, (3, 12), generator=torch.Generator().manual_seed(0)).float()
    rng = np.random.default_rng(0)
    ops = set()
    for _ in range(8):
        arch = supernet.sample(rng)
        ops.add(arch["blocks/0/op"])
        assert torch.equal(supernet.run(arch, x), supernet.extract(arch).eval()(x)), dict(arch)
    assert ops == {"lstm", "gru", "transformer"}
    arch = supernet.arch_of({"embed_dim": 8, "blocks": 1, "blocks/0/op": "transformer"}, rng)
    qkv = supernet.extract(arch).blocks[0].qkv.weight  # q, k and v each take the leading rows of their part
    big = supernet.net.blocks.blocks[0].candidates[2].qkv.weight
    assert torch.equal(qkv, torch.cat([part[:8, :8] for part in big.chunk(3)]))


def test_a_space_that_steers_structure_by_other_choices_works_once_they_are_pinned() -> None:
    with pytest.raises(SpaceError, match="'residual'"):
        EntangledSupernet(MLPSpace(input_shape=(7,)))
    supernet = EntangledSupernet(MLPSpace(input_shape=(7,)), fixed={"residual": True, "norm": "batch"}).eval()
    x = torch.randn(3, 7)
    rng = np.random.default_rng(0)
    for _ in range(5):
        arch = supernet.sample(rng)
        assert arch["norm"] == "batch" and torch.equal(supernet.run(arch, x), supernet.extract(arch).eval()(x))
