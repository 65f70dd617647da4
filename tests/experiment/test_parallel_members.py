"""Ensemble members retrained at once, each in its own process (`export(workers=...)`, `export.workers`):
the same networks as one after another, each with the whole time, and a failing or dying member's one-line
error."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from nasforge import ClassificationEvaluator, Experiment, RandomSearch
from nasforge import config as configs
from nasforge.cli.main import build_parser
from nasforge.data import Digits
from nasforge.errors import ConfigError
from nasforge.evaluators.base import TrialError
from nasforge.experiment import parallel_members
from nasforge.experiment.parallel_members import check_workers, resolve_workers
from nasforge.export import Ensemble, load_model
from nasforge.space import Arch
from nasforge.zoo import SmallImageCNN

SPACE = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10, depths=(1,), widths=((8, 16), (16,), (16,)))


class FailingEvaluator(ClassificationEvaluator):
    """Retrains like its parent, except `bad`: that arch raises, or kills its process."""

    def __init__(self, bad: Arch, how: str) -> None:
        super().__init__(Digits(), epochs=1, learning_rate=0.05)
        self.bad, self.how = bad, how

    def train_final(self, space: Any, arch: Arch, *args: Any, **kwargs: Any) -> Any:
        if arch == self.bad:
            if self.how == "die":
                os._exit(3)
            raise ValueError("the data ran out")
        return super().train_final(space, arch, *args, **kwargs)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    experiment = Experiment(
        "digits-par",
        SPACE,
        RandomSearch(),
        ClassificationEvaluator(Digits(), epochs=1, learning_rate=0.05),
        storage=str(tmp_path_factory.mktemp("par") / "nas.db"),
        seed=1,
    )
    return experiment.run(max_trials=4)


def member_states(folder: Path) -> list[dict[str, torch.Tensor]]:
    model = load_model(folder)
    assert isinstance(model, Ensemble)
    return [m.state_dict() for m in model.members]


@pytest.mark.slow  # two members' processes start (the fast loop keeps the checks of `workers` below)
def test_members_at_once_are_the_networks_trained_in_turn_and_export_json_says_how(
    searched: Experiment, tmp_path: Path
) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the members' processes train on one thread each here: the same sums in the same order
    try:
        in_turn, turn_metrics = searched.export(str(tmp_path / "turn"), epochs=2, ensemble=2)
    finally:
        torch.set_num_threads(threads)
    at_once, metrics = searched.export(str(tmp_path / "once"), epochs=2, ensemble=2, workers=2)
    for got, want in zip(member_states(at_once), member_states(in_turn), strict=True):
        for key in want:
            torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-5)
    assert metrics["ensemble_size"] == 2 and metrics["ensemble_workers"] == 2 and turn_metrics["ensemble_workers"] == 1
    assert metrics["epochs"] == turn_metrics["epochs"] == 2  # the first member's, as a single export has them
    assert metrics["test_acc"] == pytest.approx(turn_metrics["test_acc"], abs=0.01)
    assert metrics["best_member_test_acc"] == pytest.approx(turn_metrics["best_member_test_acc"], abs=0.01)
    retrain = json.loads((at_once / "export.json").read_text())["retrain"]
    assert retrain["workers"] == 2 and retrain["members_asked"] == 2
    assert [m["trial"] for m in retrain["members"]] == [
        m["trial"] for m in json.loads((in_turn / "ensemble.json").read_text())["members"]
    ]
    assert all(m["epochs"] == 2 and m["threads"] >= 1 for m in retrain["members"])


@pytest.mark.slow  # two members' processes start and train against a wall-clock budget
def test_each_member_at_once_trains_for_the_whole_budget_and_logs_the_first(
    searched: Experiment, tmp_path: Path
) -> None:
    seen: list[int] = []
    folder, _ = searched.export(
        str(tmp_path / "out"), epochs=500, ensemble=2, workers=2, time_budget=12, log=lambda e, m: seen.append(e)
    )
    retrain = json.loads((folder / "export.json").read_text())["retrain"]
    for member in retrain["members"]:
        # each has the round's whole 12 s (not half of it, as in turn), the process's start paid from it
        assert member["time_budget"] == pytest.approx(12, abs=0.5)
        assert 0 < member["epochs"] < 500 and member["train_time"] < 12
    assert seen and seen == list(range(1, len(seen) + 1))  # the chosen member's epochs, in order


@pytest.mark.slow  # four members' processes start
def test_a_member_that_fails_or_dies_fails_the_export_with_one_line(searched: Experiment, tmp_path: Path) -> None:
    ranked = sorted(searched.trials, key=lambda t: (-t.metrics["val_acc"], t.number))
    second = ranked[1].arch  # random search: 4 distinct archs
    for how, message in (
        ("raise", r"member 2 .* failed: ValueError: the data ran out"),
        ("die", r"died \(exit code 3\)"),
    ):
        searched.evaluator = FailingEvaluator(second, how)
        try:
            with pytest.raises(TrialError, match=message):
                searched.export(str(tmp_path / how), epochs=1, ensemble=2, workers=2)
        finally:
            searched.evaluator = ClassificationEvaluator(Digits(), epochs=1, learning_rate=0.05)
        assert not (tmp_path / how).exists()


def test_workers_are_checked_and_auto_means_one_per_member_and_core(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_workers("auto") == "auto" and check_workers(3) == 3
    for bad in (0, -1, 1.5, True, "all"):
        with pytest.raises(ConfigError, match=r"export.workers is how many .* int >= 1 or 'auto'"):
            check_workers(bad)
    monkeypatch.setattr(parallel_members, "usable_cores", lambda: 2)
    assert [resolve_workers("auto", k) for k in (1, 2, 4)] == [1, 2, 2]
    assert resolve_workers(8, 3) == 3
    base = {"space": {"name": "mlp"}, "dataset": {"name": "digits"}}
    assert configs.validate({**base, "export": {"workers": "auto"}})["export"]["workers"] == "auto"
    with pytest.raises(ConfigError, match=r"Key export.workers is how many .* got 0"):
        configs.validate({**base, "export": {"workers": 0}})
    args = build_parser().parse_args(["run", "digits", "--export-workers", "auto", "--export-ensemble", "2"])
    assert getattr(args, "export.workers") == "auto"
    assert getattr(build_parser().parse_args(["run", "digits", "--export-workers", "2"]), "export.workers") == 2
