"""Which driver runs an experiment's trials, and whether it is still alive.

A driver is one run of an experiment's loop (`TrialLoop`): every trial it starts is stamped with its
`new_driver_id()` and a heartbeat it refreshes while the trial runs. Several drivers, in one process or on many
machines, may run one experiment at once (they take turns at its strategy through the storage). A running
trial is taken over (claimed) and run again by another driver when its driver is known to be dead (on this
host: a process id that no longer exists, or a run of this process that has ended) or when its heartbeat is
older than the `stale_after` grace period (a driver on another machine that died). Trials with fresh heartbeats
from a live driver are never touched.
"""

from __future__ import annotations

import os
import socket
import uuid

from nasforge.errors import ConfigError

_LIVE: set[str] = set()  # the drivers of this process that have not ended


def new_driver_id() -> str:
    """A new driver's `host:pid:token` (the token tells two drivers of one process, or a reused process id,
    apart); it counts as alive until `end_driver`."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    _LIVE.add(owner)
    return owner


def end_driver(owner: str) -> None:
    """`owner`, a driver of this process, has ended: trials it left running are anyone's to take over."""
    _LIVE.discard(owner)


def is_dead(owner: str) -> bool:
    """True when `owner` is a driver on this host whose process is gone (a crash, a SIGKILL), or a driver of this
    process that has ended."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    if int(pid_text) == os.getpid():
        return owner not in _LIVE
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return _is_zombie(int(pid_text))


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet still answers `kill(pid, 0)`."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def check_timing(trial_timeout: object, heartbeat_interval: object, stale_after: object) -> None:
    """The driver's clock settings, in seconds: a `trial_timeout` > 0 or None, a `heartbeat_interval` > 0 and a
    `stale_after` > 0 longer than the heartbeat interval (else live trials would look dead between beats)."""
    for key, value, allow_none in (
        ("trial_timeout", trial_timeout, True),
        ("heartbeat_interval", heartbeat_interval, False),
        ("stale_after", stale_after, False),
    ):
        if (value is None and not allow_none) or (
            value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0)
        ):
            raise ConfigError(
                f"`{key}` must be a number of seconds > 0{' or None' if allow_none else ''}, but got {value!r}."
            )
    if stale_after <= heartbeat_interval:  # type: ignore[operator]
        raise ConfigError(
            f"`stale_after` ({stale_after:g} s) must be longer than `heartbeat_interval` ({heartbeat_interval:g} s), "
            "or live trials would look dead between two heartbeats; raise stale_after."
        )
