"""End to end: a multi-fidelity search from a configuration, every trial trained over Flower clients, with
rounds as the budget and each trial's rounds, bytes and client accuracies recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("flwr")

from nasforge.config import build_experiment
from nasforge.trial import TrialState


@pytest.mark.slow  # each trial starts a Flower simulation (Ray and its client processes)
@pytest.mark.timeout(1800)  # three such starts on a busy single core can take several minutes each
def test_a_multi_fidelity_search_spends_rounds_as_its_budget(tmp_path: Path) -> None:
    config = {
        "name": "federated-test",
        "space": {"name": "cnn", "depths": [1], "widths": [[8], [8], [8]]},
        "dataset": {"name": "digits"},
        "strategy": {"name": "successive_halving", "budgets": [1, 2], "eta": 2},
        "evaluator": {
            "name": "federated",
            "partition": "dirichlet",
            "alpha": 0.5,
            "num_clients": 4,
            "fraction": 0.5,
            "batch_size": 64,
            "learning_rate": 0.05,
            "workers": 1,
        },
    }
    experiment = build_experiment(config, storage=f"sqlite:///{tmp_path / 'fed.db'}")
    experiment.run(max_trials=3)
    trials = experiment.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, [t.error for t in trials]
    assert sorted(t.budget for t in trials) == [1, 1, 2]
    for t in trials:
        m = t.metrics
        assert m["rounds"] == t.budget and m["clients"] == 4
        assert 0 <= m["val_acc"] <= 1 and m["client_acc_std"] >= 0 and m["client_acc_min"] <= m["client_acc_mean"]
        assert m["comm_bytes"] == m["bytes_sent"] + m["bytes_received"] > 0
        assert m["train_time"] > 0
    (promoted,) = [t for t in trials if t.budget == 2]
    (first,) = [t for t in trials if t.budget == 1 and t.arch == promoted.arch]
    # the same model to the same number of clients each round: twice the rounds, twice the bytes
    assert promoted.metrics["comm_bytes"] == pytest.approx(2 * first.metrics["comm_bytes"])
