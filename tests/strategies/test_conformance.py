"""Every registered strategy, and strategies wrapped in each middleware, run this suite: the ask/tell
contract, asynchronous asks, resume from state, determinism under a seed, and finding the optimum of a
small space with a known answer."""

from __future__ import annotations

import json

import pytest

from nasforge.errors import ConfigError
from nasforge.oneshot import ONESHOT_NAMES
from nasforge.strategies import (
    REINFORCE,
    STRATEGIES,
    BaseStrategy,
    BudgetLimit,
    ConstraintFilter,
    Deduplicate,
    RandomSearch,
    RegularizedEvolution,
    Retry,
)
from nasforge.trial import Objective, TrialRecord, TrialState
from tests.toys import ToySpace, toy_score

OBJECTIVE = Objective("score", "maximize")
SPACE = ToySpace()


WRAPPED = {
    "dedup(evolution)": lambda: Deduplicate(RegularizedEvolution(population_size=8, sample_size=3)),
    "retry(random)": lambda: Retry(RandomSearch(), max_retries=2),
    "constraint(reinforce)": lambda: ConstraintFilter(REINFORCE(), lambda arch: arch["x"] != 4, "x != 4"),
    "budget(random)": lambda: BudgetLimit(RandomSearch(), max_cost=1e9),
}


def make(name: str, seed: int = 0) -> BaseStrategy:
    if name in WRAPPED:
        strategy = WRAPPED[name]()
    else:
        kwargs = {"population_size": 8, "sample_size": 3} if name == "evolution" else {}
        strategy = STRATEGIES.create(name, **kwargs)
    strategy.setup(SPACE, OBJECTIVE, seed)
    return strategy


def complete(number: int, arch, state: TrialState = TrialState.COMPLETE) -> TrialRecord:
    metrics = {"score": toy_score(arch)} if state is TrialState.COMPLETE else {}
    return TrialRecord(number, arch, state=state, metrics=metrics, error=None if metrics else "boom")


def drive(strategy: BaseStrategy, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        proposal = strategy.ask()
        assert proposal is not None
        ids.append(proposal.arch.id)
        strategy.tell(complete(i, proposal.arch))
    return ids


# one-shot strategies propose a single arch after training a supernet on data: tests/oneshot covers them
MULTI_TRIAL = [name for name in STRATEGIES.names() if name not in ONESHOT_NAMES]
names = pytest.mark.parametrize("name", [*MULTI_TRIAL, *WRAPPED])
#: the slowest strategy per ask (a network ensemble refitted each time): its long drives run with the slow tests
SLOW_TO_DRIVE = {"bananas"}
long_names = pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_TO_DRIVE else n for n in [*MULTI_TRIAL, *WRAPPED]]
)


@names
def test_proposals_are_valid_archs(name: str) -> None:
    strategy = make(name)
    for i in range(30):
        proposal = strategy.ask()
        assert proposal is not None
        assert SPACE.validate(proposal.arch) == proposal.arch
        json.dumps(dict(proposal.info))
        strategy.tell(complete(i, proposal.arch))


@names
def test_asynchronous_asks_and_out_of_order_tells(name: str) -> None:
    strategy = make(name)
    outstanding = [strategy.ask() for _ in range(12)]
    assert all(p is not None for p in outstanding)
    for i, p in reversed(list(enumerate(outstanding))):
        assert p is not None
        strategy.tell(complete(i, p.arch))
    assert strategy.ask() is not None


@names
def test_failed_trials_are_tolerated(name: str) -> None:
    strategy = make(name)
    for i in range(20):
        p = strategy.ask()
        assert p is not None
        strategy.tell(complete(i, p.arch, TrialState.FAILED if i % 3 == 0 else TrialState.COMPLETE))


@long_names
def test_same_seed_same_proposals(name: str) -> None:
    assert drive(make(name, seed=3), 25) == drive(make(name, seed=3), 25)
    if make(name).seeded:
        assert drive(make(name, seed=3), 25) != drive(make(name, seed=4), 25)


@long_names
def test_resume_from_state_dict_is_identical(name: str) -> None:
    uninterrupted = make(name, seed=5)
    first = drive(uninterrupted, 15)
    rest = drive(uninterrupted, 15, start=15)

    before = make(name, seed=5)
    assert drive(before, 15) == first
    state = json.loads(json.dumps(before.state_dict()))  # storage keeps it as JSON
    resumed = make(name, seed=999)
    resumed.load_state_dict(state)
    assert drive(resumed, 15, start=15) == rest


@long_names
def test_finds_the_optimum_of_a_small_space(name: str) -> None:
    # 200 archs; the optimum (score 0) must be found within 300 evaluations on 9 of 10 seeds: a sanity
    # check that nothing is stuck (multi-fidelity strategies spend part of the budget on promotions)
    found = 0
    for seed in range(10):
        strategy = make(name, seed)
        n = 300 if strategy.seeded else SPACE.size()  # an unshuffled grid promises the optimum by the end
        found += any(toy_score(arch) == 0 for arch in _archs(strategy, n))  # stops at the optimum
    assert found >= 9


def _archs(strategy: BaseStrategy, n: int):
    for i in range(n):
        p = strategy.ask()
        assert p is not None
        strategy.tell(complete(i, p.arch))
        yield p.arch


def test_ask_before_setup_is_an_error() -> None:
    with pytest.raises(ConfigError, match="setup"):
        RegularizedEvolution().ask()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"population_size": 1}, "population_size.*>= 2, but got 1"),
        ({"sample_size": 0}, "sample_size.*>= 1"),
        ({"population_size": 4, "sample_size": 5}, "sample_size.*<= population_size"),
        ({"population_size": 2.5}, "population_size"),
    ],
)
def test_evolution_validates_its_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RegularizedEvolution(**kwargs)


def test_unknown_strategy_suggests_close_names() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'evolution'"):
        STRATEGIES.create("evolutoin")


def test_evolution_ages_out_the_oldest() -> None:
    strategy = make("evolution")
    drive(strategy, 20)
    assert len(strategy.population) == 8  # type: ignore[attr-defined]


def test_evolution_beats_random_on_average() -> None:
    def mean_best(name: str) -> float:
        total = 0.0
        for seed in range(20):
            total += max(toy_score(a) for a in _archs(make(name, seed), 40))
        return total / 20

    assert mean_best("evolution") >= mean_best("random")


@long_names
def test_two_drivers_taking_turns_propose_as_one(name: str) -> None:
    """Two copies that take turns, each loading the state the other wrote before it asks or tells (what
    drivers sharing one experiment do, `nasforge.experiment.turns`), propose what one strategy proposes alone,
    with trials outstanding and told by the copy that did not ask for them."""

    def run(copies: list[BaseStrategy]) -> list[str]:
        ids: list[str] = []
        outstanding: list[tuple[int, object]] = []
        state = None
        for step in range(36):
            strategy = copies[step % len(copies)]
            if state is not None and len(copies) > 1:
                strategy.load_state_dict(json.loads(state))
            if len(outstanding) < 3 or step % 3 == 0:
                proposal = strategy.ask()
                if proposal is not None:
                    ids.append(proposal.arch.id)
                    outstanding.append((len(ids) - 1, proposal.arch))
            else:
                number, arch = outstanding.pop(step % len(outstanding))
                strategy.tell(complete(number, arch, TrialState.FAILED if number % 5 == 4 else TrialState.COMPLETE))
            state = json.dumps(strategy.state_dict())
        return ids

    alone = run([make(name, seed=7)])
    assert len(alone) >= 10
    assert run([make(name, seed=7), make(name, seed=99)]) == alone
