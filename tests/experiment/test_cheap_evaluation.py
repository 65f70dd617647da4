"""Early stopping and weight inheritance through `Experiment`: pruned trials, peers, weight files, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasforge import ClassificationEvaluator, Experiment, RegularizedEvolution
from nasforge.config import build_experiment, validate
from nasforge.data import Digits
from nasforge.errors import ConfigError
from nasforge.evaluators import BaseEvaluator, EvalContext
from nasforge.evaluators.tabular import NB201Evaluator
from nasforge.strategies import LocalSearch
from nasforge.trial import TrialState
from nasforge.zoo import SmallImageCNN
from tests.toys import ToySpace, toy_score

STEPS = 5


class CurveEvaluator(BaseEvaluator):
    """A learning curve per arch: step t scores toy_score - (STEPS - t), so the final order shows at step 1."""

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        final = toy_score(ctx.arch)
        for t in range(1, STEPS + 1):
            ctx.report(t, {"score": final - (STEPS - t)})
        return {"score": final}


def curve_experiment(tmp_path: Path, rule: object, name: str = "curves") -> Experiment:
    return Experiment(
        name,
        ToySpace(),
        RegularizedEvolution(population_size=6, sample_size=3),
        CurveEvaluator(),
        storage=str(tmp_path / "nas.db"),
        objective="max:score",
        early_stopping=rule,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("rule", ["median", {"name": "extrapolate", "min_trials": 4}])
def test_stopping_rule_prunes_bad_curves_after_enough_peers(tmp_path: Path, rule: object) -> None:
    exp = curve_experiment(tmp_path, rule).run(max_trials=40)
    trials = exp.trials
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert pruned and len(complete) >= 5
    assert all(t.state is TrialState.COMPLETE for t in trials[:4])  # no peers yet: nothing is stopped
    for t in pruned:
        assert t.info["pruned"] is True and 1 <= t.info["pruned_at"] < STEPS
        reports = exp.reports(t.number)
        assert len(reports) == t.info["pruned_at"]
        assert t.metrics["score"] == reports[-1][1]["score"]  # the last report is the trial's result
        # it was worse than the median of the completed peers: never the best
        assert toy_score(t.arch) < exp.best_trial.metrics["score"]  # type: ignore[union-attr]
    # pruned trials are told to the strategy like any other and the search found a good arch
    assert exp.best_trial is not None and exp.best_trial.metrics["score"] >= -1


def test_stopping_resumes_with_peers_from_storage(tmp_path: Path) -> None:
    curve_experiment(tmp_path, "median").run(max_trials=10)
    again = curve_experiment(tmp_path, "median")
    assert again.last_run is None
    again.run(max_trials=20)
    # the resumed run read the earlier completed curves back and pruned from its first new trial on
    assert again.last_run is not None and len(again.last_run.tracking.peer_curves) >= 5
    assert any(t.state is TrialState.PRUNED for t in again.trials[10:])


SPACE = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10, depths=(1, 2), widths=((8, 16), (16,), (16,)))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["evolution", "local_search"])
def test_children_inherit_their_parents_weights(tmp_path: Path, strategy: str) -> None:
    search = (
        RegularizedEvolution(population_size=3, sample_size=2) if strategy == "evolution" else LocalSearch(n_initial=3)
    )
    exp = Experiment(
        "inherit",
        SPACE,
        search,
        ClassificationEvaluator(Digits(), epochs=2),
        storage=str(tmp_path / "nas.db"),
        inherit_weights={"epochs": 0.5},
    ).run(max_trials=8)
    trials = exp.trials
    assert all(t.state is TrialState.COMPLETE for t in trials)
    weights = exp.checkpoint_dir / "weights"
    assert sorted(p.name for p in weights.glob("*.pt")) == sorted(f"{t.number}.pt" for t in trials)
    children = [t for t in trials if t.info.get("parent")]
    assert children
    by_id = {t.arch.id: t for t in trials}
    for child in children:
        assert child.info["parent"] in by_id
        assert 0 < child.metrics["inherited"] <= 1
        assert child.metrics["epochs"] == 1  # half of 2
    for t in trials:
        if not t.info.get("parent"):
            assert t.metrics["inherited"] == 0 and t.metrics["epochs"] == 2
    assert max(t.metrics["val_acc"] for t in trials) > 0.5


def test_inheritance_needs_an_evaluator_that_trains(tmp_path: Path) -> None:
    from nasforge.zoo.nb201 import NB201Space

    with pytest.raises(ConfigError, match="inherit"):
        Experiment(
            "tab",
            NB201Space(),
            RegularizedEvolution(),
            NB201Evaluator("cifar10"),
            storage=str(tmp_path / "nas.db"),
            inherit_weights=True,
        )


def test_bad_rule_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="median"):
        curve_experiment(tmp_path, "sometimes")


def test_config_estimation_section(tmp_path: Path) -> None:
    config = {
        "space": {"name": "cnn", "input_shape": [1, 8, 8], "depths": [1], "widths": [[8], [16], [16]]},
        "strategy": {"name": "evolution", "population_size": 4, "sample_size": 2},
        "dataset": {"name": "digits"},
        "evaluator": {"epochs": 1, "interim_valid": 100},
        "objective": "max:val_acc",
        "estimation": {
            "early_stopping": {"name": "median", "min_trials": 3},
            "inherit_weights": {"epochs": 1, "lr_scale": 0.3},
        },
    }
    exp = build_experiment(config, storage=str(tmp_path / "nas.db"))
    assert exp.early_stopping is not None and exp.early_stopping.min_trials == 3
    assert exp.inheritance is not None and exp.inheritance.epochs == 1 and exp.inheritance.lr_scale == 0.3
    assert isinstance(exp.evaluator, ClassificationEvaluator) and exp.evaluator.interim_valid == 100
    with pytest.raises(ConfigError, match="interim_valid"):
        validate({**config, "evaluator": {"epochs": 1, "interim_valid": "some"}})
    for bad, match in (
        ({"early_stopping": "never"}, "never"),
        ({"inherit_weights": "yes"}, "inherit_weights"),
        ({"inherit_weights": {"epochs": 2.5}}, "fraction"),
        ({"inherit_weights": {"lr_scale": 3}}, "lr_scale"),
        ({"patience": 3}, "patience"),
    ):
        with pytest.raises(ConfigError, match=match):
            validate({**config, "estimation": bad})
