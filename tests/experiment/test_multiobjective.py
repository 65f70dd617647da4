"""Experiments with several objectives and hard constraints, on the NAS-Bench-201 table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from nasforge.errors import ConfigError, StorageError
from nasforge.evaluators.base import EvalContext
from nasforge.evaluators.tabular import NB201Evaluator
from nasforge.experiment import Experiment
from nasforge.experiment.gate import ConstraintsUnmet
from nasforge.multiobjective import hypervolume, pareto_mask
from nasforge.storage import InMemoryStorage
from nasforge.strategies import RandomSearch, RegularizedEvolution
from nasforge.tables import NB201Table
from nasforge.trial import TrialState
from nasforge.zoo.nb201 import NB201Space

TWO = ["max:val_acc", "min:params"]


class CountingEvaluator(NB201Evaluator):
    """Remembers which archs it evaluated: a constraint checked before training must keep archs out."""

    def __init__(self) -> None:
        super().__init__("cifar10")
        self.seen: list[float] = []

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        out = super()._evaluate(ctx)
        self.seen.append(out["params"])
        return out


class NoParamsEvaluator(NB201Evaluator):
    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        return {k: v for k, v in super()._evaluate(ctx).items() if k != "params"}

    static_metric_names = frozenset()

    def static_metrics(self, space: Any, arch: Any, names: Any) -> dict[str, float]:
        return {}


def experiment(table: NB201Table, **kwargs: Any) -> Experiment:
    kwargs.setdefault("storage", InMemoryStorage())
    kwargs.setdefault("objective", TWO)
    return Experiment(
        "mo", NB201Space(), kwargs.pop("strategy", RandomSearch()), kwargs.pop("evaluator", NB201Evaluator()), **kwargs
    )


def test_front_is_the_non_dominated_completed_trials(table: NB201Table) -> None:
    exp = experiment(table).run(max_trials=80)
    done = [t for t in exp.trials if t.state is TrialState.COMPLETE]
    scores = np.array([[t.metrics["val_acc"], -t.metrics["params"]] for t in done])
    expected = {t.number for t, on in zip(done, pareto_mask(scores), strict=True) if on}
    front = exp.pareto_front()
    assert {t.number for t in front} == expected
    assert [t.metrics["val_acc"] for t in front] == sorted((t.metrics["val_acc"] for t in front), reverse=True)
    volume = exp.hypervolume({"val_acc": 0.0, "params": 2.0})
    assert volume == pytest.approx(hypervolume(scores, [0.0, -2.0]))
    assert exp.hypervolume([0.0, 2.0]) == pytest.approx(volume)
    best = exp.pick("best")
    assert best is not None and best.number == exp.best_trial.number  # type: ignore[union-attr]
    knee = exp.pick("knee")
    assert knee is not None and knee.number in expected


def test_constraint_checked_before_training_keeps_archs_out(table: NB201Table) -> None:
    evaluator = CountingEvaluator()
    exp = experiment(table, evaluator=evaluator, constraints=["params <= 0.4"]).run(max_trials=30)
    assert exp.rejected > 0  # random NB201 cells above 0.4 M parameters are common
    assert evaluator.seen and max(evaluator.seen) <= 0.4  # never trained, never stored
    assert all(t.metrics["params"] <= 0.4 for t in exp.trials)
    assert len(exp.trials) == 30
    assert exp.best_trial is not None and exp.best_trial.metrics["params"] <= 0.4


def test_a_constraint_nothing_meets_ends_the_run_with_a_reason(table: NB201Table) -> None:
    storage = InMemoryStorage()
    exp = experiment(table, storage=storage, constraints=["params <= 0.001"])
    with pytest.raises(
        ConstraintsUnmet, match=r"1000 proposals in a row broke the constraints .*params <= 0.001: closest 0\.0"
    ):
        exp.run(max_trials=5)
    assert exp.trials == [] and storage.get_experiment("mo").status == "paused"  # type: ignore[union-attr]


def test_constraint_on_a_trained_metric_filters_results(table: NB201Table) -> None:
    exp = experiment(table, constraints=["val_acc >= 85"]).run(max_trials=40)
    assert exp.rejected == 0  # val_acc needs training: nothing can be refused up front
    assert all(t.metrics["val_acc"] >= 85 for t in exp.pareto_front())
    best = exp.best_trial
    assert best is None or best.metrics["val_acc"] >= 85
    assert exp.pick("knee", constraints=["params <= 0.0001"]) is None


def test_extra_pick_constraints(table: NB201Table) -> None:
    exp = experiment(table).run(max_trials=60)
    picked = exp.pick("best", constraints=["params <= 0.5"])
    assert picked is not None and picked.metrics["params"] <= 0.5
    under = [t.metrics["val_acc"] for t in exp.trials if t.metrics["params"] <= 0.5]
    assert picked.metrics["val_acc"] == max(under)


def test_a_single_objective_strategy_refuses_several_objectives(table: NB201Table) -> None:
    storage = InMemoryStorage()
    with pytest.raises(ConfigError, match=r"RegularizedEvolution optimises one objective.*multi-objective strategy"):
        experiment(table, strategy=RegularizedEvolution(), storage=storage).run(max_trials=3)
    assert storage.list_experiments() == []  # refused before anything was written


def test_a_missing_objective_fails_the_trial_with_a_reason(table: NB201Table) -> None:
    exp = experiment(table, evaluator=NoParamsEvaluator()).run(max_trials=3)
    assert all(t.state is TrialState.FAILED for t in exp.trials)
    assert "MissingMetric" in (exp.trials[0].error or "") and "'params'" in (exp.trials[0].error or "")


def test_objectives_and_constraints_are_stored(table: NB201Table) -> None:
    storage = InMemoryStorage()
    experiment(table, storage=storage, constraints={"params": "<= 1"}).run(max_trials=2)
    config: Mapping[str, Any] = storage.get_experiment("mo").config  # type: ignore[union-attr]
    assert config["objectives"] == [
        {"metric": "val_acc", "direction": "maximize"},
        {"metric": "params", "direction": "minimize"},
    ]
    assert config["constraints"] == ["params <= 1"]


def test_export_needs_a_completed_feasible_trial(table: NB201Table, tmp_path: Any) -> None:
    exp = experiment(table).run(max_trials=5)
    with pytest.raises(StorageError, match="Trial 99 of experiment 'mo' does not exist"):
        exp.export(str(tmp_path / "out"), trial=99)
    with pytest.raises(ConfigError, match="must be a TrialRecord or a trial number"):
        exp.export(str(tmp_path / "out"), trial="knee")  # type: ignore[arg-type]


def _latency_table(path: Any, n: int) -> str:
    import gzip

    rng = np.random.default_rng(0)
    with gzip.open(path, "wt") as f:
        f.write("arch_index,latency_ms,latency_min_ms\n")
        for i in range(n):
            value = float(rng.uniform(1, 10))
            f.write(f"{i},{value:.4f},{value:.4f}\n")
    return str(path)


def test_a_latency_table_gives_latency_before_training(table: NB201Table, tmp_path: Any) -> None:
    path = _latency_table(tmp_path / "lat.csv.gz", len(table))
    evaluator = NB201Evaluator(latency_table=path)
    exp = experiment(
        table, evaluator=evaluator, objective=["max:val_acc", "min:latency_ms"], constraints=["latency_ms <= 4"]
    ).run(max_trials=20)
    assert exp.rejected > 0  # about two thirds of the cells are slower than 4 ms in this table
    assert all(t.metrics["latency_ms"] <= 4 for t in exp.trials)
    assert evaluator.task()["latency_table"] == path


def test_a_bad_latency_table_is_a_clear_error(tmp_path: Any) -> None:
    path = tmp_path / "lat.csv"
    path.write_text("index,ms\n0,1.0\n")
    with pytest.raises(ConfigError, match="needs columns arch_index and latency_ms"):
        NB201Evaluator(latency_table=str(path)).prepare()
    with pytest.raises(ConfigError, match="Cannot read the latency table"):
        NB201Evaluator(latency_table=str(tmp_path / "missing.csv")).prepare()
