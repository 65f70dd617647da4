"""A multi-fidelity strategy's `resume`: a promoted arch continues the training of its lower-rung trial from the
weights that trial saved, and trains only the rest of its budget, instead of starting again."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nasforge import ClassificationEvaluator, Experiment
from nasforge.config import build_experiment, validate
from nasforge.data import Digits
from nasforge.errors import ConfigError
from nasforge.estimation.inheritance import save_weights
from nasforge.estimation.tracking import TrialTracking
from nasforge.evaluators import EvalContext
from nasforge.strategies import ASHA, BOHB, Hyperband, SuccessiveHalving
from nasforge.trial import Objective, TrialRecord, TrialState
from nasforge.zoo import SmallImageCNN
from tests.toys import ToyEvaluator, ToySpace

SPACE = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10, depths=(1, 2), widths=((8, 16), (16,), (16,)))
OBJECTIVE = Objective("val_acc", "maximize")


@pytest.mark.parametrize("make", [ASHA, Hyperband, SuccessiveHalving, BOHB])
def test_a_resuming_strategys_promotions_name_the_budget_they_continue(make: type) -> None:
    strategy = make(budgets=(1, 3), eta=2, resume=True)
    strategy.setup(ToySpace(), Objective("score", "maximize"), 0)
    proposals = []
    for number in range(8):
        proposal = strategy.ask()
        assert proposal is not None
        proposals.append(proposal)
        state = TrialState.COMPLETE
        record = TrialRecord(
            number, proposal.arch, proposal.budget, state, {"score": float(number)}, info=proposal.info
        )
        strategy.tell(record)
    promoted = [p for p in proposals if p.info["origin"] == "promotion"]
    assert promoted, "two rungs of eta 2 promote within eight trials"
    assert all(p.info["resumes"] == 1 and p.budget == 3 for p in promoted)
    assert all("resumes" not in p.info for p in proposals if p.info["origin"] != "promotion")
    assert repr(strategy).endswith("resume=True)")


def test_without_resume_a_promotion_starts_again() -> None:
    strategy = ASHA(budgets=(1, 3), eta=2)
    strategy.setup(ToySpace(), Objective("score", "maximize"), 0)
    for number in range(6):
        proposal = strategy.ask()
        assert proposal is not None and "resumes" not in proposal.info
        record = TrialRecord(
            number, proposal.arch, proposal.budget, TrialState.COMPLETE, {"score": 1.0}, info=proposal.info
        )
        strategy.tell(record)


def test_resume_must_be_a_bool() -> None:
    assert repr(ASHA(budgets=(1, 3), eta=2, resume=True)) == "ASHA(budgets=(1, 3), eta=2, resume=True)"
    with pytest.raises(ConfigError, match=r"`resume` of ASHA must be true or false.*'yes'"):
        ASHA(budgets=(1, 3), resume="yes")  # type: ignore[arg-type]


def test_the_evaluator_trains_the_rest_of_the_budget_from_the_weights_given(tmp_path: Path) -> None:
    evaluator = ClassificationEvaluator(Digits(), epochs=3)
    arch = SPACE.default_arch()
    earlier = SPACE.freeze(arch)
    save_weights(earlier, tmp_path / "0.pt")
    ctx = EvalContext(SPACE, arch, budget=3, seed=1, weights_in=str(tmp_path / "0.pt"), resumed=1.0)
    metrics = evaluator.evaluate(ctx)
    assert (metrics["resumed"], metrics["inherited"], metrics["epochs"]) == (1.0, 1.0, 2.0)
    fresh = evaluator.evaluate(EvalContext(SPACE, arch, budget=3, seed=1))
    assert (fresh["resumed"], fresh["inherited"], fresh["epochs"]) == (0.0, 0.0, 3.0)
    other = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10, depths=(1,), widths=((4,), (8,), (8,)))
    save_weights(other.freeze(other.default_arch()), tmp_path / "other.pt")
    ctx = EvalContext(SPACE, arch, budget=3, seed=1, weights_in=str(tmp_path / "other.pt"), resumed=1.0)
    partly = evaluator.evaluate(ctx)  # not the same arch's weights: no resume, the whole budget
    assert partly["resumed"] == 0.0 and partly["epochs"] == 3.0


def record(number: int, budget: float, info: dict | None = None) -> TrialRecord:
    arch = SPACE.default_arch()
    return TrialRecord(number, arch, budget, TrialState.COMPLETE, {"val_acc": 0.5}, info=info or {})


def test_tracking_resumes_only_from_the_arch_s_trial_at_the_named_budget(tmp_path: Path) -> None:
    tracking = TrialTracking(OBJECTIVE, None, None, tmp_path, lambda n: [], resumable=True)
    save_weights(SPACE.freeze(SPACE.default_arch()), tmp_path / "0.pt")
    tracking.finished(record(0, 1))
    fields = tracking.job_fields(record(1, 3, {"resumes": 1}))
    assert fields["weights_in"] == str(tmp_path / "0.pt") and fields["resumed"] == 1.0
    assert fields["weights_out"] == str(tmp_path / "1.pt")
    assert "resumed" not in tracking.job_fields(record(2, 9, {"resumes": 3}))  # no trial of it at 3 finished
    (tmp_path / "0.pt").unlink()
    assert "resumed" not in tracking.job_fields(record(3, 3, {"resumes": 1}))  # its weights are gone
    not_resumable = TrialTracking(OBJECTIVE, None, None, tmp_path, lambda n: [])
    save_weights(SPACE.freeze(SPACE.default_arch()), tmp_path / "0.pt")
    not_resumable.finished(record(0, 1))
    assert "resumed" not in not_resumable.job_fields(record(1, 3, {"resumes": 1}))


def test_an_asha_search_with_resume_continues_its_promoted_trials(tmp_path: Path) -> None:
    torch.manual_seed(0)
    exp = Experiment(
        "resume",
        SPACE,
        ASHA(budgets=(1, 3), eta=2, resume=True),
        ClassificationEvaluator(Digits(), epochs=3),
        storage=str(tmp_path / "nas.db"),
        checkpoint_dir=tmp_path / "ck",
    ).run(max_trials=5)
    trials = exp.trials
    assert all(t.state is TrialState.COMPLETE for t in trials)
    promoted = [t for t in trials if t.info.get("origin") == "promotion"]
    assert promoted
    rung0 = {t.arch.id: t for t in trials if t.budget == 1}
    for t in promoted:
        assert t.arch.id in rung0 and rung0[t.arch.id].number < t.number
        assert (t.metrics["resumed"], t.metrics["inherited"], t.metrics["epochs"]) == (1.0, 1.0, 2.0)
    for t in trials:
        if t.budget == 1:
            assert (t.metrics["resumed"], t.metrics["epochs"]) == (0.0, 1.0)


def test_resume_needs_an_evaluator_that_trains_from_saved_weights(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"`resume`.*ToyEvaluator cannot train on from saved weights"):
        Experiment("toy", ToySpace(), ASHA(budgets=(1, 3), resume=True), ToyEvaluator(), storage=":memory:")


def test_resume_from_a_config(tmp_path: Path) -> None:
    config = validate(
        {
            "name": "cfg",
            "storage": str(tmp_path / "nas.db"),
            "space": {"name": "cnn"},
            "dataset": {"name": "digits"},
            "strategy": {"name": "asha", "budgets": [1, 3], "eta": 2, "resume": True},
            "evaluator": {"epochs": 3},
        }
    )
    exp = build_experiment(config)
    assert exp.resumable and exp.strategy.resumes
