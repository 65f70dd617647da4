"""`ZeroCostWarmup` and the `sample_random` hook: random proposals served from a proxy's ranking, exact
resume, the config key, and strategies unchanged when no sampler is installed."""

from __future__ import annotations

import hashlib
import json
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasforge import config as configs
from nasforge.cost import count_params
from nasforge.data.base import ArrayData
from nasforge.errors import ConfigError
from nasforge.estimation import PROXIES, ProxyScorer, mean_rank
from nasforge.space import Arch, LayerChoice, ModelSpace
from nasforge.strategies import (
    STRATEGIES,
    BaseStrategy,
    Deduplicate,
    LocalSearch,
    RandomSearch,
    RegularizedEvolution,
    Retry,
    ZeroCostWarmup,
)
from nasforge.trial import Objective, Proposal, TrialRecord, TrialState
from nasforge.zoo.nb201 import NB201Space

WIDTHS = (1, 2, 4, 8, 16, 32)


class MLPSpace(ModelSpace):
    """8 -> hidden -> 8 with a hidden width and an activation to choose: 18 archs whose parameter counts
    grow with the width."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = LayerChoice(
            {f"w{w}": (lambda w=w: nn.Sequential(nn.Linear(8, w), nn.ReLU(), nn.Linear(w, 8))) for w in WIDTHS},
            label="hidden",
        )
        self.act = LayerChoice({"relu": nn.ReLU, "tanh": nn.Tanh, "id": nn.Identity}, label="act")
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.act(self.hidden(x)))


def fake_score(arch: Arch) -> float:
    return int(hashlib.sha256(arch.id.encode()).hexdigest()[:6], 16) / 2**24


def tell(strategy: BaseStrategy, number: int, proposal: Proposal) -> None:
    metrics = {"val_acc": fake_score(proposal.arch)}
    strategy.tell(
        TrialRecord(number, proposal.arch, proposal.budget, TrialState.COMPLETE, metrics, None, proposal.info)
    )


def drive(strategy: BaseStrategy, n: int, start: int = 0) -> list[str]:
    """Ask and tell `n` times (synchronously), returning the proposed arch ids."""
    ids = []
    for i in range(start, start + n):
        proposal = strategy.ask()
        assert proposal is not None
        ids.append(f"{proposal.arch.id}@{proposal.budget}")
        tell(strategy, i, proposal)
    return ids


def params_of(space: ModelSpace, arch: Arch) -> int:
    return count_params(space.freeze(arch))


# --- the ranking follows the proxy ------------------------------------------------------------------------------


def test_random_search_is_served_in_decreasing_parameter_count() -> None:
    space = MLPSpace()
    warm = ZeroCostWarmup(RandomSearch(), proxy="params", pool=8, input_shape=(8,))
    warm.setup(space, Objective(), seed=3)
    proposals = [warm.ask() for _ in range(8)]
    archs = [p.arch for p in proposals if p is not None]
    counts = [params_of(space, a) for a in archs]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    assert [a for a, _ in warm.ranking] == archs and warm.served == 8
    assert [s for _, s in warm.ranking] == [float(c) for c in counts]  # the scores are the real counts
    # the pool used up, proposals are uniform draws again (not necessarily in decreasing order)
    assert warm.ask() is not None and warm.served == 8


def test_synflow_ranking_matches_an_independent_computation() -> None:
    space = NB201Space(C=4, N=1, input_shape=(3, 8, 8))
    warm = ZeroCostWarmup(
        RegularizedEvolution(population_size=4, sample_size=2), proxy="synflow", pool=12, seed=5, input_shape=(3, 8, 8)
    )
    warm.setup(space, Objective(), seed=0)
    first = [p.arch for p in (warm.ask() for _ in range(4)) if p is not None]

    def synflow(arch: Arch) -> float:
        torch.manual_seed(warm.scorer._arch_seed(arch))
        value = PROXIES["synflow"](space.freeze(arch), torch.ones(1, 3, 8, 8))
        return value if math.isfinite(value) else -math.inf

    pool = [a for a, _ in warm.ranking]
    truth = sorted(pool, key=synflow, reverse=True)
    assert [synflow(a) for a in pool] == [synflow(a) for a in truth]
    assert first == pool[:4]  # the initial population is the proxy's top 4


def test_several_proxies_combine_by_mean_rank() -> None:
    assert mean_rank([[1.0, 3.0, 2.0], [30.0, 10.0, float("nan")]]).tolist() == [2.0, 2.5, 1.5]
    space = MLPSpace()
    archs = [space.random(seed) for seed in range(10)]
    scorer = ProxyScorer(("params", "synflow"), input_shape=(8,))
    combined = scorer(space, archs)
    each = scorer.scores(space, archs)
    assert np.allclose(combined, mean_rank([each["params"], each["synflow"]]))
    assert each["params"] == [float(params_of(space, a)) for a in archs]


def test_a_lookup_replaces_the_networks_and_names_a_missing_key() -> None:
    space = MLPSpace()
    archs = list(space.grid())
    lookup = {a.id: float((7 * i) % len(archs)) for i, a in enumerate(archs)}
    warm = ZeroCostWarmup(RandomSearch(), scorer=ProxyScorer("synflow", lookup=lookup), pool=4)
    warm.setup(space, Objective(), seed=0)
    warm.ask()
    scores = [s for _, s in warm.ranking]
    assert scores == sorted(scores, reverse=True) and all(s == lookup[a.id] for a, s in warm.ranking)
    with pytest.raises(ConfigError, match="must hold a score for every arch"):
        ProxyScorer("synflow", lookup={})(space, archs)


def test_data_dependent_proxies_need_samples() -> None:
    space = MLPSpace()
    warm = ZeroCostWarmup(RandomSearch(), proxy="naswot", pool=4)
    warm.setup(space, Objective(), seed=0)
    with pytest.raises(ConfigError, match=r"need real samples.*pass batch=\(x, y\) or dataset="):
        warm.ask()
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    for kwargs in ({"batch": (x, y)}, {"dataset": ArrayData(x, y)}):
        scorer = ProxyScorer(("snip", "naswot"), batch_size=16, **kwargs)
        assert np.isfinite(scorer(space, [space.random(0), space.random(1)])).all()
    with pytest.raises(ConfigError, match="need class labels"):
        ProxyScorer("snip", batch=(x, None))(space, [space.random(0)])
    with pytest.raises(ConfigError, match="need the input shape"):
        ProxyScorer("synflow")(space, [space.random(0)])


def test_prepare_takes_samples_and_the_input_shape_from_the_evaluator() -> None:
    space = MLPSpace()
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    data = SimpleNamespace(load=lambda: SimpleNamespace(train=ArrayData(x, y)))
    for proxy, evaluator in (
        (("naswot", "synflow"), SimpleNamespace(dataset=data)),
        ("synflow", SimpleNamespace(dataset="cifar10", input_shape=(8,))),  # a tabular evaluator names its data
    ):
        warm = ZeroCostWarmup(RandomSearch(), proxy=proxy, pool=4)
        warm.setup(space, Objective(), seed=0)
        assert warm.prepare(SimpleNamespace(evaluator=evaluator))
        assert warm.ask() is not None and len(warm.ranking) == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"proxy": "synflw"}, "synflow"),
        ({"proxy": []}, "non-empty list"),
        ({"proxy": ("params", "params")}, "each proxy once"),
        ({"pool": 0}, "`pool` of ZeroCostWarmup must be an int >= 1"),
        ({"input_shape": (3, -1)}, "positive ints"),
        ({"batch": "images"}, "pair"),
        ({"scorer": "synflow"}, "must be a nasforge.estimation.ProxyScorer"),
        ({"scorer": ProxyScorer("params"), "seed": 1}, "either `scorer` or"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ZeroCostWarmup(RandomSearch(), **kwargs)


# --- resume -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [RandomSearch, lambda: RegularizedEvolution(4, 2), lambda: LocalSearch(3)])
def test_state_round_trip_resumes_identically(make: Any) -> None:
    space = MLPSpace()

    def fresh() -> ZeroCostWarmup:
        strategy = Deduplicate(ZeroCostWarmup(make(), proxy="params", pool=10, input_shape=(8,)), max_skips=0)
        strategy.setup(space, Objective(), seed=11)
        return strategy  # type: ignore[return-value]

    a = fresh()
    drive(a, 5)
    state = json.loads(json.dumps(a.state_dict(), allow_nan=False))  # JSON-ready
    b = fresh()
    b.load_state_dict(state)
    inner_b = b.inner  # type: ignore[attr-defined]
    assert isinstance(inner_b, ZeroCostWarmup) and inner_b.served == a.inner.served  # type: ignore[attr-defined]
    assert drive(b, 12, start=5) == drive(a, 12, start=5)
    assert inner_b.scorer.cpu_seconds == 0.0  # the pool came from the state, not scored again


# --- the hook ---------------------------------------------------------------------------------------------------


def test_a_sampler_reaches_the_innermost_strategy_through_middleware() -> None:
    space = MLPSpace()
    inner = RandomSearch(dedup=False)
    fixed = space.random(0)
    wrapped = Retry(Deduplicate(inner, max_skips=0))
    wrapped.setup(space, Objective(), seed=0)
    wrapped.set_sampler(lambda rng: fixed)
    assert inner.sample_random() == fixed and wrapped.ask().arch == fixed  # type: ignore[union-attr]
    wrapped.set_sampler(None)
    with pytest.raises(ConfigError, match="must be callable"):
        wrapped.set_sampler("random")  # type: ignore[arg-type]


# sha256 prefixes of 40 proposals (arch id @ budget) on NB201Space(C=2, N=1), seed 7, each told a score hashed
# from its arch id; computed with the code before `sample_random` existed, so any change of behaviour shows
GOLDEN = {
    "random": ({}, "60e5b1a093b784cc"),
    "evolution": ({"population_size": 10, "sample_size": 3}, "f8f01a0376faa50e"),
    "local_search": ({}, "f895bf1540b1deeb"),
    "bo": ({"n_initial": 5, "candidates": "mutation", "n_candidates": 20}, "120c8bb0e7e60341"),
    "successive_halving": ({"budgets": (1, 3, 9)}, "ed1f14f5b357f8c1"),
    "hyperband": ({"budgets": (1, 3, 9)}, "0a683649e5a78131"),
    "asha": ({"budgets": (1, 3, 9)}, "2ed5da0da2798a2b"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_strategies_propose_as_before_without_a_sampler(name: str) -> None:
    kwargs, digest = GOLDEN[name]
    strategy = STRATEGIES.create(name, **kwargs)
    strategy.setup(NB201Space(C=2, N=1), Objective(), 7)
    ids = drive(strategy, 40)
    assert hashlib.sha256(",".join(ids).encode()).hexdigest()[:16] == digest


# --- config -----------------------------------------------------------------------------------------------------


def digits(**strategy: Any) -> dict[str, Any]:
    cfg = configs.load_preset("digits")
    cfg["strategy"] = {**cfg["strategy"], **strategy}
    return cfg


def test_the_config_key_wraps_the_strategy(tmp_path: Any) -> None:
    cfg = digits(zero_cost_warmup={"proxy": ["synflow", "params"], "pool": 6}, deduplicate=True)
    exp = configs.build_experiment(cfg, storage=str(tmp_path / "z.db"))
    dedup = exp.strategy
    assert isinstance(dedup, Deduplicate)
    warm = dedup.inner
    assert isinstance(warm, ZeroCostWarmup) and warm.pool == 6 and warm.scorer.names == ("synflow", "params")
    assert isinstance(warm.inner, RegularizedEvolution)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"pool": 0}, "zero_cost_warmup.pool must be an int >= 1"),
        ({"pool": "many"}, "zero_cost_warmup.pool must be int"),
        ({"pools": 10}, "Unknown key 'pools'"),
        ({"proxy": "synflw"}, "synflow"),
        ({"input_shape": [0, 8]}, "positive ints"),
    ],
)
def test_bad_config_values_raise_config_error(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        configs.validate(digits(zero_cost_warmup=options))
