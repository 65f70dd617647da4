from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from nasforge.data import ArrayData
from nasforge.errors import ConfigError
from nasforge.oneshot import DARTS, DARTSPT, ENAS, GDAS, SPOS, BaseOneShot, BetaDARTS, DrNAS, FedNAS
from nasforge.zoo.nb201 import EDGES, NB201Space
from tests.oneshot.toys import Separable


def separable_data(n: int = 256) -> ArrayData:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=gen)
    return ArrayData(x, (x[:, 0] + x[:, 1] > 0).long())


FAST: dict[str, Any] = {"epochs": 6, "batch_size": 32, "learning_rate": 0.2, "arch_learning_rate": 0.05}
STRATEGIES: dict[str, Any] = {
    "darts": lambda: DARTS(**FAST),
    "darts2": lambda: DARTS(order=2, **FAST),
    "beta-darts": lambda: BetaDARTS(beta_weight=0.1, **FAST),
    "darts-pt": lambda: DARTSPT(eval_size=64, **FAST),
    "drnas": lambda: DrNAS(**FAST),
    # the federated search on pooled data: one client holding every sample, a round per epoch
    "fednas": lambda: FedNAS(rounds=6, batch_size=32, learning_rate=0.2, arch_learning_rate=0.05),
    # one sampled path per step learns slower: more epochs (all within a second)
    "gdas": lambda: GDAS(tau_max=1.0, **{**FAST, "epochs": 20}),
    "enas": lambda: ENAS(epochs=6, batch_size=32, learning_rate=0.2, policy_learning_rate=0.1, policy_steps=10),
    "spos": lambda: SPOS(epochs=6, batch_size=32, learning_rate=0.2, population=2, generations=1, eval_size=128),
}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_finds_the_known_optimum(name: str) -> None:
    torch.set_num_threads(1)
    data = separable_data()
    strategy: BaseOneShot = STRATEGIES[name]()
    result = strategy.search(Separable(), data, data)
    assert result.arch == {"hidden": "linear"}
    assert result.history and result.search_time > 0


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_runs_on_a_tiny_nb201(name: str) -> None:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    data = ArrayData(torch.randn(16, 1, 8, 8, generator=gen), torch.randint(0, 10, (16,), generator=gen))
    strategy = STRATEGIES[name]()
    strategy.epochs = 1
    space = NB201Space(C=2, N=1, input_shape=(1, 8, 8))
    arch = strategy.search(space, data, data).arch
    assert sorted(arch) == sorted(EDGES) and space.validate(arch) == arch


def test_second_order_gradient_differs_from_first_order() -> None:
    data = separable_data(64)
    first = DARTS(epochs=1, batch_size=32, arch_learning_rate=0.05, seed=1).search(Separable(), data, data)
    second = DARTS(epochs=1, batch_size=32, order=2, arch_learning_rate=0.05, seed=1).search(Separable(), data, data)
    assert first.probabilities != second.probabilities


def test_beta_darts_regulariser_keeps_alphas_smaller() -> None:
    data = separable_data()
    plain = DARTS(epochs=4, batch_size=32, arch_learning_rate=0.1).search(Separable(), data, data)
    beta = BetaDARTS(epochs=4, batch_size=32, arch_learning_rate=0.1, beta_weight=20.0).search(Separable(), data, data)
    assert max(beta.probabilities["hidden"]) < max(plain.probabilities["hidden"])


def test_warmup_epochs_leave_the_architecture_weights_alone() -> None:
    data = separable_data()
    seen: list[list[float]] = []
    method = DARTS(epochs=3, warmup_epochs=2, batch_size=32, learning_rate=0.2, arch_learning_rate=0.05)
    original = method._epoch

    def spy(ctx: Any, epoch: int) -> dict[str, float]:
        out = original(ctx, epoch)
        seen.append([float(v) for v in ctx.supernet.arch_parameters()[0].detach()])
        return out

    method._epoch = spy  # type: ignore[method-assign]
    result = method.search(Separable(), data, data)
    assert result is not None and seen[0] == seen[1] == [0.0, 0.0]  # two weight-only epochs
    assert seen[2] != [0.0, 0.0] and result.arch == {"hidden": "linear"}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: DARTS(epochs=0), "`epochs` of DARTS must be an int >= 1, but got 0"),
        (lambda: DARTS(order=3), "`order` of DARTS must be 1"),
        (lambda: GDAS(tau_max=1.0, tau_min=2.0), "`tau_min` of GDAS must be <= tau_max"),
        (lambda: BetaDARTS(beta_weight=-1.0), "`beta_weight` of BetaDARTS must be a number >= 0"),
        (lambda: ENAS(policy_steps=0), "`policy_steps` of ENAS must be an int >= 1"),
        (lambda: SPOS(population=1), "`population` of SPOS must be an int >= 2"),
        (lambda: DrNAS(arch_learning_rate=0.0), "`arch_learning_rate` of DrNAS must be a number > 0"),
        (lambda: DARTS(epochs=3, warmup_epochs=3), "`warmup_epochs` of DARTS must be < epochs=3"),
    ],
)
def test_settings_are_checked(make: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()


def test_search_checks_its_inputs() -> None:
    data = separable_data(8)
    with pytest.raises(ConfigError, match="needs a ModelSpace"):
        DARTS().search(nn.Linear(2, 2), data, data)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"`valid` of DARTS\.search must be a non-empty ArrayData"):
        DARTS().search(Separable(), data, None)  # type: ignore[arg-type]
