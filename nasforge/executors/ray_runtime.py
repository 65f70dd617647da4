"""Ray itself, for `RayExecutor`: importing it with a clear error, starting it on this machine on the loopback
interface only, joining a cluster (again when a Ray Client server fails to start its side), and reading its
errors."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from nasforge.errors import ConfigError

__all__ = ["CLIENT_ATTEMPTS", "INSTALL", "import_ray", "join_ray", "lost_errors", "reason", "start_local_ray"]

INSTALL = 'Install it with `pip install "nasforge[ray]"`, or use the pool executor (`LocalPoolExecutor`).'
CLIENT_ATTEMPTS = 3  # connections to a Ray Client address whose server failed to start the client's side
_log = logging.getLogger(__name__)


def join_ray(address: str | None, init_kwargs: dict[str, Any], pause: float = 2.0) -> None:
    """Start Ray on this machine (`address` None) or join the cluster at `address`; a clear `ConfigError` when
    that fails. A Ray Client server (`ray://`) starts a server process of its own for each client, and on a busy
    head that process can die while starting (Ray then aborts the connection: "Starting Ray client server
    failed"); such a connection is tried `CLIENT_ATTEMPTS` times, `pause` seconds apart, before it counts."""
    ray = import_ray()
    attempts = CLIENT_ATTEMPTS if str(address).startswith("ray://") else 1
    for attempt in range(1, attempts + 1):
        try:
            if address is None:
                start_local_ray(**init_kwargs)
            else:
                ray.init(address=address, **init_kwargs)
            return
        except ConnectionAbortedError as exc:  # the client server's side failed to start
            if attempt == attempts:
                raise _join_error(address, init_kwargs, exc, attempts) from exc
            _log.warning("Ray Client at %s: %s; connecting again (%d/%d).", address, reason(exc), attempt, attempts)
            with contextlib.suppress(Exception):
                ray.shutdown()
            time.sleep(pause)
        except (ConnectionError, TimeoutError, TypeError, ValueError) as exc:
            raise _join_error(address, init_kwargs, exc, attempt) from exc


def _join_error(address: str | None, init_kwargs: dict[str, Any], exc: BaseException, tries: int) -> ConfigError:
    tried = f" ({tries} tries)" if tries > 1 else ""
    return ConfigError(
        f"Ray could not start or connect{tried} (address {address!r}, init_kwargs {init_kwargs}): {exc}. Check "
        "the address (`ray status` on the cluster), the `ray.init` arguments and, for a `ray://` address, the "
        "head's ray_client_server*.err logs."
    )


def start_local_ray(num_cpus: int | None = None, **init_kwargs: Any) -> None:
    """Start a Ray instance on this machine that listens on 127.0.0.1 only, without the dashboard, with
    `num_cpus` CPUs (default: all of them); `init_kwargs` go to `ray.init` and win over these defaults."""
    ray = import_ray()
    kwargs: dict[str, Any] = {
        "num_cpus": num_cpus if num_cpus is not None else os.cpu_count(),
        "include_dashboard": False,
        "_node_ip_address": "127.0.0.1",
        **init_kwargs,
    }
    with loopback_only():
        ray.init(address="local", **kwargs)


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Ray takes the node's address from its route to the outside, so a single machine's Ray would listen on
    every interface; its switch for single-machine use (off by default on Linux) makes it use 127.0.0.1.
    The Ray processes started meanwhile also inherit usage statistics off, unless the environment says otherwise."""
    constants: Any = None
    with contextlib.suppress(ImportError):
        from ray._private import ray_constants as constants
    before = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    stats_unset = "RAY_USAGE_STATS_ENABLED" not in os.environ
    if before is not None:
        constants.ENABLE_RAY_CLUSTER = False
    if stats_unset:
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        yield
    finally:
        if before is not None:
            constants.ENABLE_RAY_CLUSTER = before
        if stats_unset:
            os.environ.pop("RAY_USAGE_STATS_ENABLED", None)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"RayExecutor needs Ray, which cannot be imported ({exc}). {INSTALL}") from exc
    return ray


def reason(exc: BaseException) -> str:
    """One line of a Ray error: its first line, or for an actor whose constructor raised, that exception."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if "creation task" in lines[0]:
        return lines[-1][:300]
    return lines[0][:300]


def lost_errors(ray: Any) -> tuple[type[Exception], ...]:
    """What `ray.get` raises when the actor or node that ran a call is gone (not the trial's own failure)."""
    errors = ray.exceptions
    return (errors.RayActorError, errors.WorkerCrashedError, errors.NodeDiedError, errors.ObjectLostError)
