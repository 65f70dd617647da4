"""`FederatedData`: each client's own train and validation parts, carved from the pool and nothing else."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from nasforge.data import ArrayData, BaseDataset, DataSplits, TextCSV, cached_load
from nasforge.errors import ConfigError
from nasforge.federated import DirichletPartitioner, FederatedData, GroupPartitioner


class Speakers(BaseDataset):
    """12 speakers x 30 samples in train, 3 x 30 in valid, 3 x 30 in test, each sample naming its speaker."""

    name = "speakers"

    def load(self) -> DataSplits:
        return cached_load(("speakers-test",), self._build)

    def _build(self) -> DataSplits:
        gen = torch.Generator().manual_seed(0)

        def part(first: int, count: int) -> tuple[ArrayData, list[str]]:
            n = 30 * count
            x = torch.randn(n, 6, generator=gen)
            y = torch.arange(n) % 3
            return ArrayData(x, y), [f"s{first + i // 30}" for i in range(n)]

        (train, g_train), (valid, g_valid), (test, g_test) = part(0, 12), part(12, 3), part(15, 3)
        groups = {"by": "speaker", "train": g_train, "valid": g_valid, "test": g_test}
        return DataSplits(train, valid, test, 3, (6,), self.name, info={"sample_groups": groups})


def pool_rows(splits: DataSplits) -> set[bytes]:
    return {row.numpy().tobytes() for row in splits.train_full().x}


def test_clients_split_the_pool_by_speaker_with_their_own_validation_part() -> None:
    fed = FederatedData(Speakers(), GroupPartitioner(), num_clients=5, client_valid=0.2)
    splits = Speakers().load()
    groups = splits.info["sample_groups"]["train"] + splits.info["sample_groups"]["valid"]
    assert fed.size() == 5
    seen: list[int] = []
    for cid, (train_idx, valid_idx) in enumerate(fed.parts()):
        assert not set(train_idx) & set(valid_idx)
        assert len(valid_idx) == round(0.2 * (len(train_idx) + len(valid_idx)))
        speakers = {groups[i] for i in np.concatenate([train_idx, valid_idx])}
        assert all(
            len({groups[i] for i in fed.parts()[other][0]} & speakers) == 0 for other in range(5) if other != cid
        )
        seen += [*train_idx, *valid_idx]
        train, valid = fed.client(cid)
        assert len(train) == len(train_idx) and len(valid) == len(valid_idx)
    assert sorted(seen) == list(range(450))  # every train + valid sample, once; test samples on no client
    assert splits.test is not None
    test_rows = {row.numpy().tobytes() for row in splits.test.x}
    client_rows = {row.numpy().tobytes() for cid in range(5) for part in fed.client(cid) for row in part.x}
    assert client_rows == pool_rows(splits) and not client_rows & test_rows


def test_the_full_part_adds_the_validation_samples() -> None:
    fed = FederatedData(Speakers(), DirichletPartitioner(1.0), num_clients=4)
    train, valid = fed.client(2)
    full, _ = fed.client(2, full=True)
    assert len(full) == len(train) + len(valid)


def test_the_description_ships_no_samples() -> None:
    fed = FederatedData(Speakers(), DirichletPartitioner(1.0), num_clients=4)
    fed.parts()
    blob = pickle.dumps(fed)
    assert len(blob) < 2000
    assert not any(row in blob for row in pool_rows(Speakers().load()))


def test_one_client_per_group_and_bad_settings() -> None:
    assert FederatedData(Speakers(), GroupPartitioner(), num_clients=None).size() == 15
    with pytest.raises(ConfigError, match="num_clients"):
        FederatedData(Speakers(), DirichletPartitioner(), num_clients=None)
    with pytest.raises(ConfigError, match="client_valid"):
        FederatedData(Speakers(), GroupPartitioner(), client_valid=1.5)
    with pytest.raises(ConfigError, match="client id"):
        FederatedData(Speakers(), GroupPartitioner(), num_clients=3).client(3)


def test_text_by_movie_names_each_sample_s_movie(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = ["text,label,movie"] + [
        f"review {i} of film {i % 6} good,{'pos' if i % 2 else 'neg'},film{i % 6}" for i in range(60)
    ]
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n")
    data = TextCSV(str(path), group_column="movie", valid_size=0.2, test_size=0.2, min_freq=1)
    splits = data.load()
    groups = splits.info["sample_groups"]
    assert groups["by"] == "movie" and len(groups["train"]) == len(splits.train)
    fed = FederatedData(data, GroupPartitioner(), num_clients=None)
    assert fed.size() == len(set(groups["train"]) | set(groups["valid"]))


def test_a_user_column_names_each_row_s_client(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nasforge.data import CSVDataset

    rows = ["user,height,weight,label"] + [
        f"u{i % 5},{150 + i % 40},{50 + i % 30},{'a' if i % 3 else 'b'}" for i in range(150)
    ]
    path = tmp_path / "table.csv"
    path.write_text("\n".join(rows) + "\n")
    data = CSVDataset(str(path), label="label", group_column="user")
    splits = data.load()
    assert splits.input_shape == (2,)  # the user column names the client; it is not a feature
    groups = splits.info["sample_groups"]
    assert (
        groups["by"] == "user"
        and len(groups["train"]) == len(splits.train)
        and len(groups["valid"]) == len(splits.valid)
    )
    fed = FederatedData(data, GroupPartitioner(), num_clients=None)
    assert fed.size() == 5
    for cid in range(5):  # each client holds one user's rows, and every row of that user
        train_idx, valid_idx = fed.parts()[cid]
        pooled = groups["train"] + groups["valid"]
        users = {pooled[i] for i in [*train_idx, *valid_idx]}
        assert len(users) == 1 and len(train_idx) + len(valid_idx) == pooled.count(users.pop())
    with pytest.raises(ConfigError, match="group_column"):
        CSVDataset(str(path), label="label", group_column="label")
