"""The training evaluator on real data (scikit-learn's digits): metrics, determinism, failures."""

from __future__ import annotations

import pytest
import torch

from nasforge.cost import count_flops, count_params
from nasforge.data import Digits
from nasforge.errors import ConfigError
from nasforge.evaluators import ClassificationEvaluator, EvalContext, TrialError
from nasforge.zoo import SmallImageCNN
from tests.toys import NaNLossSpace

SPACE = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10, depths=(1,), widths=((16,), (32,), (32,)))


def evaluate(evaluator: ClassificationEvaluator, seed: int = 0, budget: float | None = None):
    reports: list = []
    arch = SPACE.validate({**SPACE.default_arch(), "learning_rate": 0.1})
    ctx = EvalContext(SPACE, arch, budget, seed=seed, report=lambda s, m: reports.append((s, dict(m))))
    return evaluator.evaluate(ctx), reports


def test_trains_and_reports_every_epoch() -> None:
    metrics, reports = evaluate(ClassificationEvaluator(Digits(), epochs=3))
    assert [s for s, _ in reports] == [1, 2, 3]
    assert metrics["val_acc"] > 0.7  # it learns (chance: 0.1)
    net = SPACE.freeze(SPACE.default_arch())
    assert metrics["params"] == count_params(net)
    assert metrics["flops"] == count_flops(net, (1, 8, 8)) > 0
    assert metrics["epochs"] == 3 and metrics["train_time"] > 0


def test_budget_is_epochs() -> None:
    _, reports = evaluate(ClassificationEvaluator(Digits(), epochs=3), budget=1)
    assert len(reports) == 1


def test_seeded_and_deterministic() -> None:
    ev = ClassificationEvaluator(Digits(), epochs=2)
    a, _ = evaluate(ev, seed=1)
    b, _ = evaluate(ev, seed=1)
    assert a["val_acc"] == b["val_acc"] and a["val_loss"] == b["val_loss"]


def test_interim_epochs_are_scored_on_a_fixed_part_of_the_validation_split() -> None:
    data = Digits()
    full, reports_full = evaluate(ClassificationEvaluator(data, epochs=3))
    part, reports_part = evaluate(ClassificationEvaluator(data, epochs=3, interim_valid=40))
    none, reports_none = evaluate(ClassificationEvaluator(data, epochs=3, interim_valid=0))
    # the training is the same: only what scores epochs 1 and 2 differs, and the last epoch uses the whole split
    assert full["val_acc"] == part["val_acc"] == none["val_acc"]
    assert [s for s, _ in reports_none] == [3]
    assert [s for s, _ in reports_part] == [1, 2, 3]
    n_valid = len(data.load().valid)
    for (_, m_full), (_, m_part) in zip(reports_full[:2], reports_part[:2], strict=True):
        assert round(m_part["val_acc"] * 40) == m_part["val_acc"] * 40  # scored on 40 samples
        assert round(m_full["val_acc"] * n_valid) == m_full["val_acc"] * n_valid
    ev = ClassificationEvaluator(data, interim_valid=0.5)
    assert len(ev._interim_part(data.load().valid)) == round(n_valid * 0.5)  # type: ignore[arg-type]
    assert ClassificationEvaluator(data, interim_valid=1)._interim_part(data.load().valid) is data.load().valid


def test_an_inheriting_child_fine_tunes_with_the_rule_it_is_given(tmp_path) -> None:
    from nasforge.estimation.inheritance import WeightInheritance

    ev = ClassificationEvaluator(Digits(), epochs=4)
    arch = SPACE.validate({**SPACE.default_arch(), "learning_rate": 0.1})
    parent = ev.evaluate(EvalContext(SPACE, arch, weights_out=str(tmp_path / "parent.pt")))

    def child(rule: WeightInheritance) -> dict[str, float]:
        ctx = EvalContext(SPACE, arch, weights_in=str(tmp_path / "parent.pt"), inheritance=rule)
        return ev.evaluate(ctx)

    plain, tuned = child(WeightInheritance(epochs=1)), child(WeightInheritance(epochs=1, lr_scale=0.1))
    assert plain["inherited"] == tuned["inherited"] == 1.0 and plain["epochs"] == tuned["epochs"] == 1
    assert plain["val_loss"] != tuned["val_loss"]  # another schedule: not the child's own warm-up to 0.1
    # one fine-tuning epoch at a tenth of the rate keeps what the parent learnt
    assert tuned["val_acc"] >= parent["val_acc"] - 0.02


def test_train_fraction_trains_on_less_data() -> None:
    full = ClassificationEvaluator(Digits(), epochs=1)
    part = ClassificationEvaluator(Digits(), epochs=1, train_fraction=0.25)
    assert len(part._train_part(Digits().load(), 0)) < len(full._train_part(Digits().load(), 0)) // 3


def test_hyperparameters_come_from_the_arch() -> None:
    ev = ClassificationEvaluator(Digits(), epochs=2, learning_rate=0.3)
    cfg = ev.train_config({"learning_rate": 0.05, "batch_size": 256, "other": 1})
    assert cfg.learning_rate == 0.05 and cfg.batch_size == 256 and cfg.epochs == 2
    assert ev.train_config({}).learning_rate == 0.3


def test_nan_loss_is_a_trial_error() -> None:
    space = NaNLossSpace()
    ev = ClassificationEvaluator(Digits(), epochs=1)
    with pytest.raises(TrialError, match="loss became nan"):
        ev.evaluate(EvalContext(space, space.validate({"learning_rate": 0.05, "poison": True})))
    assert ev.evaluate(EvalContext(space, space.validate({"learning_rate": 0.05, "poison": False})))["val_acc"] > 0.3


def test_final_training_uses_the_test_split() -> None:
    ev = ClassificationEvaluator(Digits(), epochs=1)
    model, metrics = ev.train_final(SPACE, SPACE.default_arch(), epochs=2)
    assert 0.5 < metrics["test_acc"] <= 1.0 and not model.training


def test_the_final_training_refits_the_data_and_rebuilds_the_arguments_it_gave(tmp_path) -> None:
    """A table whose rare level is common enough only with the validation rows: the final data are one
    column wider, so the space is rebuilt for them; an input shape set by hand is left as it is."""
    from nasforge.data.table import CSVDataset
    from nasforge.evaluators.classification import refitted_space
    from nasforge.zoo.mlp import MLPSpace

    kinds = ["odd" if i == 1 else "rare" if i % 9 == 0 else "common" for i in range(90)]  # 10 rare rows
    lines = ["size,kind,label"] + [f"{i % 7},{k},{'ab'[(i % 7) > 3]}" for i, k in enumerate(kinds)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "test.csv").write_text("\n".join(lines[:21]) + "\n")
    data = CSVDataset(
        str(tmp_path / "t.csv"), label="label", min_frequency=10, test_path=str(tmp_path / "test.csv"), valid_size=0.3
    )
    searched, final = data.load(), data.load_refitted()
    assert final.input_shape[0] == searched.input_shape[0] + 1
    space = MLPSpace(input_shape=list(searched.input_shape), depths=(1,), widths=(16,))
    ev = ClassificationEvaluator(data, epochs=1)
    rebuilt = ev.final_space(space)
    assert rebuilt is not space and rebuilt._nas_init_args[1]["input_shape"] == final.input_shape
    assert rebuilt.labels == space.labels
    assert ev.final_space(rebuilt) is rebuilt  # already built for the final data: left as it is
    model, metrics = ev.train_final(space, space.default_arch(), epochs=2)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == final.input_shape[0] and 0 <= metrics["test_acc"] <= 1
    assert ev.example_input().shape[1:] == final.input_shape
    by_hand = MLPSpace(input_shape=(40,), depths=(1,), widths=(16,))
    assert refitted_space(by_hand, searched, final) is by_hand
    assert ClassificationEvaluator(Digits()).final_space(SPACE) is SPACE  # nothing refitted: the same space


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train_fraction": 0}, "train_fraction"),
        ({"epochs": 0}, "epochs"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"lr": 0.1}, "Unknown training setting 'lr'"),
        ({"device": "gpu"}, "device"),
        ({"interim_valid": -1}, "interim_valid"),
        ({"interim_valid": 1.5}, "whole number"),
        ({"interim_valid": "half"}, "interim_valid"),
    ],
)
def test_arguments_are_validated(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ClassificationEvaluator(Digits(), **kwargs)
    with pytest.raises(ConfigError, match="dataset"):
        ClassificationEvaluator("digits")  # type: ignore[arg-type]


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_every_schedule_runs_for_any_number_of_steps(schedule: str) -> None:
    # a small dataset with large batches gives a handful of steps; OneCycleLR alone fails at exactly 4
    import torch

    from nasforge.evaluators.training import TrainConfig, make_schedule

    for total in range(1, 12):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        sched = make_schedule(opt, TrainConfig(schedule=schedule), total)
        for _ in range(total):
            opt.step()
            sched.step()


@pytest.mark.slow  # retrains several networks against wall-clock budgets: minutes on a busy machine
def test_a_time_budget_sets_the_length_of_training_and_its_schedule() -> None:
    from nasforge.evaluators.training import TrainConfig, fit, progress_lr

    # the schedule's shape over progress: warm-up to the peak, then decay to almost nothing
    assert progress_lr("onecycle", 0.0) == pytest.approx(0.04)
    assert progress_lr("onecycle", 0.25) == pytest.approx(1.0)
    assert progress_lr("onecycle", 1.0) < 1e-5 and progress_lr("cosine", 1.0) == pytest.approx(0.0)
    assert progress_lr("constant", 0.7) == 1.0
    data = Digits().load()
    epochs: list[tuple[int, dict]] = []
    cfg = TrainConfig(epochs=1000)
    info = fit(
        SPACE.freeze(SPACE.default_arch()),
        data.train,
        cfg,
        torch.device("cpu"),
        time_budget=3.0,
        on_epoch=lambda e, m: epochs.append((e, m)),
    )
    # as long as the budget (plus at most the step that crossed it), far fewer than the 1,000 epochs allowed;
    # the last epoch says so and may be partial
    assert 3.0 <= info["train_time"] < 3.0 + 2.0
    assert 0 < info["epochs"] < 1000 and epochs[-1][1]["last"] == 1.0
    assert all(m["last"] == 0.0 for _, m in epochs[:-1])
    # the epoch cap still holds on a fast machine: a huge budget trains exactly the epochs asked
    cfg = TrainConfig(epochs=2)
    quick = fit(SPACE.freeze(SPACE.default_arch()), data.train, cfg, torch.device("cpu"), time_budget=1e6)
    assert quick["epochs"] == 2 and quick["estimated_epoch_time"] > 0 and quick["epoch_time"] > 0


def test_trials_can_compare_archs_at_equal_wall_time() -> None:
    ev = ClassificationEvaluator(Digits(), epochs=100, trial_time=2.0, interim_valid=0)
    metrics, reports = evaluate(ev)
    assert 2.0 <= metrics["train_time"] < 4.0 and metrics["epochs"] < 100
    assert len(reports) == 1 and reports[0][1]["val_acc"] == metrics["val_acc"]  # scored once, at the end
    shorter, _ = evaluate(ev, budget=0.5)  # a strategy's budget is then seconds
    assert 0.5 <= shorter["train_time"] < metrics["train_time"]
    assert ev.task()["trial_time"] == 2.0  # results of another trial time do not warm-start this search
    with pytest.raises(ConfigError, match=r"`trial_time` of ClassificationEvaluator must be seconds > 0"):
        ClassificationEvaluator(Digits(), trial_time=0)


@pytest.mark.slow  # retrains several networks against wall-clock budgets: minutes on a busy machine
def test_the_final_training_fills_its_time_budget_and_measures_the_epoch_time() -> None:
    ev = ClassificationEvaluator(Digits(), epochs=2)
    logged: list[dict] = []
    _, result = ev.train_final(SPACE, SPACE.default_arch(), 500, log=lambda e, m: logged.append(m), time_budget=3.0)
    assert 3.0 <= result["train_time"] < 5.0 and 0 < result["epochs"] < 500 and "test_acc" in result
    # the epochs ran, at about the speed the first steps showed
    _, capped = ev.train_final(SPACE, SPACE.default_arch(), 3, log=lambda e, m: logged.append(m), time_budget=1e6)
    assert capped["epochs"] == 3 and capped["estimated_epoch_time"] > 0 and capped["epoch_time"] > 0
    assert logged[-1]["estimated_epoch_time"] == capped["estimated_epoch_time"]
