"""Partitions: every sample on exactly one client, sizes as promised, and non-IID-ness that follows alpha."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge.errors import ConfigError, DataError
from nasforge.federated import PARTITIONERS, DirichletPartitioner, GroupPartitioner, IIDPartitioner

LABELS = np.repeat(np.arange(10), 60)  # 600 samples, 10 balanced classes


def assert_disjoint_cover(parts: list[np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert len(joined) == n and len(np.unique(joined)) == n  # disjoint, and together every sample


def label_skew(parts: list[np.ndarray], labels: np.ndarray) -> float:
    """The mean total-variation distance between a client's class mix and the whole pool's (0: IID)."""
    overall = np.bincount(labels, minlength=10) / len(labels)
    return float(np.mean([0.5 * np.abs(np.bincount(labels[p], minlength=10) / len(p) - overall).sum() for p in parts]))


@pytest.mark.parametrize("name", ["dirichlet", "iid"])
def test_every_sample_lands_on_exactly_one_client(name: str) -> None:
    parts = PARTITIONERS.create(name).partition(LABELS, None, 8, seed=0)
    assert len(parts) == 8
    assert_disjoint_cover(parts, len(LABELS))
    assert all(np.all(np.diff(p) > 0) for p in parts)  # sorted


def test_iid_parts_are_equal_in_size_and_mix() -> None:
    parts = IIDPartitioner().partition(LABELS, None, 6, seed=0)
    assert {len(p) for p in parts} == {100}
    assert label_skew(parts, LABELS) < 0.15


def test_a_smaller_alpha_gives_more_skewed_clients() -> None:
    skew = {
        alpha: np.mean(
            [label_skew(DirichletPartitioner(alpha).partition(LABELS, None, 6, seed=s), LABELS) for s in range(3)]
        )
        for alpha in (0.1, 1.0, 100.0)
    }
    assert skew[0.1] > skew[1.0] > skew[100.0]
    assert skew[0.1] > 0.5 and skew[100.0] < 0.15


def test_dirichlet_gives_each_client_its_minimum_and_is_fixed_by_the_seed() -> None:
    parts = DirichletPartitioner(alpha=0.1, min_size=20).partition(LABELS, None, 10, seed=1)
    assert min(len(p) for p in parts) >= 20
    again = DirichletPartitioner(alpha=0.1, min_size=20).partition(LABELS, None, 10, seed=1)
    other = DirichletPartitioner(alpha=0.1, min_size=20).partition(LABELS, None, 10, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other, strict=True))


def test_groups_stay_whole_and_clients_are_balanced() -> None:
    groups = [f"speaker{i % 12}" for i in range(len(LABELS))]
    parts = GroupPartitioner().partition(LABELS, groups, 4, seed=0)
    assert_disjoint_cover(parts, len(LABELS))
    owner = {g: {c for c, p in enumerate(parts) for i in p if groups[i] == g} for g in set(groups)}
    assert all(len(clients) == 1 for clients in owner.values())  # no speaker on two clients
    assert {len(p) for p in parts} == {150}  # 12 groups of 50 over 4 clients
    one_each = GroupPartitioner().partition(LABELS, groups, None, seed=0)
    assert len(one_each) == 12 and {len(p) for p in one_each} == {50}


def test_bad_settings_say_what_must_hold() -> None:
    with pytest.raises(ConfigError, match="alpha"):
        DirichletPartitioner(alpha=0)
    with pytest.raises(ConfigError, match="num_clients"):
        IIDPartitioner().partition(LABELS, None, 1, seed=0)
    with pytest.raises(DataError, match="fewer clients"):
        DirichletPartitioner(min_size=100).partition(LABELS, None, 7, seed=0)
    with pytest.raises(DataError, match="sample_groups"):
        GroupPartitioner().partition(LABELS, None, 4, seed=0)
    with pytest.raises(DataError, match="at most 3 clients"):
        GroupPartitioner().partition(LABELS, ["a", "b", "c"] * 200, 4, seed=0)
