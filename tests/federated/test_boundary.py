"""Raw data never leaves a client: only parameters (and a few metrics) cross the client boundary.

One real Flower federation (simulation runtime, clients in Ray processes) over Digits: every message the
server sends or receives is inspected, and so is the app shipped into the client processes."""

from __future__ import annotations

from typing import Any

import pytest
import torch

pytest.importorskip("flwr")
cloudpickle = pytest.importorskip("ray.cloudpickle")  # how Ray ships the app into client processes

from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict  # noqa: E402

from nasforge.data import Digits  # noqa: E402
from nasforge.evaluators import TrainConfig  # noqa: E402
from nasforge.federated import DirichletPartitioner, FederatedData  # noqa: E402
from nasforge.federated.client import REPLY_METRICS, ClientTask, make_client_app  # noqa: E402
from nasforge.federated.run import FederationSettings, run_federation  # noqa: E402
from nasforge.federated.server import BoundaryError, check_reply, payload_bytes  # noqa: E402
from nasforge.oneshot import FedNAS  # noqa: E402
from nasforge.zoo import SmallImageCNN  # noqa: E402
from nasforge.zoo.nb201 import NB201Space  # noqa: E402

SPACE = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10, depths=(1,), widths=((8,), (8,), (8,)))


def sample_bytes(data: FederatedData) -> list[bytes]:
    """The raw bytes of every sample any client holds, and of each sample's first row (8 pixels) where that
    row is not constant (eight equal values, e.g. background, say nothing of the sample and could match
    any array by chance)."""
    rows = []
    for cid in range(data.size()):
        for part in data.client(cid):
            for x in part.x:
                rows.append(x.numpy().tobytes())
                if len(set(x[0, 0].tolist())) > 2:
                    rows.append(x[0, 0].numpy().tobytes())
    return rows


def message_bytes(content: RecordDict) -> bytes:
    out = b""
    for record in content.values():
        if isinstance(record, ArrayRecord):
            out += b"".join(array.data for array in record.values())
        else:
            out += repr(dict(record)).encode()
    return out


@pytest.mark.slow  # a real federation: Ray starts client processes (about a minute on one core)
def test_only_parameters_and_metrics_cross_the_client_boundary() -> None:
    data = FederatedData(Digits(), DirichletPartitioner(alpha=1.0), num_clients=3)
    task = ClientTask(SPACE, SPACE.default_arch(), data, TrainConfig(epochs=1, batch_size=32, learning_rate=0.05))
    raw = sample_bytes(data)
    # what the simulation ships into each client process: a description, with no sample in it
    shipped = cloudpickle.dumps(make_client_app(task))
    assert not any(row in shipped for row in raw)

    traffic: list[tuple[str, RecordDict]] = []
    fed = run_federation(
        task, FederationSettings(fraction=1.0), rounds=2, watch=lambda way, msg: traffic.append((way, msg.content))
    )
    names = {k: tuple(v.shape) for k, v in SPACE.freeze(SPACE.default_arch()).state_dict().items()}
    replies = [content for way, content in traffic if way == "received"]
    assert len(replies) == 2 * 3 * 2  # 2 rounds x 3 clients x (train + evaluate)
    for content in replies:
        for key, record in content.items():
            assert isinstance(record, (ArrayRecord, MetricRecord)), key
            if isinstance(record, ArrayRecord):
                assert {k: tuple(a.shape) for k, a in record.items()} == names  # exactly the model's parameters
            else:
                assert set(record) <= REPLY_METRICS
    wire = b"".join(message_bytes(content) for _, content in traffic)
    assert not any(row in wire for row in raw)  # not one sample, not one row of a sample, in any message
    assert fed.bytes_received == sum(payload_bytes(c) for c in replies)
    assert fed.bytes_sent == sum(payload_bytes(c) for way, c in traffic if way == "sent")
    assert len(fed.rounds) == 2 and 0 <= fed.rounds[-1].val_acc <= 1
    assert fed.rounds[-1].client_n and sum(fed.rounds[-1].client_n) == sum(len(data.client(c)[1]) for c in range(3))


@pytest.mark.slow  # a real federation: Ray starts client processes (about a minute on one core)
def test_a_fednas_search_sends_only_the_supernet_across_the_client_boundary() -> None:
    data = FederatedData(Digits(), DirichletPartitioner(alpha=1.0), num_clients=3)
    space = NB201Space(C=2, N=1, input_shape=(1, 8, 8))
    method = FedNAS(rounds=2, batch_size=64, arch_learning_rate=0.05)
    config = TrainConfig(epochs=1, batch_size=64, learning_rate=0.025, schedule="cosine", augment="none")
    task = ClientTask(space, space.default_arch(), data, config, search=method)
    raw = sample_bytes(data)
    shipped = cloudpickle.dumps(make_client_app(task))
    assert not any(row in shipped for row in raw)

    traffic: list[tuple[str, RecordDict]] = []
    fed = run_federation(
        task, FederationSettings(fraction=1.0), rounds=2, watch=lambda way, msg: traffic.append((way, msg.content))
    )
    names = {k: tuple(v.shape) for k, v in method.supernet(space).state_dict().items()}
    replies = [content for way, content in traffic if way == "received"]
    assert len(replies) == 2 * 3 * 2
    for content in replies:
        for key, record in content.items():
            assert isinstance(record, (ArrayRecord, MetricRecord)), key
            if isinstance(record, ArrayRecord):  # the supernet's weights and its alphas, nothing else
                assert {k: tuple(a.shape) for k, a in record.items()} == names
            else:
                assert set(record) <= REPLY_METRICS
    wire = b"".join(message_bytes(content) for _, content in traffic)
    assert not any(row in wire for row in raw)
    assert fed.state_dict is not None and set(fed.state_dict) == set(names)
    assert any(float(fed.state_dict[k].abs().max()) > 0 for k in names if k.startswith("alphas."))


def test_a_reply_that_carries_anything_else_is_refused() -> None:
    shapes = {"w": (2, 2)}
    good = RecordDict({"arrays": ArrayRecord({"w": torch.zeros(2, 2)}), "metrics": MetricRecord({"acc": 0.5})})
    check_reply(good, shapes)
    bad: list[dict[str, Any]] = [
        {"arrays": ArrayRecord({"w": torch.zeros(2, 2), "x": torch.ones(5, 64)})},
        {"samples": ArrayRecord({"w": torch.zeros(2, 2)})},
        {"metrics": MetricRecord({"acc": 0.5, "pixel_0": 0.25})},
        {"config": ConfigRecord({"note": "text"})},
    ]
    for content in bad:
        with pytest.raises(BoundaryError, match="client"):
            check_reply(RecordDict(content), shapes)
    with pytest.raises(BoundaryError):  # an evaluation reply carries no arrays at all
        check_reply(RecordDict({"arrays": ArrayRecord({"w": torch.zeros(2, 2)})}), None)
