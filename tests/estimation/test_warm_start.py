"""Warm start: a new experiment seeded from a finished one (tell its results, or enqueue its best archs)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasforge import Experiment, RegularizedEvolution
from nasforge.config import validate
from nasforge.errors import ConfigError
from nasforge.estimation.warm_start import WarmStart, make_warm_start, project
from nasforge.space import ModelSpace, choice
from nasforge.storage import SQLStorage, get_storage
from nasforge.strategies import BayesianOptimization, Deduplicate, LocalSearch, RandomSearch
from nasforge.strategies.base import BaseStrategy
from nasforge.trial import TrialRecord
from tests.toys import ToyEvaluator, ToySpace, toy_score


class WideToy(ModelSpace):
    """ToySpace's x and y over other domains, and a decision ToySpace lacks: a related space."""

    def __init__(self) -> None:
        super().__init__()
        self.x = choice("x", [0, 1, 2, 3, 4, 5, 6])
        self.y = choice("y", [0, 1])
        self.z = choice("z", [8, 16])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.relu(x)


def source(db: Path, name: str = "src", n: int = 30, objective: str = "max:score") -> Experiment:
    return Experiment(
        name,
        ToySpace(),
        RandomSearch(),
        ToyEvaluator(),
        storage=str(db),
        objective=objective,
        seed=3,
    ).run(max_trials=n)


def target(db: Path, strategy: BaseStrategy, warm: object, name: str = "dst", **kw: object) -> Experiment:
    return Experiment(
        name,
        kw.pop("space", ToySpace()),  # type: ignore[arg-type]
        strategy,
        ToyEvaluator(),
        storage=str(db),
        objective=kw.pop("objective", "max:score"),  # type: ignore[arg-type]
        warm_start=warm,  # type: ignore[arg-type]
        seed=1,
    )


def ranked_archs(exp: Experiment) -> list[str]:
    done = [t for t in exp.trials if t.metrics.get("score") is not None]
    return [t.arch.id for t in sorted(done, key=lambda t: -t.metrics["score"])]


# --- the spec ---------------------------------------------------------------------------------------------------
def test_spec_forms_and_clear_errors() -> None:
    assert make_warm_start(None) is None
    assert make_warm_start("old") == WarmStart("old")
    assert make_warm_start({"experiment": "old", "top_k": 3}) == WarmStart("old", top_k=3)
    with pytest.raises(ConfigError, match=r"Unknown option .*'topk'"):
        make_warm_start({"experiment": "old", "topk": 3})
    with pytest.raises(ConfigError, match="needs `experiment`"):
        make_warm_start({"mode": "tell"})
    with pytest.raises(ConfigError, match="`mode` of a warm start must be one of auto, tell, enqueue"):
        make_warm_start({"experiment": "old", "mode": "copy"})
    with pytest.raises(ConfigError, match=r"`top_k` .* int >= 1, but got 0"):
        make_warm_start({"experiment": "old", "top_k": 0})
    with pytest.raises(ConfigError, match="name of an earlier experiment"):
        make_warm_start(42)  # type: ignore[arg-type]


def test_config_section_is_checked() -> None:
    base = {"space": {"name": "cnn"}, "dataset": {"name": "digits"}}
    validate({**base, "estimation": {"warm_start": {"experiment": "old", "mode": "enqueue"}}})
    with pytest.raises(ConfigError, match="mode"):
        validate({**base, "estimation": {"warm_start": {"experiment": "old", "mode": "never"}}})
    with pytest.raises(ConfigError, match="warm_start"):
        validate({**base, "estimation": {"warm_start": 3}})


def test_project_keeps_allowed_values_and_samples_the_rest() -> None:
    space = WideToy()
    rng = np.random.default_rng(0)
    arch = project(space, {"x": 3, "y": 4, "op": "b", "extra": "none"}, rng)
    assert arch["x"] == 3 and arch["y"] in (0, 1) and arch["z"] in (8, 16) and set(arch) == {"x", "y", "z"}
    same = ToySpace().random(rng)
    assert project(ToySpace(), same, rng) == same


# --- tell: same task --------------------------------------------------------------------------------------------
def test_tell_evolution_starts_from_the_best_earlier_results(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    src = source(db)
    strategy = RegularizedEvolution(population_size=5, sample_size=2)
    exp = target(db, strategy, "src").run(max_trials=6)
    assert exp.warm_started == {
        "source": "src",
        "mode": "tell",
        "trials": len(set(t.arch.id for t in src.trials)),
        "projected": 0,
        "skipped": 0,
        "enqueued": 0,
    }
    trials = exp.trials
    assert all(t.info["origin"] == "mutation" for t in trials)  # no random initial population to draw
    top5 = set(ranked_archs(src)[:5])
    assert trials[0].info["parent"] in top5
    assert not {t.arch.id for t in trials} & {t.arch.id for t in src.trials}  # nothing evaluated twice


def test_tell_happens_once_across_resumes(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    source(db)
    calls: list[int] = []

    class Spy(RegularizedEvolution):
        def _warm_start(self, records: list[TrialRecord]) -> None:
            calls.append(len(records))
            super()._warm_start(records)

    target(db, Spy(population_size=5, sample_size=2), "src").run(max_trials=3)
    exp = target(db, Spy(population_size=5, sample_size=2), "src").run(max_trials=6)
    assert len(calls) == 1 and len(exp.trials) == 6
    assert all(t.info["origin"] == "mutation" for t in exp.trials)  # the resumed state kept the population


def test_tell_local_search_climbs_from_the_earlier_best(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    src = source(db)
    exp = target(db, LocalSearch(n_initial=5), "src").run(max_trials=3)
    best = ranked_archs(src)[0]
    assert all(t.info["origin"] == "neighbour" and t.info["parent"] == best for t in exp.trials)


def test_tell_bayesian_optimization_models_from_the_first_ask(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    source(db)
    exp = target(db, Deduplicate(BayesianOptimization(n_initial=10)), "src").run(max_trials=2)
    assert all(t.info["origin"] == "acquisition" for t in exp.trials)


# --- enqueue: related task or a strategy that cannot take results ---------------------------------------------------
def test_enqueue_evaluates_the_earlier_best_archs_first_and_resumes_the_queue(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    src = source(db)
    warm = {"experiment": "src", "top_k": 4}
    first = target(db, RandomSearch(), warm).run(max_trials=2)  # random search cannot take results
    assert first.warm_started is not None and first.warm_started["mode"] == "enqueue"
    assert first.warm_started["enqueued"] == 4
    exp = target(db, RandomSearch(), warm).run(max_trials=6)
    assert exp.warm_started is not None and exp.warm_started["enqueued"] == 2  # two were evaluated before
    assert [t.arch.id for t in exp.trials[:4]] == ranked_archs(src)[:4]
    assert exp.trials[0].metrics["score"] == max(t.metrics["score"] for t in src.trials)


def test_drivers_sharing_an_experiment_serve_the_enqueued_archs_once(tmp_path: Path) -> None:
    """Each cooperating driver holds the queue (it is no part of the strategy's stored state); a queued arch
    another driver proposed meanwhile is passed over, so the earlier best are evaluated once, not once each."""
    db = tmp_path / "nas.db"
    src = source(db)
    warm = {"experiment": "src", "top_k": 6}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def drive() -> None:
        exp = Experiment(
            "dst",
            ToySpace(),
            RandomSearch(dedup=False),  # its own memory of what was proposed would hide a double serving
            ToyEvaluator(sleep=0.05),  # long enough that both drivers propose while the queue lasts
            storage=SQLStorage(str(db)),  # a storage of its own, as a driver in another process has
            objective="max:score",
            warm_start=warm,
            seed=1,
        )
        try:
            barrier.wait(timeout=30)  # both load the queue before either proposes
            exp.run(max_trials=10)
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=drive) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    trials = target(db, RandomSearch(), warm).trials
    ids = [t.arch.id for t in trials]
    queued = ranked_archs(src)[:6]
    # the queue is served first, in order and once (random draws after it may meet a queued arch again: the toy
    # space is small); with every driver serving its own copy, the first trials were each queued arch twice
    assert ids[:6] == queued, ids


def test_auto_enqueues_for_another_objective_and_tell_is_refused_there(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    src = source(db, objective="max:score")
    evolution = RegularizedEvolution(population_size=5, sample_size=2)
    exp = target(db, evolution, {"experiment": "src", "top_k": 3}, objective="min:score").run(max_trials=3)
    assert exp.warm_started is not None and exp.warm_started["mode"] == "enqueue"
    assert {t.info["origin"] for t in exp.trials} == {"random"}  # the initial population, from the queue
    assert [t.arch.id for t in exp.trials] == ranked_archs(src)[:3]  # best by the source's own objective
    with pytest.raises(ConfigError, match=r"measured 'score', but this one optimises 'acc'.*'enqueue'"):
        target(db, evolution, {"experiment": "src", "mode": "tell"}, name="d2", objective="max:acc").run(max_trials=1)
    with pytest.raises(ConfigError, match=r"cannot learn from trials it did not propose.*'enqueue'"):
        RandomSearch().warm_start([])


def test_related_space_gets_projected_archs(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    src = source(db)
    exp = target(db, RandomSearch(), {"experiment": "src", "top_k": 3}, space=WideToy()).run(max_trials=3)
    assert exp.warm_started is not None and exp.warm_started["mode"] == "enqueue"
    assert exp.warm_started["projected"] == len(src.trials)  # every arch changed shape
    xs = [t.arch["x"] for t in exp.trials]
    best_x = [t.arch["x"] for t in sorted(src.trials, key=lambda t: -toy_score(t.arch))]
    assert xs[0] == best_x[0]


def test_source_in_another_storage(tmp_path: Path) -> None:
    source(tmp_path / "old.db")
    warm = {"experiment": "src", "storage": str(tmp_path / "old.db")}
    exp = target(tmp_path / "new.db", RegularizedEvolution(population_size=5, sample_size=2), warm)
    exp.run(max_trials=2)
    assert exp.warm_started is not None and exp.warm_started["mode"] == "tell"


# --- bad input: a clear error and nothing written ------------------------------------------------------------------
def test_missing_or_unusable_source_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    source(db)
    with pytest.raises(ConfigError, match=r"no experiment 'scr'.* Did you mean 'src'"):
        target(db, RandomSearch(), "scr").run(max_trials=2)
    with pytest.raises(ConfigError, match="cannot warm-start from itself"):
        target(db, RandomSearch(), "dst").run(max_trials=2)
    Experiment(
        "failed",
        ToySpace(),
        RandomSearch(),
        ToyEvaluator(fail_x=(0, 1, 2, 3, 4)),
        storage=str(db),
        objective="max:score",
    ).run(max_trials=3)
    with pytest.raises(ConfigError, match=r"'failed' .* has no completed trial with a finite 'score'"):
        target(db, RandomSearch(), "failed").run(max_trials=2)
    assert sorted(r.name for r in get_storage(str(db)).list_experiments()) == ["failed", "src"]


def test_a_resume_survives_a_deleted_source(tmp_path: Path) -> None:
    db = tmp_path / "nas.db"
    source(db)
    target(db, RandomSearch(), {"experiment": "src", "top_k": 2}).run(max_trials=1)
    get_storage(str(db)).delete_experiment("src")
    with pytest.warns(UserWarning, match="resumes without its warm start"):
        exp = target(db, RandomSearch(), {"experiment": "src", "top_k": 2}).run(max_trials=3)
    assert len(exp.trials) == 3 and exp.warm_started is None


def test_auto_tells_only_for_the_same_evaluation_task(tmp_path: Path) -> None:
    from nasforge.data import Digits
    from nasforge.evaluators import ClassificationEvaluator
    from nasforge.evaluators.tabular import NB201Evaluator
    from nasforge.strategies import RegularizedEvolution as RE
    from nasforge.zoo.nb201 import NB201Space

    assert NB201Evaluator("cifar10").task() != NB201Evaluator("cifar100").task()
    a, b = ClassificationEvaluator(Digits(), epochs=2), ClassificationEvaluator(Digits(), epochs=3)
    assert a.task() != b.task() and a.task() == ClassificationEvaluator(Digits(), epochs=2).task()
    db = str(tmp_path / "nas.db")
    for name, data in (("c10", "cifar10"), ("c10-again", "cifar10"), ("c100", "cifar100")):
        warm = None if name == "c10" else "c10"
        strategy = RE(population_size=5, sample_size=2)
        exp = Experiment(name, NB201Space(), strategy, NB201Evaluator(data), storage=db, warm_start=warm)
        exp.run(max_trials=5 if warm is None else 2)
        if warm is not None:
            assert exp.warm_started is not None
            assert exp.warm_started["mode"] == ("tell" if data == "cifar10" else "enqueue")
