"""Several processes writing into one experiment at once: every trial lands exactly once, numbered without
gaps, on PostgreSQL (the cluster storage) and on an SQLite file."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import Counter
from pathlib import Path

import pytest

from nasforge.space import Arch
from nasforge.storage import SQLStorage
from nasforge.trial import TrialRecord, TrialState

WRITERS = 4


def write(url: str, writer: int, n: int) -> None:
    """One driver's worth of writes: append a running trial, report on it, heartbeat it, finish it."""
    storage = SQLStorage(url)
    exp = storage.get_experiment("shared")
    assert exp is not None
    owner = f"writer-{writer}"
    for i in range(n):
        record = TrialRecord(-1, Arch({"writer": writer, "i": i}), state=TrialState.RUNNING, started_at=time.time())
        record = storage.append_trial(exp.id, record, {"writer": writer, "i": i}, owner)
        storage.add_report(exp.id, record.number, 1, {"score": float(i)})
        if i % 10 == 0:
            storage.heartbeat(exp.id, [record.number], owner, time.time())
        storage.update_trial(exp.id, record.with_(state=TrialState.COMPLETE, metrics={"score": float(i)}))
        storage.mark_told(exp.id, [record.number], {"writer": writer, "i": i})
    storage.close()


def hammer(url: str, n: int) -> None:
    SQLStorage(url).create_experiment("shared", {})
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=write, args=(url, w, n)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
        assert p.exitcode == 0, f"writer {p.name} exited with {p.exitcode}"
    storage = SQLStorage(url)
    exp = storage.get_experiment("shared")
    assert exp is not None
    trials = storage.get_trials(exp.id)
    assert [t.number for t in trials] == list(range(WRITERS * n))  # no gap, no duplicate number
    written = Counter((t.arch["writer"], t.arch["i"]) for t in trials)
    assert set(written) == {(w, i) for w in range(WRITERS) for i in range(n)} and set(written.values()) == {1}
    assert all(t.state is TrialState.COMPLETE and t.metrics == {"score": float(t.arch["i"])} for t in trials)
    assert storage.untold_numbers(exp.id) == []
    for t in trials[:: max(1, n // 10)]:
        assert storage.get_reports(exp.id, t.number) == [(1, {"score": float(t.arch["i"])})]


@pytest.mark.slow
def test_four_processes_write_1000_trials_each_into_postgresql(postgres_url: str) -> None:
    hammer(postgres_url, 1000)


@pytest.mark.slow
def test_four_processes_write_into_one_sqlite_file(tmp_path: Path) -> None:
    hammer(str(tmp_path / "shared.db"), 250)
