"""`ThreadTuner`: train with the torch thread count that is fastest now, not the one that was fastest once.

On a machine shared with other work, a process running torch with as many threads as there are cores can
stall for seconds at a time: its OpenMP threads wait for each other while another process holds a core
(measured on this project's 2-core machines: a retrain that took 3 s a step with 2 threads beside a test
run, where its trials took a tenth of that with 1). A time-budgeted run cannot afford that, so it times a
few steps with its threads and with one, now and again, and keeps the faster.
"""

from __future__ import annotations

import time
from collections import Counter

import torch


class ThreadTuner:
    """Before each training step `before_step()`, after it `after_step()`; `restore()` at the end.

    Every `every` steps (after the first `warmup`, which pay for allocation), `probe` steps run with the
    process's thread count and `probe` with one thread; the one with the lower median step time runs the
    rest of the round. A process with one thread has nothing to choose and is left alone.
    """

    def __init__(self, every: int = 200, probe: int = 4, warmup: int = 3) -> None:
        self.full = torch.get_num_threads()
        self.every, self.probe, self.warmup = every, probe, warmup
        self.choice = self.full
        self._step = 0
        self._times: dict[int, list[float]] = {}
        self._started = 0.0
        self._used: Counter[int] = Counter()

    @property
    def active(self) -> bool:
        return self.full > 1

    def _setting(self) -> int:
        if self._step < self.warmup:
            return self.full
        phase = (self._step - self.warmup) % self.every
        if phase < self.probe:
            return self.full
        if phase < 2 * self.probe:
            return 1
        return self.choice

    def before_step(self) -> None:
        if not self.active:
            return
        threads = self._setting()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        self._started = time.perf_counter()

    def after_step(self) -> None:
        if not self.active:
            return
        seconds = time.perf_counter() - self._started
        threads = torch.get_num_threads()
        self._used[threads] += 1
        if self._step >= self.warmup:
            phase = (self._step - self.warmup) % self.every
            if phase < 2 * self.probe:
                self._times.setdefault(threads, []).append(seconds)
            if phase == 2 * self.probe - 1:  # both probes in: keep the faster for the rest of the round
                self.choice = min(self._times, key=lambda t: sorted(self._times[t])[len(self._times[t]) // 2])
                self._times = {}
        self._step += 1

    @property
    def settled_after(self) -> int:
        """Steps after which the first choice is made (warm-up and both probes): timings from there on show the
        speed the run will mostly have."""
        return self.warmup + 2 * self.probe

    @property
    def most_used(self) -> int:
        """The thread count most steps ran with (the process's own before any step)."""
        return self._used.most_common(1)[0][0] if self._used else self.full

    def restore(self) -> None:
        if self.active and torch.get_num_threads() != self.full:
            torch.set_num_threads(self.full)
