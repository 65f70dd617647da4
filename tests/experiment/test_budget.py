"""One wall-clock budget for search, retrain and export (`JobBudget`), and the deadline that cuts trials."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nasforge import Experiment, RandomSearch
from nasforge import config as configs
from nasforge.errors import ConfigError
from nasforge.executors import Job, LocalPoolExecutor, SequentialExecutor, SimulatedExecutor
from nasforge.executors.base import run_job
from nasforge.experiment.budget import JobBudget, typical_duration
from nasforge.storage import InMemoryStorage
from nasforge.trial import TrialState
from tests.executors.test_executors import CostEvaluator, arch
from tests.toys import SlowEvaluator, ToyEvaluator, ToySpace


def test_the_plan_leaves_the_retrain_its_share_and_the_export_its_reserve() -> None:
    budget = JobBudget(900, retrain_share=0.5, export_reserve=30)
    budget.start(now=100.0)
    assert budget.deadline() == 1000.0 and budget.search_deadline() == 520.0
    assert not budget.search_over(400.0) and budget.search_over(520.0)
    # no trial starts that would likely be cut: 60 s left, a typical trial takes 90
    assert budget.search_over(460.0, typical_trial=90.0) and not budget.search_over(460.0, typical_trial=50.0)
    # the retrain gets whatever the search left, less the reserve; a search that overran still leaves a tenth
    assert budget.retrain_time(now=400.0) == 570.0 and budget.retrain_time(now=2000.0) == 45.0
    for event, at in (("search_end", 500.0), ("retrain_start", 501.0), ("retrain_end", 960.0), ("export_end", 980.0)):
        budget.mark(event, now=at)
    assert budget.spent() == {
        "job_budget": 900.0,
        "job_search_time": 400.0,
        "job_retrain_time": 459.0,
        "job_export_time": 20.0,
        "job_time": 880.0,
    }
    assert typical_duration([]) is None and typical_duration([5.0, 1.0, 3.0]) == 3.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"total": 0}, r"`total_time` must be a number of seconds > 0, but got 0"),
        ({"total": 900, "retrain_share": 1.0}, r"`retrain_share` .* fraction in \(0, 1\) .* got 1.0"),
        ({"total": 900, "export_reserve": -1}, r"`export_reserve` .* seconds >= 0, but got -1"),
        ({"total": 50, "export_reserve": 30}, r"A job budget of 50 s leaves no time to search"),
    ],
)
def test_a_bad_budget_is_refused_with_what_must_hold(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        JobBudget(**kwargs)


def test_an_unstarted_budget_says_what_starts_it() -> None:
    with pytest.raises(ConfigError, match=r"run\(total_time=...\) starts it"):
        JobBudget(900).search_deadline()


@pytest.mark.parametrize(
    ("kind", "after"),
    [("sequential", 1.5), pytest.param("pool", 10.0, marks=pytest.mark.slow)],  # a worker starting: seconds
)
def test_a_trial_running_at_its_deadline_is_cut_and_kept_as_pruned(kind: str, after: float) -> None:
    # a pool worker first starts (imports torch): its deadline leaves time for that on a busy machine
    executor = SequentialExecutor() if kind == "sequential" else LocalPoolExecutor(n_workers=1, threads_per_worker=1)
    executor.start(SlowEvaluator(seconds=60.0), ToySpace(), lambda n, s, m: None)
    started = time.time()
    try:
        executor.submit(Job(0, arch(1), None, seed=0, deadline=time.time() + after))
        results = []
        while executor.n_running:
            results += executor.wait(timeout=30)
    finally:
        executor.shutdown()
    (result,) = results
    assert time.time() - started < after + 15.0  # not the 60 s the trial wanted
    assert result.error is None and result.info["pruned"] and result.info["cut_at_deadline"] == 1
    assert set(result.metrics or {}) == {"pid", "gpu"}  # its last report stands as its result


def test_a_deadline_after_the_trial_changes_nothing() -> None:
    result = run_job(ToyEvaluator(), ToySpace(), Job(0, arch(3), None, seed=0, deadline=time.time() + 60), print)
    assert result.error is None and not result.info.get("pruned")


def test_the_simulated_executor_cuts_at_the_deadline_on_its_own_clock() -> None:
    ex = SimulatedExecutor(n_workers=1)
    ex.start(CostEvaluator(), ToySpace(), lambda n, s, m: None)
    ex.submit(Job(0, arch(2), None, seed=0, deadline=50.0))  # costs 20: finishes
    ex.submit(Job(1, arch(4), None, seed=0, deadline=50.0))  # would run 20..60: cut at 50
    first, second = ex.wait(), ex.wait()
    assert first[0].finished_at == 20.0 and not first[0].info.get("pruned")
    assert second[0].finished_at == 50.0 and second[0].info["pruned"] and second[0].metrics == {}


def test_a_run_with_a_total_time_searches_only_its_share(tmp_path: Path) -> None:
    exp = Experiment(
        "sim",
        ToySpace(),
        RandomSearch(),
        CostEvaluator(),
        storage=InMemoryStorage(),
        executor=SimulatedExecutor(n_workers=2),
        objective="max:score",
    )
    budget = JobBudget(400, retrain_share=0.5, export_reserve=20)
    exp.run(total_time=budget)  # simulated seconds: the search has 400 - 20 - 200 = 180 of them
    trials = exp.trials
    assert trials and all((t.finished_at or 0.0) <= 180.0 for t in trials)
    cut = [t for t in trials if t.state is TrialState.PRUNED]
    assert all(t.finished_at == 180.0 for t in cut)
    assert exp.search_limit == 180.0
    assert "job_search_time" in budget.spent()


def test_total_time_alone_ends_a_run_and_is_validated(tmp_path: Path) -> None:
    exp = Experiment(
        "toy",
        ToySpace(),
        RandomSearch(),
        ToyEvaluator(sleep=0.1),
        storage=str(tmp_path / "nas.db"),
        objective="max:score",
    )
    started = time.time()
    exp.run(total_time=JobBudget(4.0, retrain_share=0.5, export_reserve=0.5))
    assert time.time() - started < 3.0  # the search's 1.5 s, and at most a typical trial past it
    assert 3 <= len(exp.trials) <= 20
    with pytest.raises(ConfigError, match=r"`total_time` must be a number of seconds > 0 or None"):
        exp.run(total_time="15 min")  # type: ignore[arg-type]


def test_the_config_and_the_cli_take_a_job_budget(tmp_path: Path) -> None:
    from argparse import Namespace

    from nasforge.cli import run as run_cmd

    base = {"space": {"name": "cnn"}, "dataset": {"name": "digits"}}
    budget = configs.job_budget(configs.validate({**base, "run": {"total_time": 600, "retrain_share": 0.4}}))
    assert budget is not None and budget.total == 600 and budget.retrain_share == 0.4
    assert configs.job_budget(configs.validate({**base, "run": {"max_trials": 5}})) is None
    with pytest.raises(ConfigError, match=r"run.retrain_share split a whole-job budget, but run.total_time is not"):
        configs.validate({**base, "run": {"max_trials": 5, "retrain_share": 0.4}})
    with pytest.raises(ConfigError, match=r"leaves no time to search"):
        configs.validate({**base, "run": {"total_time": 20}})
    parser = run_cmd.argparse.ArgumentParser()
    run_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["run", "digits", "--total-time", "300"])
    assert isinstance(args, Namespace)
    cfg = run_cmd.resolve_config(args)
    assert cfg["run"]["total_time"] == 300.0 and configs.job_budget(cfg) is not None
