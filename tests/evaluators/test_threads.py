"""`ThreadTuner` keeps the faster thread count, probing both now and again, and leaves the process as it was."""

from __future__ import annotations

import time

import pytest
import torch

from nasforge.evaluators.threads import ThreadTuner


@pytest.fixture
def two_threads():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def run(tuner: ThreadTuner, steps: int, cost: dict[int, float]) -> list[int]:
    """`steps` fake steps that take `cost[threads]` seconds; the thread count of each."""
    used = []
    for _ in range(steps):
        tuner.before_step()
        used.append(torch.get_num_threads())
        time.sleep(cost[torch.get_num_threads()])
        tuner.after_step()
    return used


def test_it_keeps_one_thread_when_two_stall(two_threads: None) -> None:
    tuner = ThreadTuner(every=20, probe=2, warmup=1)
    used = run(tuner, 25, {2: 0.02, 1: 0.002})
    assert used[:3] == [2, 2, 2] and used[3:5] == [1, 1]  # warm-up, then each setting is probed
    assert set(used[5:21]) == {1} and used[21:23] == [2, 2]  # the faster runs the round; then a new probe
    tuner.restore()
    assert torch.get_num_threads() == 2 and tuner.most_used == 1


def test_it_keeps_the_process_threads_when_they_are_faster(two_threads: None) -> None:
    tuner = ThreadTuner(every=20, probe=2, warmup=1)
    used = run(tuner, 12, {2: 0.002, 1: 0.02})
    assert set(used[5:]) == {2} and tuner.most_used == 2


def test_a_single_threaded_process_is_left_alone() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tuner = ThreadTuner()
        assert not tuner.active and run(tuner, 3, {1: 0.0}) == [1, 1, 1]
    finally:
        torch.set_num_threads(before)
