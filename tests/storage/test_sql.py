"""The storage conformance suite, run against an SQLite file, in-memory SQLite, PostgreSQL (a throwaway
server on loopback, tests/postgres.py) and InMemoryStorage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nasforge.errors import StorageError
from nasforge.space import Arch
from nasforge.storage import BaseStorage, InMemoryStorage, SQLStorage
from nasforge.trial import TrialRecord, TrialState


@pytest.fixture(params=["file", "memory", "postgres", "python"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BaseStorage:
    if request.param == "python":
        return InMemoryStorage()
    if request.param == "postgres":
        return SQLStorage(request.getfixturevalue("postgres_url"))
    url = str(tmp_path / "s.db") if request.param == "file" else "sqlite:///:memory:"
    return SQLStorage(url)


def test_experiments(storage: BaseStorage) -> None:
    row = storage.create_experiment("a", {"k": 1})
    assert row.name == "a" and row.config == {"k": 1} and row.strategy_state is None
    with pytest.raises(StorageError, match="already exists"):
        storage.create_experiment("a", {})
    storage.create_experiment("b", {})
    assert [r.name for r in storage.list_experiments()] == ["a", "b"]
    storage.set_status(row.id, "running")
    assert storage.get_experiment("a").status == "running"  # type: ignore[union-attr]
    storage.delete_experiment("a")
    assert storage.get_experiment("a") is None
    with pytest.raises(StorageError, match="No experiment"):
        storage.delete_experiment("a")


def test_trial_lifecycle_and_told_flags(storage: BaseStorage) -> None:
    exp = storage.create_experiment("e", {}).id
    arch = Arch({"x": 1, "y": (0, 2)})
    running = TrialRecord(0, arch, 2.0, TrialState.RUNNING, info={"origin": "random"}, started_at=time.time())
    storage.add_trial(exp, running, {"n": 1})
    assert storage.get_experiment("e").strategy_state == {"n": 1}  # type: ignore[union-attr]
    done = running.with_(state=TrialState.COMPLETE, metrics={"acc": 0.5}, finished_at=time.time())
    storage.update_trial(exp, done)
    assert storage.untold_numbers(exp) == [0]
    storage.mark_told(exp, [0], {"n": 2})
    assert storage.untold_numbers(exp) == []
    assert storage.get_experiment("e").strategy_state == {"n": 2}  # type: ignore[union-attr]
    [back] = storage.get_trials(exp)
    assert back == done
    assert storage.get_trials(exp, [TrialState.FAILED]) == []
    with pytest.raises(StorageError, match="not in the storage"):
        storage.update_trial(exp, done.with_(number=7))


def test_reports(storage: BaseStorage) -> None:
    exp = storage.create_experiment("e", {}).id
    storage.add_trial(exp, TrialRecord(0, Arch({"x": 1}), state=TrialState.RUNNING), {})
    for step in (1, 2, 3):
        storage.add_report(exp, 0, step, {"acc": step / 10})
    assert storage.get_reports(exp, 0) == [(1, {"acc": 0.1}), (2, {"acc": 0.2}), (3, {"acc": 0.3})]


def test_trial_numbers_are_unique(storage: BaseStorage) -> None:
    exp = storage.create_experiment("e", {}).id
    storage.add_trial(exp, TrialRecord(0, Arch({"x": 1})), {})
    with pytest.raises(Exception):  # noqa: B017 - the database's own integrity error, or StorageError
        storage.add_trial(exp, TrialRecord(0, Arch({"x": 2})), {})


def test_a_file_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "x.db")
    first = SQLStorage(path)
    exp = first.create_experiment("e", {"a": [1, 2]}).id
    first.add_trial(exp, TrialRecord(0, Arch({"x": 1}), state=TrialState.COMPLETE, metrics={"m": 1.0}), {"s": 1})
    first.close()
    second = SQLStorage(path)
    assert second.get_experiment("e").config == {"a": [1, 2]}  # type: ignore[union-attr]
    assert second.get_trials(exp)[0].metrics == {"m": 1.0}


def test_bad_locations_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="folder of the SQLite file"):
        SQLStorage(str(tmp_path / "missing" / "x.db")).list_experiments()
    with pytest.raises(StorageError, match="Cannot open storage"):
        SQLStorage("nosuchdb://x").list_experiments()


def test_append_numbers_trials_in_order(storage: BaseStorage) -> None:
    exp = storage.create_experiment("e", {}).id
    other = storage.create_experiment("f", {}).id
    first = storage.append_trial(exp, TrialRecord(-1, Arch({"x": 1}), state=TrialState.RUNNING), {"s": 1}, "me")
    second = storage.append_trial(exp, TrialRecord(-1, Arch({"x": 2}), state=TrialState.RUNNING), {"s": 2}, "me")
    elsewhere = storage.append_trial(other, TrialRecord(-1, Arch({"x": 3})), {})
    assert (first.number, second.number, elsewhere.number) == (0, 1, 0)
    assert [t.arch["x"] for t in storage.get_trials(exp)] == [1, 2]
    assert storage.get_experiment("e").strategy_state == {"s": 2}  # type: ignore[union-attr]


def test_claims_take_only_unowned_own_dead_or_stale_trials(storage: BaseStorage) -> None:
    exp = storage.create_experiment("e", {}).id
    now = time.time()

    def add(owner: str | None, state: TrialState = TrialState.RUNNING) -> int:
        return storage.append_trial(exp, TrialRecord(-1, Arch({"x": 1}), state=state), {}, owner).number

    unowned, mine, dead, live, stale = add(None), add("me"), add("dead"), add("live"), add("stale")
    add("me", TrialState.COMPLETE)  # finished: never claimed
    storage.heartbeat(exp, [stale], "stale", now - 600)
    storage.heartbeat(exp, [live], "someone-else", now - 600)  # not its owner: ignored
    owners = storage.running_owners(exp)
    assert set(owners) == {None, "me", "dead", "live", "stale"}
    assert owners["stale"] == pytest.approx(now - 600) and owners["live"] >= now - 5  # type: ignore[operator]
    claimed = storage.claim_trials(exp, "me", stale_before=now - 60, dead_owners=["dead"])
    assert claimed == [unowned, mine, dead, stale]
    assert storage.claim_trials(exp, "other", stale_before=now - 60) == []  # all fresh and owned now
    assert set(storage.running_owners(exp)) == {"me", "live"}
    assert live not in claimed


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_file_is_migrated(tmp_path: Path, version: int) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    SQLStorage(str(path)).create_experiment("e", {"a": 1})  # then turn it back into an older file
    with sqlite3.connect(path) as db:
        for column in ("state_version", "lease_owner", "lease_until"):
            db.execute(f"ALTER TABLE experiments DROP COLUMN {column}")
        if version < 2:
            db.execute("ALTER TABLE trials DROP COLUMN heartbeat")
            db.execute("ALTER TABLE trials DROP COLUMN owner")
        db.execute(f"UPDATE nasforge_meta SET value = '{version}' WHERE key = 'schema_version'")
        db.execute(
            "INSERT INTO trials (experiment_id, number, arch_id, arch, state, metrics, info, told) "
            "VALUES (1, 0, 'a', '{\"x\": 1}', 'RUNNING', '{}', '{}', 0)"
        )
    storage = SQLStorage(str(path))
    assert storage.claim_trials(1, "me", stale_before=time.time()) == [0]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM nasforge_meta").fetchone() == ("3",)
    assert storage.begin_turn(1, "me", time.time() + 60).granted
    assert storage.get_experiment("e").state_version == 0  # type: ignore[union-attr]


def test_drivers_take_turns_at_the_strategy(storage: BaseStorage) -> None:
    exp = storage.create_experiment("e", {}).id
    now = time.time()
    first = storage.begin_turn(exp, "a", now + 60)
    assert (first.granted, first.holder, first.version, first.n_trials) == (True, "a", 0, 0)
    assert storage.begin_turn(exp, "a", now + 60).granted  # its own turn still
    refused = storage.begin_turn(exp, "b", now + 60)
    assert (refused.granted, refused.holder) == (False, "a")
    storage.append_trial(exp, TrialRecord(-1, Arch({"x": 1})), {"s": 1}, "a")
    storage.end_turn(exp, "b")  # not b's turn: nothing happens
    assert not storage.begin_turn(exp, "b", now + 60).granted
    storage.end_turn(exp, "a")
    second = storage.begin_turn(exp, "b", now + 60)
    assert (second.granted, second.version, second.n_trials) == (True, 1, 1)  # a wrote the state once
    assert storage.begin_turn(exp, "c", now + 60, dead="b").granted  # b died in its turn
    assert storage.begin_turn(exp, "d", now - 1).granted is False  # c's turn has not lapsed...
    storage.begin_turn(exp, "c", now - 1)  # ...until it does
    assert storage.begin_turn(exp, "d", now + 60).granted
