"""SIGKILL a real `nasforge run` mid-search, rerun it, and check nothing was lost or repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasforge.storage import SQLStorage
from nasforge.trial import TrialState

MAX_TRIALS = 10
ARGS = [
    "run",
    "digits",
    "--max-trials",
    str(MAX_TRIALS),
    "--no-export",
    "--quiet",
    "--set",
    "evaluator.epochs=2",
    "--set",
    "dataset.valid_size=0.2",
]


def _hear_ctrl_c() -> None:
    """Run in the child before exec: a test run started in the background (`cmd &` in a script) ignores
    SIGINT, and a Python started so never raises KeyboardInterrupt; a terminal's Ctrl-C reaches a real user's."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finished(db: Path) -> list[int]:
    if not db.exists():
        return []
    storage = SQLStorage(str(db))
    try:
        row = storage.get_experiment("digits-cnn")
        if row is None:
            return []
        return [t.number for t in storage.get_trials(row.id) if t.state.finished]
    except Exception:
        return []  # the database may be mid-creation
    finally:
        storage.close()


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigkill_mid_search_then_resume(tmp_path: Path, workers: str) -> None:
    db = tmp_path / "nasforge.db"
    cmd = [sys.executable, "-m", "nasforge", *ARGS, "--workers", workers]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 240
    while len(finished(db)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, no chance to clean up
    proc.wait()
    before = {t.number: t for t in _trials(db) if t.state.finished}
    assert 3 <= len(before) < MAX_TRIALS

    rerun = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = _trials(db)
    numbers = [t.number for t in after]
    assert numbers == list(range(MAX_TRIALS))  # exactly once each, up to the budget
    assert all(t.state is TrialState.COMPLETE for t in after)
    for number, record in before.items():  # finished trials kept as they were, not rerun
        assert after[number].metrics == record.metrics
        assert after[number].finished_at == record.finished_at


def _trials(db: Path):
    storage = SQLStorage(str(db))
    row = storage.get_experiment("digits-cnn")
    assert row is not None
    trials = storage.get_trials(row.id)
    storage.close()
    return trials


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_a_rerun_resumes(tmp_path: Path) -> None:
    db = tmp_path / "nasforge.db"
    trials = MAX_TRIALS
    cmd = [sys.executable, "-m", "nasforge", *ARGS, "--workers", "2"]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_hear_ctrl_c,
    )
    deadline = time.monotonic() + 240
    while len(finished(db)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the search ended before it could be interrupted; give it more trials"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Run the same command again to resume" in err
    assert "Traceback" not in err
    rerun = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert [t.number for t in _trials(db)] == list(range(trials))
