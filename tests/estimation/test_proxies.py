"""Zero-cost proxies on tiny NAS-Bench-201 networks: finite, deterministic, side-effect free, sensible order."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nasforge.errors import ConfigError, UnknownNameError
from nasforge.estimation import PROXIES, score
from nasforge.zoo.nb201 import NB201Space, str_to_arch

SHAPE = (3, 16, 16)
CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
FEWER_CONV = "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"
NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def build(cell: str, seed: int = 0) -> NB201Space:
    torch.manual_seed(seed)
    return NB201Space(C=4, N=1, input_shape=SHAPE).freeze(str_to_arch(cell))


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, *SHAPE, generator=g), torch.randint(0, 10, (8,), generator=g)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_proxy_is_finite_and_leaves_the_model_unchanged(name: str, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    model = build(CONV)
    model.eval()
    model.cells[0].train()  # a mixed mode must come back as it was
    before = snapshot(model)
    modes = [m.training for m in model.modules()]
    value = PROXIES[name](model, x, y)
    assert isinstance(value, float) and math.isfinite(value)
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key, tensor in before.items():
        assert after[key].dtype == tensor.dtype, key
        assert torch.equal(after[key], tensor), key
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_proxy_is_deterministic(name: str, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    model = build(CONV)
    assert PROXIES[name](model, x, y) == PROXIES[name](model, x, y)


def test_synflow_of_an_empty_cell_is_zero_and_below_a_conv_cell(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    empty = PROXIES["synflow"](build(NONE), x, y)
    assert empty == 0.0
    assert PROXIES["synflow"](build(CONV), x, y) > empty


def test_more_convolutions_give_more_params_and_flops(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    nets = [build(cell) for cell in (NONE, FEWER_CONV, CONV)]
    for name in ("params", "flops"):
        values = [PROXIES[name](net, x, y) for net in nets]
        assert values[0] < values[1] < values[2], (name, values)


def test_degenerate_scores_are_nan_not_inf(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    # all-`none` cells make the output independent of the input: a singular kernel, a zero Jacobian
    x, y = batch
    scores = score(build(NONE), x, y, names=("naswot", "jacob_cov"))
    assert all(math.isnan(v) for v in scores.values())


def test_score_computes_the_named_proxies(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    model = build(CONV)
    scores = score(model, x, y, names=("synflow", "snip"))
    assert list(scores) == ["synflow", "snip"]
    assert scores["snip"] == PROXIES["snip"](model, x, y)
    assert set(score(model, x, y)) == set(PROXIES)


def test_errors_are_config_errors(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    model = build(CONV)
    with pytest.raises(UnknownNameError, match="synflow"):
        score(model, x, y, names=("synflo",))
    with pytest.raises(ConfigError, match="labels"):
        PROXIES["snip"](model, x, None)
    with pytest.raises(ConfigError, match="int64"):
        PROXIES["grad_norm"](model, x, y[:3])
    with pytest.raises(ConfigError, match=r"labels in 0\.\.9"):
        PROXIES["fisher"](model, x, y + 10)
    with pytest.raises(ConfigError, match="at least 2"):
        PROXIES["jacob_cov"](model, x[:1], y[:1])
    with pytest.raises(ConfigError, match="ReLU"):
        PROXIES["naswot"](nn.Sequential(nn.Flatten(), nn.Linear(768, 10)), x, y)
    with pytest.raises(ConfigError, match="floating tensor"):
        PROXIES["synflow"](model, x.long(), y)


def test_data_free_proxies_need_no_labels(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, _ = batch
    model = build(CONV)
    for name in ("synflow", "naswot", "jacob_cov", "params", "flops"):
        assert math.isfinite(PROXIES[name](model, x, None))
