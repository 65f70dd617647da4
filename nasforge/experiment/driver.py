"""Which driver process runs an experiment's trials, and whether it is still alive.

Every trial a driver starts is stamped with its `driver_id()` and a heartbeat it refreshes while the trial
runs. When an experiment is resumed, a running trial is taken over (claimed) and run again when its driver is
known to be dead (the same host, a process id that no longer exists), when its heartbeat is older than the
`stale_after` grace period (a driver on another machine that died), or when it is this process's own. Trials
with fresh heartbeats from another live driver are not touched: two drivers on one experiment would run its
search twice, so the second is refused with a clear error.
"""

from __future__ import annotations

import os
import socket
import uuid

_TOKEN = uuid.uuid4().hex[:8]


def driver_id() -> str:
    """`host:pid:token` of this process (the token tells a reused process id apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_TOKEN}"


def is_dead(owner: str) -> bool:
    """True when `owner` is a driver on this host whose process is gone (a crash, a SIGKILL)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit() or owner == driver_id():
        return False
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
