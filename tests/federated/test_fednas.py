"""FedNAS: clients train the supernet's weights and alphas on their own data, the server averages both by
the clients' sample counts, and the derived arch becomes the experiment's trial and export.

The federations here run Flower's strategies and client apps on a loopback grid in this process (no Ray);
tests/federated/test_boundary.py's slow twin below runs one in Flower's simulation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("flwr")

from flwr.app import ArrayRecord, MetricRecord

from nasforge import ClassificationEvaluator, Digits, Experiment
from nasforge.config import build_experiment
from nasforge.data import ArrayDataset
from nasforge.errors import ConfigError, StorageError
from nasforge.evaluators import TrainConfig
from nasforge.experiment import Callback
from nasforge.federated import FederatedEvaluator
from nasforge.federated.client import REPLY_METRICS, ClientTask, make_client_app
from nasforge.federated.deploy import clientapp, task_for
from nasforge.federated.server import payload_bytes
from nasforge.oneshot import FedNAS, OneShotStrategy
from nasforge.space import ModelSpace
from nasforge.strategies import STRATEGIES
from nasforge.trial import TrialState
from tests.federated.loopback import LoopbackGrid
from tests.oneshot.toys import Separable


def separable() -> ArrayDataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(360, 8, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return ArrayDataset(x[:300].numpy(), y[:300].numpy(), x_test=x[300:].numpy(), y_test=y[300:].numpy())


def federation() -> FederatedEvaluator:
    """Three clients of unequal sizes (a Dirichlet split), all training every round."""
    return FederatedEvaluator(
        separable(), partition="dirichlet", alpha=1.0, num_clients=3, rounds=1, fraction=1.0, batch_size=32
    )


def attach(evaluator: FederatedEvaluator, space: ModelSpace) -> LoopbackGrid:
    """A grid whose clients build what each message asks for, as deployed clients do."""
    grid = LoopbackGrid(make_client_app(lambda msg, ctx: task_for(space, evaluator, msg)), evaluator.data.size())
    evaluator.attach(grid)
    return grid


FAST: dict[str, Any] = {"batch_size": 16, "learning_rate": 0.2, "arch_learning_rate": 0.05}


@pytest.mark.usefixtures("server_identity")
def test_the_server_averages_weights_and_alphas_by_the_clients_sample_counts() -> None:
    torch.set_num_threads(1)
    space, evaluator = Separable(), federation()
    attach(evaluator, space)
    method = FedNAS(rounds=1, seed=3, **FAST)
    torch.manual_seed(0)
    start = method.supernet(space).state_dict()
    states, counts = [], []
    for cid in range(3):  # what each client does with the start, by hand
        train, valid = evaluator.data.client(cid)
        net = method.supernet(space)
        net.load_state_dict(start)
        method.local_search(net, train, valid, learning_rate=0.2, server_round=1, seed=hash((3, 1, cid)) % (2**31))
        states.append(net.state_dict())
        counts.append(len(train))
    assert len(set(counts)) == 3
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=0.2, schedule="cosine", augment="none")
    task = ClientTask(space, space.default_arch(), evaluator.data, config, seed=3, search=method)
    fed = evaluator.federate(task, 1, initial=start)
    assert fed.state_dict is not None and "alphas.0" in fed.state_dict
    for key, value in fed.state_dict.items():
        expected = sum(n * s[key].double() for n, s in zip(counts, states)) / sum(counts)
        assert torch.allclose(value.double(), expected, atol=1e-6), key
    # the alphas moved on every client, differently: a plain mean of the clients would not match
    plain = sum(s["alphas.0"] for s in states) / 3
    assert not torch.allclose(fed.state_dict["alphas.0"].float(), plain, atol=1e-6)
    assert not torch.equal(start["alphas.0"], fed.state_dict["alphas.0"].float())


@pytest.mark.usefixtures("server_identity")
def test_fednas_finds_the_known_optimum_over_the_clients_and_records_its_rounds() -> None:
    torch.set_num_threads(1)
    space, evaluator = Separable(), federation()
    grid = attach(evaluator, space)
    result = FedNAS(rounds=5, local_epochs=2, **FAST).search_under(evaluator, space)
    assert result is not None and result.arch == {"hidden": "linear"}
    assert result.probabilities["hidden"][1] > 0.5
    history = result.history
    assert [h["round"] for h in history] == [1.0, 2.0, 3.0, 4.0, 5.0]
    comm = [h["comm_bytes"] for h in history]
    assert comm == sorted(set(comm))  # grows every round
    # the bytes are the messages' own: every message sent and every reply, counted once
    wire = sum(payload_bytes(m.content) for m in grid.seen) + sum(payload_bytes(m.content) for m in grid.replies)
    assert comm[-1] == wire == result.info["search_comm_bytes"]
    last = history[-1]
    assert 0.5 < last["client_acc_mean"] <= 1 and last["client_acc_std"] >= 0
    assert last["client_acc_min"] <= last["client_acc_mean"]
    assert result.info["search_rounds"] == 5 and result.search_time > 0


def sample_rows(evaluator: FederatedEvaluator) -> list[bytes]:
    rows: list[bytes] = []
    for cid in range(evaluator.data.size()):
        for part in evaluator.data.client(cid):
            rows.extend(x.numpy().tobytes() for x in part.x)
    return rows


@pytest.mark.usefixtures("server_identity")
def test_only_the_supernet_and_metrics_cross_the_client_boundary() -> None:
    torch.set_num_threads(1)
    space, evaluator = Separable(), federation()
    grid = attach(evaluator, space)
    method = FedNAS(rounds=2, **FAST)
    assert method.search_under(evaluator, space) is not None
    names = {k: tuple(v.shape) for k, v in method.supernet(space).state_dict().items()}
    assert any(k.startswith("alphas.") for k in names)
    assert len(grid.replies) == 2 * 3 * 2  # 2 rounds x 3 clients x (train + evaluate)
    for reply in grid.replies:
        for key, record in reply.content.items():
            assert isinstance(record, (ArrayRecord, MetricRecord)), key
            if isinstance(record, ArrayRecord):  # exactly the supernet: its weights and its alphas
                assert {k: tuple(a.shape) for k, a in record.items()} == names
            else:
                assert set(record) <= REPLY_METRICS
    wire = b""
    for msg in grid.seen + grid.replies:
        for record in msg.content.values():
            if isinstance(record, ArrayRecord):
                wire += b"".join(array.data for array in record.values())
            else:
                wire += repr(dict(record)).encode()
    assert not any(row in wire for row in sample_rows(evaluator))


class StopAfter(Callback):
    def __init__(self, step: int) -> None:
        self.step = step
        self.seen: list[int] = []

    def on_search_progress(self, experiment: Experiment, step: int, metrics: Mapping[str, float]) -> None:
        self.seen.append(step)
        if step == self.step:
            experiment.stop()


@pytest.mark.usefixtures("server_identity")
def test_a_stopped_search_resumes_from_its_last_round_and_its_arch_is_trained_and_exported(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    db = str(tmp_path / "fed.db")

    def experiment() -> tuple[Experiment, LoopbackGrid]:
        space, evaluator = Separable(), federation()
        grid = attach(evaluator, space)
        return Experiment("fednas", space, FedNAS(rounds=3, **FAST), evaluator, storage=db), grid

    first, _ = experiment()
    stop = StopAfter(1)
    first.run(max_trials=1, callbacks=[stop])
    assert stop.seen == [1] and first.trials == []
    assert (first.checkpoint_dir / "supernet.pt").exists()

    again, grid = experiment()
    go_on = StopAfter(99)
    again.run(max_trials=1, callbacks=[go_on])
    assert go_on.seen == [2, 3]  # round 1 came from the checkpoint
    search = [m for m in grid.seen if "search" in m.content.config_records["config"]]
    assert len(search) == 2 * 3 * 2 and {m.content.config_records["config"]["round-offset"] for m in search} == {1}
    strategy = again.strategy
    assert isinstance(strategy, OneShotStrategy)
    history = strategy.history
    assert [h["round"] for h in history] == [1.0, 2.0, 3.0]
    assert history[0]["comm_bytes"] < history[1]["comm_bytes"] < history[2]["comm_bytes"]  # counted on

    (trial,) = again.trials
    assert trial.state is TrialState.COMPLETE and trial.info["source"] == "oneshot:FedNAS"
    assert trial.info["search_rounds"] == 3 and trial.info["search_comm_bytes"] == history[-1]["comm_bytes"]
    # the derived arch trained by FedAvg as any federated trial is, with its own rounds and bytes
    assert trial.metrics["rounds"] == 1 and trial.metrics["comm_bytes"] > 0 and "client_acc_std" in trial.metrics
    folder, metrics = again.export(str(tmp_path / "out"), epochs=2)
    assert (folder / "weights.pt").exists() and metrics["rounds"] == 2 and 0 <= metrics["test_acc"] <= 1
    assert json.loads((folder / "arch.json").read_text()) == trial.arch.to_dict()


@pytest.mark.usefixtures("server_identity")
def test_a_resumed_search_ends_where_an_uninterrupted_one_ends(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    space, evaluator = Separable(), federation()
    attach(evaluator, space)
    part = tmp_path / "part.pt"
    whole = FedNAS(rounds=2, **FAST).search_under(evaluator, space, checkpoint=tmp_path / "whole.pt")
    assert FedNAS(rounds=2, **FAST).search_under(evaluator, space, checkpoint=part, should_stop=lambda: True) is None
    with pytest.raises(StorageError, match="another search"):  # other settings
        FedNAS(rounds=2, **{**FAST, "learning_rate": 0.3}).search_under(evaluator, space, checkpoint=part)
    other = FederatedEvaluator(separable(), partition="iid", num_clients=3, fraction=1.0)
    with pytest.raises(StorageError, match="another search"):  # other clients
        FedNAS(rounds=2, **FAST).search_under(other, space, checkpoint=part)
    rest = FedNAS(rounds=2, **FAST).search_under(evaluator, space, checkpoint=part)
    assert whole is not None and rest is not None and rest.arch == whole.arch
    a = torch.load(tmp_path / "whole.pt", weights_only=True)["supernet"]
    b = torch.load(part, weights_only=True)["supernet"]
    for key in a:  # equal up to the order in which the server sums the clients' replies
        assert torch.allclose(a[key].double(), b[key].double(), atol=1e-6), key
    assert [h["comm_bytes"] for h in rest.history] == [h["comm_bytes"] for h in whole.history]


@pytest.mark.slow  # end to end, about 4 s: the fast loop keeps the parts
@pytest.mark.usefixtures("server_identity")
def test_an_experiment_from_a_config_searches_with_fednas_on_deployed_clients(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    config = {
        "name": "fednas",
        "space": {"name": "nb201", "C": 4, "N": 1},
        "dataset": {"name": "digits"},
        "strategy": {"name": "fednas", "rounds": 2, "batch_size": 64, "arch_learning_rate": 0.01},
        "evaluator": {"name": "federated", "partition": "iid", "num_clients": 3, "rounds": 1, "batch_size": 64},
        "executor": {"name": "sequential"},
    }
    path = tmp_path / "fednas.yaml"
    path.write_text(yaml.safe_dump(config))
    experiment = build_experiment(config, storage=f"sqlite:///{tmp_path / 'fed.db'}")
    grid = LoopbackGrid(clientapp, 3, {"nasforge-config": str(path)})  # clients build their parts from the file
    experiment.evaluator.attach(grid)
    experiment.run(max_trials=1)
    (trial,) = experiment.trials
    assert trial.state is TrialState.COMPLETE, trial.error
    assert trial.info["source"] == "oneshot:FedNAS" and trial.info["search_rounds"] == 2
    assert sorted(trial.arch) == sorted(experiment.space.validate(trial.arch))
    searched = [m for m in grid.seen if "search" in m.content.config_records["config"]]
    assert searched and json.loads(str(searched[0].content.config_records["config"]["search"]))["rounds"] == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rounds": 0}, "`rounds` of FedNAS must be an int >= 1, but got 0."),
        ({"local_epochs": 1.5}, "`local_epochs` of FedNAS must be an int >= 1"),
        ({"rounds": 3, "warmup_rounds": 3}, "`warmup_rounds` of FedNAS must be < rounds=3"),
        ({"momentum": 1.0}, "`momentum` of FedNAS must be a number in [0, 1)"),
        ({"arch_learning_rate": 0}, "`arch_learning_rate` of FedNAS must be a number > 0"),
        ({"fixed": 3}, "`fixed` of FedNAS must be a mapping"),
    ],
)
def test_bad_settings_are_refused_in_one_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        FedNAS(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_fednas_needs_a_federated_evaluator_and_known_options() -> None:
    with pytest.raises(ConfigError) as info:
        FedNAS(rounds=1).search_under(ClassificationEvaluator(Digits(), epochs=1), Separable())
    assert "needs `evaluator: {name: federated, ...}`" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="rounds"):
        STRATEGIES.create("fednas", round=3)
    assert FedNAS(**FedNAS(rounds=4, fixed={"hidden": "linear"}).settings()).settings()["rounds"] == 4


def test_the_same_search_runs_centrally_on_pooled_data() -> None:
    torch.set_num_threads(1)
    splits = separable().load()
    result = FedNAS(rounds=6, **FAST).search(Separable(), splits.train, splits.valid)
    assert result is not None and result.arch == {"hidden": "linear"} and len(result.history) == 6
    assert np.isfinite(result.history[-1]["train_loss"])
