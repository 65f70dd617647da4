from __future__ import annotations

from pathlib import Path

import pytest

from nasforge import Experiment, LocalPoolExecutor, RandomSearch, RegularizedEvolution, SQLStorage
from nasforge.errors import ConfigError, StorageError
from nasforge.experiment import Callback
from nasforge.trial import TrialRecord, TrialState
from tests.toys import CellSpace, ToyEvaluator, ToySpace, toy_score


def make(tmp_path: Path, name: str = "toy", evaluator=None, strategy=None, **kwargs) -> Experiment:
    return Experiment(
        name,
        ToySpace(),
        strategy or RegularizedEvolution(population_size=6, sample_size=3),
        evaluator or ToyEvaluator(),
        storage=str(tmp_path / "nas.db"),
        objective="max:score",
        **kwargs,
    )


def test_run_stores_every_trial_and_finds_a_good_arch(tmp_path: Path) -> None:
    exp = make(tmp_path).run(max_trials=60)
    trials = exp.trials
    assert [t.number for t in trials] == list(range(60))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    best = exp.best_trial
    assert best is not None and best.metrics["score"] == max(t.metrics["score"] for t in trials)
    assert best.metrics["score"] >= -1
    assert exp.reports(0) == [(1, {"score": toy_score(trials[0].arch)})]


def test_max_trials_counts_across_runs_and_resume_continues(tmp_path: Path) -> None:
    make(tmp_path).run(max_trials=10)
    again = make(tmp_path).run(max_trials=25)
    numbers = [t.number for t in again.trials]
    assert numbers == list(range(25))
    # the resumed strategy continued from its stored state: same result as one uninterrupted run
    straight = Experiment(
        "straight",
        ToySpace(),
        RegularizedEvolution(population_size=6, sample_size=3),
        ToyEvaluator(),
        storage=str(tmp_path / "other.db"),
        objective="max:score",
    ).run(max_trials=25)
    assert [t.arch for t in again.trials] == [t.arch for t in straight.trials]


def test_crash_between_result_and_tell_is_repaired(tmp_path: Path) -> None:
    exp = make(tmp_path).run(max_trials=8)
    storage = SQLStorage(str(tmp_path / "nas.db"))
    row = storage.get_experiment("toy")
    assert row is not None
    # simulate a kill: trial 8 was asked and is running, trial 9 finished but was never told
    arch_running = ToySpace().random(1)
    arch_untold = ToySpace().random(2)
    storage.add_trial(row.id, TrialRecord(8, arch_running, state=TrialState.RUNNING), row.strategy_state or {})
    storage.add_trial(
        row.id,
        TrialRecord(9, arch_untold, state=TrialState.COMPLETE, metrics={"score": toy_score(arch_untold)}),
        row.strategy_state or {},
    )
    exp = make(tmp_path).run(max_trials=12)
    trials = exp.trials
    assert [t.number for t in trials] == list(range(12))
    assert trials[8].arch == arch_running and trials[8].state is TrialState.COMPLETE  # rerun, same number
    assert storage.untold_numbers(row.id) == []


def test_failing_trials_are_recorded_and_the_search_goes_on(tmp_path: Path) -> None:
    exp = make(tmp_path, evaluator=ToyEvaluator(fail_x=(0,), nan_x=(4,)), strategy=RandomSearch()).run(max_trials=40)
    by_x = {}
    for t in exp.trials:
        by_x.setdefault(t.arch["x"], []).append(t)
    assert all(t.state is TrialState.FAILED and "boom" in (t.error or "") for t in by_x[0])
    assert all(t.state is TrialState.FAILED and "NaN" in (t.error or "") for t in by_x[4])
    assert all(t.state is TrialState.COMPLETE for x in (1, 2, 3) for t in by_x.get(x, []))
    assert len(exp.trials) == 40


def test_missing_objective_metric_fails_the_trial_with_advice(tmp_path: Path) -> None:
    exp = Experiment(
        "m", ToySpace(), RandomSearch(), ToyEvaluator(), storage=str(tmp_path / "m.db"), objective="val_acc"
    ).run(max_trials=2)
    assert all("objectives need 'val_acc'" in (t.error or "") for t in exp.trials)
    assert exp.best_trial is None


def test_a_different_space_under_the_same_name_is_refused(tmp_path: Path) -> None:
    make(tmp_path).run(max_trials=2)
    other = Experiment(
        "toy",
        CellSpace(),
        RandomSearch(),
        ToyEvaluator(),
        storage=str(tmp_path / "nas.db"),
        objective="max:score",
    )
    with pytest.raises(StorageError, match="different search space"):
        other.run(max_trials=3)


def test_pool_executor_runs_the_same_experiment(tmp_path: Path) -> None:
    exp = make(tmp_path, executor=LocalPoolExecutor(n_workers=2, threads_per_worker=1)).run(max_trials=12)
    assert len(exp.trials) == 12 and all(t.state is TrialState.COMPLETE for t in exp.trials)
    assert len({t.metrics["pid"] for t in exp.trials}) == 2


def test_timeout_stops_proposing(tmp_path: Path) -> None:
    exp = make(tmp_path, evaluator=ToyEvaluator(sleep=0.2)).run(timeout=1.0)
    assert 2 <= len(exp.trials) <= 8


def test_callbacks_see_every_trial(tmp_path: Path) -> None:
    seen: list[int] = []

    class Spy(Callback):
        def on_trial_end(self, experiment: Experiment, record: TrialRecord) -> None:
            seen.append(record.number)

    make(tmp_path).run(max_trials=5, callbacks=[Spy()])
    assert seen == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_trials": 0}, "max_trials"), ({"timeout": -1}, "timeout"), ({"max_trials": 2.5}, "max_trials")],
)
def test_run_arguments_are_validated(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make(tmp_path).run(**kwargs)
    assert not (tmp_path / "nas.db").exists()


def test_constructor_validates(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="name"):
        make(tmp_path, name="")
    with pytest.raises(ConfigError, match="strategy"):
        Experiment("x", ToySpace(), "evolution", ToyEvaluator())  # type: ignore[arg-type]


def test_export_without_results_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no completed trial"):
        make(tmp_path).export(str(tmp_path / "out"))


def test_simulated_executor_times_the_run_on_its_own_clock(tmp_path: Path) -> None:
    from nasforge.executors import SimulatedExecutor
    from nasforge.storage import InMemoryStorage
    from tests.executors.test_executors import CostEvaluator

    exp = Experiment(
        "sim",
        ToySpace(),
        RandomSearch(),
        CostEvaluator(),
        storage=InMemoryStorage(),
        executor=SimulatedExecutor(n_workers=3),
        objective="max:score",
    )
    exp.run(timeout=500.0)  # simulated seconds: returns at once
    trials = exp.trials
    starts = [t.started_at or 0.0 for t in trials]
    assert max(starts) < 500.0 <= max(t.finished_at or 0.0 for t in trials)
    assert all(t.finished_at == (t.started_at or 0.0) + 10.0 * t.arch["x"] for t in trials)
    # three workers: never more than three trials overlap
    events = sorted(
        [(t.started_at, 1) for t in trials] + [(t.finished_at, -1) for t in trials], key=lambda e: (e[0], e[1])
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak <= 3


def test_resuming_with_a_strategy_that_cannot_read_the_stored_state_says_so(tmp_path: Path) -> None:
    from nasforge.strategies import Deduplicate

    make(tmp_path).run(max_trials=4)
    wrapped = make(tmp_path, strategy=Deduplicate(RegularizedEvolution(population_size=6, sample_size=3)))
    with pytest.raises(StorageError, match="resume with the same strategy and middleware"):
        wrapped.run(max_trials=6)
    assert len(make(tmp_path).trials) == 4  # nothing lost, nothing added
