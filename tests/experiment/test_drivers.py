"""Which driver runs which trial: trials left by a dead driver (or one whose heartbeat went stale) are taken
over and rerun; a live driver's trials are never touched, and a strategy that cannot be shared is never run
beside one; a trial past its timeout fails alone."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasforge.errors import ConfigError, StorageError
from nasforge.experiment import Experiment
from nasforge.experiment.driver import end_driver, is_dead, new_driver_id
from nasforge.storage import SQLStorage
from nasforge.strategies import RandomSearch
from nasforge.trial import TrialRecord, TrialState
from tests.toys import SlowEvaluator, ToyEvaluator, ToySpace


def experiment(storage: SQLStorage, **kwargs: object) -> Experiment:
    evaluator = kwargs.pop("evaluator", ToyEvaluator())
    return Experiment("e", ToySpace(), RandomSearch(), evaluator, storage=storage, objective="score", **kwargs)  # type: ignore[arg-type]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def leave_running(storage: SQLStorage, owner: str, beat: float) -> int:
    """A trial left RUNNING by `owner`, last heard of at `beat`."""
    exp = experiment(storage)
    arch = ToySpace().validate({"x": 1, "y": 1, "op": "b", "extra": "none"})
    record = storage.append_trial(exp.id, TrialRecord(-1, arch, state=TrialState.RUNNING), {}, owner)
    storage.heartbeat(exp.id, [record.number], owner, beat)
    return record.number


def test_driver_ids_and_death() -> None:
    me, other = new_driver_id(), new_driver_id()
    assert me.startswith(f"{socket.gethostname()}:") and not is_dead(me) and me != other
    end_driver(other)  # a run of this process that ended: its trials are anyone's
    assert is_dead(other) and not is_dead(me)
    end_driver(me)
    assert is_dead(f"{socket.gethostname()}:{dead_pid()}:abcd1234")
    assert not is_dead(f"elsewhere.example:{dead_pid()}:abcd1234")  # another host: only its heartbeat tells


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_dead_drivers_trials_are_rerun_at_once(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else str(tmp_path / "e.db")
    storage = SQLStorage(url)
    left = leave_running(storage, f"{socket.gethostname()}:{dead_pid()}:abcd1234", time.time())
    exp = experiment(storage).run(max_trials=4)
    trials = {t.number: t for t in exp.trials}
    assert trials[left].state is TrialState.COMPLETE and len(trials) == 4
    assert set(storage.running_owners(exp.id)) == set()


def test_a_live_drivers_trials_are_left_alone(tmp_path: Path) -> None:
    storage = SQLStorage(str(tmp_path / "e.db"))
    other = f"elsewhere.example:{4242}:abcd1234"
    left = leave_running(storage, other, time.time() - 5)
    exp = experiment(storage).run(max_trials=3)  # runs beside it, sharing the strategy
    states = {t.number: t.state for t in exp.trials}
    assert states == {left: TrialState.RUNNING, 1: TrialState.COMPLETE, 2: TrialState.COMPLETE}
    assert storage.running_owners(exp.id).keys() == {other}
    assert storage.get_experiment("e").status == "running"  # type: ignore[union-attr]  # the other still runs
    # once its heartbeat is older than stale_after, the trial is taken over
    exp = experiment(storage, stale_after=3.0, heartbeat_interval=1.0).run(max_trials=3)
    assert {t.number: t.state for t in exp.trials}[left] is TrialState.COMPLETE
    assert storage.get_experiment("e").status == "finished"  # type: ignore[union-attr]


def test_a_strategy_that_cannot_be_shared_is_not_run_beside_a_live_driver(tmp_path: Path) -> None:
    storage = SQLStorage(str(tmp_path / "e.db"))
    other = f"elsewhere.example:{4242}:abcd1234"
    left = leave_running(storage, other, time.time() - 5)
    lone = RandomSearch()
    lone.cooperative = False  # as a one-shot strategy, which trains its supernet in the driver
    exp = Experiment("e", ToySpace(), lone, ToyEvaluator(), storage=storage, objective="score")
    with pytest.raises(StorageError, match=r"running under another driver \(elsewhere.example:4242:abcd1234"):
        exp.run(max_trials=3)
    assert [t.number for t in storage.get_trials(1)] == [left]  # nothing written


def test_running_trials_are_stamped_alive(tmp_path: Path) -> None:
    storage = SQLStorage(str(tmp_path / "e.db"))
    beats: list[dict] = []

    class Watch:
        def on_run_start(self, exp: Experiment) -> None: ...
        def on_trial_start(self, exp: Experiment, record: TrialRecord) -> None:
            beats.append(storage.running_owners(exp.id))

        def on_report(self, exp: Experiment, number: int, step: int, metrics: object) -> None: ...
        def on_trial_end(self, exp: Experiment, record: TrialRecord) -> None: ...
        def on_run_end(self, exp: Experiment) -> None: ...

    exp = experiment(storage, evaluator=ToyEvaluator(sleep=0.3), heartbeat_interval=0.2, stale_after=1.0)
    exp.run(max_trials=3, callbacks=[Watch()])  # type: ignore[list-item]
    assert exp.last_run is not None and all(set(b) == {exp.last_run.me} for b in beats)
    assert storage.running_owners(exp.id) == {}


def test_a_trial_past_its_timeout_fails_and_the_search_goes_on(tmp_path: Path) -> None:
    exp = experiment(SQLStorage(str(tmp_path / "e.db")), evaluator=SlowEvaluator(30.0), trial_timeout=0.2)
    exp.run(max_trials=2)
    assert [t.state for t in exp.trials] == [TrialState.FAILED] * 2
    assert all((t.error or "").startswith("Timeout: the trial ran longer than its limit of 0.2 s") for t in exp.trials)
    assert exp.storage.get_experiment("e").config["trial_timeout"] == 0.2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trial_timeout": 0}, "`trial_timeout` must be a number of seconds > 0 or None"),
        ({"trial_timeout": "1h"}, "`trial_timeout`"),
        ({"heartbeat_interval": None}, "`heartbeat_interval` must be a number of seconds > 0, but got None"),
        ({"stale_after": 5, "heartbeat_interval": 10}, "must be longer than `heartbeat_interval`"),
    ],
)
def test_bad_timing_settings(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        experiment(SQLStorage(str(tmp_path / "e.db")), **kwargs)


def test_a_worker_killed_mid_search_costs_nothing(tmp_path: Path) -> None:
    """SIGKILL a pool worker in the middle of a trial: the trial reruns and the experiment completes."""
    import os
    import signal

    from nasforge.executors import LocalPoolExecutor

    killed: list[int] = []

    class KillOnce:
        def on_run_start(self, exp: Experiment) -> None: ...
        def on_trial_start(self, exp: Experiment, record: TrialRecord) -> None: ...
        def on_report(self, exp: Experiment, number: int, step: int, metrics: dict) -> None:
            if number == 1 and not killed:
                killed.append(int(metrics["pid"]))
                os.kill(killed[0], signal.SIGKILL)

        def on_trial_end(self, exp: Experiment, record: TrialRecord) -> None: ...
        def on_run_end(self, exp: Experiment) -> None: ...

    pool = LocalPoolExecutor(n_workers=2, threads_per_worker=1)
    exp = experiment(SQLStorage(str(tmp_path / "e.db")), evaluator=SlowEvaluator(0.5), executor=pool)
    exp.run(max_trials=6, callbacks=[KillOnce()])  # type: ignore[list-item]
    assert killed and [t.state for t in exp.trials] == [TrialState.COMPLETE] * 6
    assert exp.trials[1].info["attempts"] == 2 and exp.trials[1].metrics["pid"] != killed[0]
