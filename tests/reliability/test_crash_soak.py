"""Kill the driver at random moments, many times over one experiment: every finished trial must end up in
the store exactly once, unchanged, and the strategy must resume as if nothing had happened."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasforge.storage import SQLStorage
from nasforge.trial import TrialRecord, TrialState

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
MAX_TRIALS = 200
WINDOW = (0.1, 0.8)  # seconds between a driver's start of work and its kill
# a trial sleeps this long per worker, so that one run finishes at most 8 trials however fast the machine:
# 20 runs cannot spend the budget of 200 before the last kill
TRIAL_SLEEP = 0.1


def snapshot(db: Path) -> dict[int, TrialRecord]:
    storage = SQLStorage(str(db))
    try:
        row = storage.get_experiment("soak")
        return {} if row is None else {t.number: t for t in storage.get_trials(row.id)}
    finally:
        storage.close()


def start(db: Path, workers: int) -> subprocess.Popen[bytes]:
    sleep = str(TRIAL_SLEEP * workers)
    cmd = [sys.executable, "-m", "tests.reliability.soak_driver", str(db), str(MAX_TRIALS), str(workers), sleep]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_driver_killed_again_and_again_loses_nothing(tmp_path: Path, workers: int) -> None:
    db = tmp_path / "soak.db"
    rng = random.Random(workers)
    kept: dict[int, TrialRecord] = {}  # every trial seen finished, as it was then
    kills = 0
    while kills < KILLS:
        proc = start(db, workers)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(*WINDOW))  # into the loop: asking, evaluating, writing, telling
        if proc.poll() is not None:  # finished before the kill: the budget is spent
            break
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, no chance to clean up
        proc.wait()
        kills += 1
        for number, record in snapshot(db).items():
            if record.state.finished:
                kept.setdefault(number, record)
    assert kills == KILLS, f"only {kills} kills before the budget was spent; raise MAX_TRIALS"

    final = start(db, workers)
    out, _ = final.communicate(timeout=600)
    assert final.returncode == 0, out.decode()
    trials = snapshot(db)
    assert sorted(trials) == list(range(MAX_TRIALS))  # every number once, none lost, none doubled
    assert all(t.state is TrialState.COMPLETE for t in trials.values())
    for number, record in kept.items():  # a finished trial is never rerun or rewritten
        assert trials[number].metrics == record.metrics
        assert trials[number].finished_at == record.finished_at
    storage = SQLStorage(str(db))
    row = storage.get_experiment("soak")
    assert row is not None and storage.untold_numbers(row.id) == []
    state = dict(row.strategy_state or {})
    storage.close()
    # the strategy heard of every trial exactly once: it asked each, has seen each arch, and its population
    # holds the last results it was told
    assert state["n_asked"] == MAX_TRIALS
    assert set(state["seen"]) == {t.arch.id for t in trials.values()}
    told = sorted(trials.values(), key=lambda t: (t.finished_at, t.number))
    if workers == 1:
        assert [a for a, _ in state["population"]] == [dict(t.arch) for t in told[-8:]]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
