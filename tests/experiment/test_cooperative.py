"""Several drivers on one experiment cooperate: they take turns at its strategy through the storage, share its
trials (each runs some, no number twice, no finished trial lost) and take over the trials of a driver that dies.
Drivers run as threads of this process (one storage object each, as separate processes would have) and as
separate processes (`tests/experiment/coop_driver.py`), on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from nasforge.experiment import Experiment
from nasforge.oneshot import ONESHOT_NAMES
from nasforge.storage import SQLStorage
from nasforge.strategies import STRATEGIES, BaseStrategy, RandomSearch
from nasforge.trial import Proposal, TrialRecord, TrialState
from tests.experiment.coop_driver import Finished
from tests.toys import ToyEvaluator, ToySpace

ROOT = Path(__file__).resolve().parents[2]
MULTI_TRIAL = [
    pytest.param(name, marks=pytest.mark.slow) if name == "bananas" else name  # its ensemble is slow to refit
    for name in STRATEGIES.names()
    if name not in ONESHOT_NAMES
]


def check_shared(storage: SQLStorage, n: int, ran: list[list[int]]) -> None:
    """Every one of the `n` trials exists once and finished; every driver ran some; none was told twice or
    never; the strategy's stored state is its last."""
    row = storage.get_experiment("shared")
    assert row is not None
    trials = storage.get_trials(row.id)
    assert [t.number for t in trials] == list(range(n))
    assert all(t.state is TrialState.COMPLETE for t in trials), [t.state for t in trials]
    assert storage.untold_numbers(row.id) == []
    assert all(ran), f"a driver ran no trial: {ran}"
    assert sorted(x for numbers in ran for x in numbers) == list(range(n))  # each trial finished by one driver
    assert row.status == "finished"


def drive_in_threads(url: str, n: int, make_strategy: Callable[[], BaseStrategy], sleep: float) -> list[list[int]]:
    """Two drivers in threads of this process (a storage object each) run experiment "shared" to `n` trials;
    the trial numbers each finished. A driver's exception fails the caller."""
    ran: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def drive(i: int) -> None:
        finished = Finished()
        exp = Experiment(
            "shared",
            ToySpace(),
            make_strategy(),
            ToyEvaluator(sleep=sleep),
            storage=SQLStorage(url),
            objective="max:score",
            seed=3,
        )
        try:
            exp.run(max_trials=n, callbacks=[finished])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        ran[i] = finished.numbers

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return ran


@pytest.mark.parametrize("strategy", MULTI_TRIAL)
def test_drivers_in_threads_share_the_trials_and_the_strategy(tmp_path: Path, strategy: str) -> None:
    url, n = str(tmp_path / "e.db"), 14
    kwargs = {"population_size": 6, "sample_size": 3} if strategy == "evolution" else {}
    ran = drive_in_threads(url, n, lambda: STRATEGIES.create(strategy, **kwargs), sleep=0.02)
    check_shared(SQLStorage(url), n, ran)


def start(url: str, strategy: str, n: int, sleep: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.experiment.coop_driver", url, strategy, str(n), str(sleep)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def numbers_ran(proc: subprocess.Popen[str]) -> list[int]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    line = [x for x in out.splitlines() if x.startswith("ran")][-1]
    return [int(x) for x in line.split()[1:]]


@pytest.mark.slow
def test_two_driver_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    url, n = str(tmp_path / "e.db"), 16
    procs = [start(url, "evolution", n, 0.15) for _ in range(2)]  # started at once: both create or join
    check_shared(SQLStorage(url), n, [numbers_ran(p) for p in procs])


@pytest.mark.slow
def test_three_driver_processes_on_postgresql(postgres_url: str) -> None:
    n = 18
    procs = [start(postgres_url, "random", n, 0.15) for _ in range(3)]
    check_shared(SQLStorage(postgres_url), n, [numbers_ran(p) for p in procs])


@pytest.mark.slow
def test_a_driver_killed_mid_run_leaves_its_trials_to_the_others(tmp_path: Path) -> None:
    """SIGKILL one of two drivers while it runs a trial: the other takes that trial over (the killed driver's
    process is gone, which its next heartbeat sees) and the search ends with every trial finished once."""
    url, n = str(tmp_path / "e.db"), 12
    victim = start(url, "random", n, 1.0)
    storage = SQLStorage(url)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait for the victim's first trial to run
        row = storage.get_experiment("shared") if storage.exists() else None
        if row is not None and storage.get_trials(row.id, [TrialState.RUNNING]):
            break
        time.sleep(0.1)
    else:
        victim.kill()
        pytest.fail("the first driver never started a trial")
    survivor = start(url, "random", n, 0.1)
    time.sleep(1.5)  # both running now
    row = storage.get_experiment("shared")
    assert row is not None
    left = {t.number for t in storage.get_trials(row.id, [TrialState.RUNNING])}
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    survivor_ran = numbers_ran(survivor)
    trials = storage.get_trials(row.id)
    assert [t.number for t in trials] == list(range(n))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert left and left <= {t.number for t in trials}
    assert storage.running_owners(row.id) == {}
    assert len(survivor_ran) >= n // 2  # it ran its own and took over the victim's


class Rounds(RandomSearch):
    """Proposes archs in rounds of `size`, the next round only once every arch of this one has been told: a
    strategy that waits on running trials (as a synchronous bracket does), whichever driver runs them."""

    size = 2

    def _ask(self) -> Proposal | None:
        if self._asked == self._told + self.size or (self._asked % self.size == 0 and self._asked > self._told):
            return None
        self._asked += 1
        return super()._ask()

    def _tell(self, record: TrialRecord) -> None:
        self._told += 1

    def _setup(self) -> None:
        self._asked = self._told = 0

    def _state_dict(self) -> dict[str, Any]:
        return {**super()._state_dict(), "asked": self._asked, "told": self._told}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        super()._load_state_dict(state)
        self._asked, self._told = int(state["asked"]), int(state["told"])


def test_a_driver_whose_strategy_waits_on_another_drivers_trial_waits_too(tmp_path: Path) -> None:
    """A driver with nothing to propose until a trial another driver runs is told waits for it instead of
    ending its run: every round of two trials is shared by both drivers (one worker each), not left to the
    driver that happened to run the last trial of the round before."""
    url, n = str(tmp_path / "e.db"), 8
    ran = drive_in_threads(url, n, Rounds, sleep=0.3)
    check_shared(SQLStorage(url), n, ran)
    assert min(len(r) for r in ran) >= 3, ran  # ending at its first wait, a driver ran one or two
