"""The NAS-Bench-201 tabular evaluator: exact look-ups, fidelities, costs and noise."""

from __future__ import annotations

import pytest

from nasforge.errors import ConfigError
from nasforge.evaluators import EvalContext, TrialError
from nasforge.evaluators.tabular import NB201Evaluator
from nasforge.tables import NB201Table
from nasforge.zoo.nb201 import NB201Space, str_to_arch

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
SPACE = NB201Space()


def lookup(evaluator: NB201Evaluator, arch_str: str, budget: float | None = None, seed: int = 0) -> dict:
    return evaluator.evaluate(EvalContext(SPACE, SPACE.validate(str_to_arch(arch_str)), budget, seed=seed))


def test_cifar10_lookup_matches_the_table() -> None:
    table = NB201Table.load()
    i = table.index(BEST_C10)
    m = lookup(NB201Evaluator("cifar10"), BEST_C10)
    assert m["arch_index"] == i
    assert m["val_acc"] == table.column("c10valid_valid_acc_12")[i]
    assert m["test_acc"] == pytest.approx(94.37, abs=0.01)
    assert m["cost"] == pytest.approx(table.column("c10valid_train_time_200")[i] * 12 / 200)
    assert m["fidelity"] == 12


def test_budget_selects_the_200_epoch_fidelity_at_its_cost() -> None:
    ev = NB201Evaluator("cifar100")
    low, high = lookup(ev, BEST_C10), lookup(ev, BEST_C10, budget=200)
    table = NB201Table.load()
    i = table.index(BEST_C10)
    assert high["val_acc"] == table.column("c100_valid_acc_200")[i]
    assert high["cost"] == pytest.approx(low["cost"] * 200 / 12)
    with pytest.raises(TrialError, match="fidelities 12 and 200"):
        lookup(ev, BEST_C10, budget=50)


def test_noisy_returns_single_seed_results() -> None:
    ev = NB201Evaluator("cifar10", fidelity=200, noisy=True)
    seen = {lookup(ev, BEST_C10, seed=s)["val_acc"] for s in range(20)}
    mean = NB201Table.load().column("c10valid_valid_acc_200")[NB201Table.load().index(BEST_C10)]
    assert len(seen) >= 2 and min(seen) <= mean <= max(seen)
    assert lookup(ev, BEST_C10, seed=3) == lookup(ev, BEST_C10, seed=3)


def test_arguments_are_validated() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'cifar10'"):
        NB201Evaluator("cifar1O")
    with pytest.raises(ConfigError, match="12 or 200"):
        NB201Evaluator(fidelity=100)


def test_pickles_without_the_table() -> None:
    import pickle

    ev = NB201Evaluator()
    ev.prepare()
    assert len(pickle.dumps(ev)) < 2000
