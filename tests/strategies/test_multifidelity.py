"""Successive halving, Hyperband, ASHA and BOHB: promotions, bracket sizes, the model, resume, and NAS-Bench-201.

The shared ask/tell contract is checked for them by test_conformance.py, like for every registered strategy.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nasforge import Experiment
from nasforge.bench import RunSpec, run_one
from nasforge.errors import ConfigError
from nasforge.strategies import ASHA, BOHB, STRATEGIES, BaseStrategy, Hyperband, RandomSearch, SuccessiveHalving
from nasforge.trial import Objective, Proposal, TrialRecord, TrialState
from tests.toys import ToyEvaluator, ToySpace, toy_score

OBJECTIVE = Objective("score", "maximize")
SPACE = ToySpace()
BUDGETS = (1, 3, 9)


def ready(strategy: BaseStrategy, seed: int = 0) -> BaseStrategy:
    strategy.setup(SPACE, OBJECTIVE, seed)
    return strategy


def ask(strategy: BaseStrategy) -> Proposal:
    proposal = strategy.ask()
    assert proposal is not None
    return proposal


def result(number: int, proposal: Proposal, score: float | None) -> TrialRecord:
    """The record the experiment would tell: the proposal's budget and info come back with the metrics."""
    return TrialRecord(
        number,
        proposal.arch,
        budget=proposal.budget,
        state=TrialState.FAILED if score is None else TrialState.COMPLETE,
        metrics={} if score is None else {"score": score},
        info=dict(proposal.info),
    )


def where(proposal: Proposal) -> tuple[int, int]:
    return proposal.info["bracket"], proposal.info["rung"]


# --- successive halving --------------------------------------------------------------------------------------


def test_successive_halving_keeps_the_top_third_of_each_rung() -> None:
    sh = ready(SuccessiveHalving(budgets=BUDGETS, eta=3, n_initial=9))
    scores = dict[str, float]()
    rng = np.random.default_rng(0)
    rungs: dict[int, list[Proposal]] = {0: [], 1: [], 2: []}
    for number in range(13):
        p = ask(sh)
        assert p.info["bracket"] == 0 and p.budget == BUDGETS[p.info["rung"]]
        rungs[p.info["rung"]].append(p)
        sh.tell(result(number, p, scores.setdefault(p.arch.id, float(rng.random()))))
    assert [len(rungs[r]) for r in range(3)] == [9, 3, 1]
    by_score = sorted(rungs[0], key=lambda p: -scores[p.arch.id])
    assert [p.arch for p in rungs[1]] == [p.arch for p in by_score[:3]]  # best first
    assert rungs[2][0].arch == by_score[0].arch
    assert all(p.info["origin"] == "promotion" for p in rungs[1] + rungs[2])
    assert where(ask(sh)) == (1, 0)  # the bracket is done: a new one starts


def test_successive_halving_waits_for_a_whole_rung_and_opens_a_bracket_meanwhile() -> None:
    sh = ready(SuccessiveHalving(eta=3))  # budgets (12, 200): brackets of 3 -> 1
    first = [ask(sh) for _ in range(3)]
    assert [where(p) for p in first] == [(0, 0)] * 3 and [p.budget for p in first] == [12] * 3
    assert where(ask(sh)) == (1, 0)  # bracket 0 waits for its results: the next bracket serves the worker
    sh.tell(result(0, first[2], 5.0))
    sh.tell(result(1, first[0], 9.0))
    assert where(ask(sh)) == (1, 0)  # no promotion before the rung is complete
    sh.tell(result(2, first[1], 7.0))
    promoted = ask(sh)
    assert where(promoted) == (0, 1) and promoted.budget == 200 and promoted.arch == first[0].arch


def test_failed_archs_are_never_promoted_and_an_all_failed_bracket_ends() -> None:
    sh = ready(SuccessiveHalving(budgets=BUDGETS, eta=3, n_initial=9))
    rung0 = [ask(sh) for _ in range(9)]
    for i, p in enumerate(rung0):
        sh.tell(result(i, p, None if i < 7 else float(i)))
    promoted = [ask(sh), ask(sh)]
    assert [p.arch for p in promoted] == [rung0[8].arch, rung0[7].arch]
    assert where(ask(sh)) == (1, 0)  # only two survivors to run at rung 1
    for i, p in enumerate(promoted):
        sh.tell(result(10 + i, p, None))
    assert where(ask(sh)) == (1, 0)  # bracket 0 ended without anything to promote
    assert sh.state_dict()["brackets"][0]["index"] == 1


# --- Hyperband --------------------------------------------------------------------------------------------------


def test_hyperband_bracket_sizes_follow_li_et_al() -> None:
    hb = Hyperband(budgets=BUDGETS, eta=3)
    assert [hb.bracket_sizes(s) for s in (2, 1, 0)] == [[9, 3, 1], [5, 1], [3]]
    assert [Hyperband(eta=3).bracket_sizes(s) for s in (1, 0)] == [[3, 1], [2]]
    assert Hyperband().eta == 17 and Hyperband(budgets=(1, 3, 9)).eta == 3  # the budgets ratio by default
    assert [Hyperband(budgets=(1, 2, 4, 8), eta=2).bracket_sizes(s) for s in (3, 2, 1, 0)] == [
        [8, 4, 2, 1],
        [6, 3, 1],
        [4, 2],
        [4],
    ]


def test_hyperband_loops_over_its_brackets_most_exploratory_first() -> None:
    hb = ready(Hyperband(budgets=BUDGETS, eta=3))
    seen: Counter[tuple[int, int]] = Counter()
    for number in range(2 * (13 + 6 + 3)):
        p = ask(hb)
        assert p.budget == BUDGETS[p.info["rung"]]
        seen[where(p)] += 1
        hb.tell(result(number, p, toy_score(p.arch)))
    loop = {(0, 0): 9, (0, 1): 3, (0, 2): 1, (1, 1): 5, (1, 2): 1, (2, 2): 3}
    assert seen == Counter({**loop, **{(b + 3, r): n for (b, r), n in loop.items()}})


# --- ASHA -------------------------------------------------------------------------------------------------------


def test_asha_promotes_an_arch_in_the_top_third_once() -> None:
    asha = ready(ASHA(budgets=BUDGETS, eta=3))
    first = [ask(asha) for _ in range(3)]
    assert [p.info["rung"] for p in first] == [0, 0, 0]
    asha.tell(result(0, first[0], 1.0))
    asha.tell(result(1, first[1], 5.0))
    assert ask(asha).info["rung"] == 0  # two results: the top third is empty
    asha.tell(result(2, first[2], 3.0))
    promoted = ask(asha)
    assert promoted.info == {"rung": 1, "bracket": 0, "origin": "promotion"}
    assert promoted.arch == first[1].arch and promoted.budget == 3
    assert ask(asha).info["rung"] == 0  # already promoted: not again


def test_asha_promotes_from_the_highest_rung_first_and_never_a_failure() -> None:
    asha = ready(ASHA(budgets=BUDGETS, eta=3))
    new = [ask(asha) for _ in range(12)]
    assert all(p.info["rung"] == 0 for p in new)  # nothing finished: every ask starts a new arch
    for i, p in enumerate(new[:9]):
        asha.tell(result(i, p, None if i == 8 else float(i)))
    to_rung1 = [ask(asha) for _ in range(3)]  # the top 3 of 9; the failure (index 8) is never one of them
    assert [p.arch for p in to_rung1] == [new[7].arch, new[6].arch, new[5].arch]
    for i, p in enumerate(to_rung1):
        asha.tell(result(20 + i, p, float(i)))
    for i, p in enumerate(new[9:]):
        asha.tell(result(30 + i, p, 100.0 + i))  # rung 0 now has 12 results: new[11] enters its top 4
    assert (ask(asha).info["rung"], ask(asha).info["rung"]) == (2, 1)
    assert asha.rungs[1][0][0] == new[7].arch  # type: ignore[attr-defined]


def test_asha_never_returns_none() -> None:
    asha = ready(ASHA(eta=3))
    outstanding = [ask(asha) for _ in range(50)]
    assert len({p.arch.id for p in outstanding}) == 50
    for i, p in enumerate(reversed(outstanding)):
        asha.tell(result(i, p, None if i % 2 else toy_score(p.arch)))
    assert all(ask(asha) is not None for _ in range(50))


# --- BOHB -------------------------------------------------------------------------------------------------------


def test_bohb_samples_from_its_model_once_a_budget_has_min_points() -> None:
    bohb = ready(BOHB(budgets=(1,), min_points=6, random_fraction=0.0))  # one budget: every ask is new
    origins = []
    for number in range(20):
        p = ask(bohb)
        origins.append(p.info["origin"])
        bohb.tell(result(number, p, toy_score(p.arch)))
    assert origins == ["random"] * 6 + ["model"] * 14
    default = ready(BOHB())
    assert default._min_points == len(SPACE.decisions) + 1  # type: ignore[attr-defined]


def test_bohb_fits_on_the_largest_budget_with_enough_results() -> None:
    bohb = ready(BOHB(budgets=BUDGETS, min_points=3))
    assert bohb.model_rung() is None  # type: ignore[attr-defined]
    for number in range(13):  # the first bracket: 9 at budget 1, 3 at budget 3, 1 at budget 9
        p = ask(bohb)
        bohb.tell(result(number, p, toy_score(p.arch)))
    assert bohb.model_rung() == 1  # type: ignore[attr-defined]


def test_bohb_proposes_better_archs_than_random_search() -> None:
    def new_scores(make: type[BaseStrategy]) -> dict[str, list[float]]:
        scores: dict[str, list[float]] = {"all": [], "model": []}
        for seed in range(8):
            strategy = ready(make(), seed)
            for number in range(60):
                p = ask(strategy)
                origin = p.info.get("origin")
                if number >= 20 and origin != "promotion":
                    scores["all"].append(toy_score(p.arch))
                    if origin == "model":
                        scores["model"].append(toy_score(p.arch))
                strategy.tell(result(number, p, toy_score(p.arch)))
        return scores

    bohb, random = new_scores(BOHB), new_scores(RandomSearch)
    assert np.mean(bohb["all"]) > np.mean(random["all"])  # a third of BOHB's new archs are random, too
    assert np.mean(bohb["model"]) > np.mean(random["all"]) + 1.0


# --- the contract, beyond the conformance suite --------------------------------------------------------------

ALL = [SuccessiveHalving, Hyperband, ASHA, BOHB]


@pytest.mark.parametrize("cls", ALL)
def test_resume_with_outstanding_asks_and_out_of_order_tells_is_identical(cls: type[BaseStrategy]) -> None:
    def run(resume_at: int | None) -> list[tuple[str, float | None, dict]]:
        strategy = ready(cls(budgets=BUDGETS), seed=1)  # type: ignore[call-arg]
        outstanding: list[Proposal] = []
        log = []
        for step in range(70):
            if step == resume_at:
                state = json.loads(json.dumps(strategy.state_dict()))
                strategy = ready(cls(budgets=BUDGETS), seed=999)  # type: ignore[call-arg]
                strategy.load_state_dict(state)
            p = ask(strategy)
            log.append((p.arch.id, p.budget, dict(p.info)))
            outstanding.append(p)
            if len(outstanding) >= 4:  # four workers; results come back in a scrambled order
                done = outstanding.pop((step * 7) % len(outstanding))
                strategy.tell(result(step, done, None if step % 5 == 0 else toy_score(done.arch)))
        return log

    straight = run(None)
    assert straight == run(23) == run(41)
    assert {b for _, b, _ in straight} == set(BUDGETS)


@pytest.mark.parametrize("cls", ALL)
def test_records_without_info_are_matched_by_arch_and_budget(cls: type[BaseStrategy]) -> None:
    strategy = ready(cls())
    for number in range(30):
        p = ask(strategy)
        strategy.tell(TrialRecord(number, p.arch, budget=p.budget, state=TrialState.COMPLETE, metrics={"score": 1.0}))
    assert strategy.state_dict()["pending"] == []
    stranger = TrialRecord(99, SPACE.random(5), budget=12, state=TrialState.COMPLETE, metrics={"score": 0.0})
    strategy.tell(stranger)  # not proposed by this strategy: ignored


@pytest.mark.parametrize("name", ["asha", "bohb"])
def test_an_experiment_resumed_from_storage_continues_identically(tmp_path: Path, name: str) -> None:
    def experiment(exp_name: str) -> Experiment:
        strategy = STRATEGIES.create(name, budgets=BUDGETS)
        return Experiment(
            exp_name, ToySpace(), strategy, ToyEvaluator(), storage=str(tmp_path / "nas.db"), objective="max:score"
        )

    experiment("resumed").run(max_trials=11)
    resumed = experiment("resumed").run(max_trials=30)
    straight = experiment("straight").run(max_trials=30)
    assert [(t.arch, t.budget, t.info) for t in resumed.trials] == [(t.arch, t.budget, t.info) for t in straight.trials]
    assert {t.budget for t in straight.trials} >= {1, 3}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: ASHA(budgets=(200, 12)),
            r"`budgets` of ASHA must be an increasing sequence of positive numbers, but got \(200, 12\)",
        ),
        (lambda: Hyperband(budgets=()), r"`budgets` of Hyperband must be an increasing .* but got \(\)"),
        (lambda: SuccessiveHalving(budgets=(0, 12)), r"positive numbers, but got \(0, 12\)"),
        (lambda: BOHB(budgets="12"), r"`budgets` of BOHB .* but got '12'"),
        (lambda: ASHA(budgets=(True, 2)), r"but got \(True, 2\)"),
        (lambda: ASHA(budgets=(12, float("inf"))), r"but got \(12, inf\)"),
        (lambda: ASHA(eta=1), r"`eta` of ASHA must be an int >= 2, but got 1"),
        (lambda: Hyperband(eta=2.5), r"`eta` of Hyperband must be an int >= 2, but got 2.5"),
        (lambda: SuccessiveHalving(budgets=BUDGETS, n_initial=8), r"`n_initial` .* >= .* = 9, .* but got 8"),
        (lambda: BOHB(min_points=1), r"`min_points` of BOHB must be an int >= 2, but got 1"),
        (lambda: BOHB(top_fraction=1.0), r"`top_fraction` of BOHB must be a number in \(0, 1\), but got 1.0"),
        (lambda: BOHB(random_fraction=-0.1), r"`random_fraction` of BOHB must be a number in \[0, 1\], but got -0.1"),
        (lambda: BOHB(n_samples=0), r"`n_samples` of BOHB must be an int >= 1, but got 0"),
        (lambda: BOHB(bandwidth_factor=0), r"`bandwidth_factor` of BOHB must be a number > 0, but got 0"),
    ],
)
def test_arguments_are_validated(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()


def test_registered_under_their_names() -> None:
    for name, cls in [
        ("successive_halving", SuccessiveHalving),
        ("hyperband", Hyperband),
        ("asha", ASHA),
        ("bohb", BOHB),
    ]:
        assert isinstance(STRATEGIES.create(name), cls)
    assert repr(STRATEGIES.create("asha", budgets=[12, 200], eta=4)) == "ASHA(budgets=(12, 200), eta=4)"


# --- NAS-Bench-201 through the harness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "floor"), [("asha", 93.0), ("successive_halving", 93.0), ("hyperband", 93.0), ("bohb", 93.0)]
)
def test_nb201_cifar10_through_the_harness(name: str, floor: float) -> None:
    # One 200-epoch evaluation costs as much as ~17 at 12 epochs; the default eta (the budgets' ratio, 17)
    # promotes accordingly few. With eta 3, about 6 promotions would eat most of the 12,000 s budget.
    results = [run_one(RunSpec(name, "cifar10", seed, {"budgets": (12, 200)})) for seed in range(10)]
    assert np.mean([r.final_test for r in results]) > floor
    assert all(r.n_trials >= 5 for r in results)


def test_nb201_asynchronous_workers_keep_busy() -> None:
    one = run_one(RunSpec("successive_halving", "cifar10", 0))
    four = run_one(RunSpec("successive_halving", "cifar10", 0, n_workers=4))
    assert four.n_trials > 2 * one.n_trials  # brackets run side by side: no worker waits for a rung
