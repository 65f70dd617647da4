"""A Ray cluster of separate processes on this machine for the tests: a head node and worker nodes, each started
by `ray start --block` in a session of its own, all listening on 127.0.0.1 only, and a node's loss done for real
by killing every process of its session (its `ray start`, raylet, agents and the workers the raylet started).

Ray treats 127.0.0.1 as "this machine's address" and swaps in the outward one unless it runs in its single-machine
mode, and that mode refuses to start a second node. So each node runs the `ray` command through a small launcher
that keeps the loopback address, and its processes inherit the single-machine mode, in which they keep it too.
The nodes run without token authentication (loopback only, for one test run) and without usage statistics.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 120.0  # seconds a node may take to start on a busy machine

# `python -c` this, then the `ray` command's arguments
_LAUNCHER = (
    "import os, sys\n"
    "import ray._private.services as services\n"
    "services.resolve_ip_for_localhost = lambda host: host  # keep 127.0.0.1\n"
    "os.environ['RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'] = '0'  # the node's processes: single-machine addresses\n"
    "from ray.scripts.scripts import main\n"
    "sys.argv[0] = 'ray'\n"
    "main()\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def session_of(pid: int) -> int | None:
    """The session id of process `pid`, or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[3])


def session_pids(sid: int) -> list[int]:
    """The live processes of session `sid`."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and session_of(int(name)) == sid]


class RayNode:
    """One node: a `ray start --block` process leading its own session, and its log."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, "start", "--block", *args],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.sid = self.process.pid

    def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if "block forever" in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.kill()
        pytest.fail(f"Ray node {self.name} did not start; its log ends:\n{self.log.read_text()[-3000:]}")

    def pids(self) -> list[int]:
        return session_pids(self.sid)

    def kill(self) -> None:
        """SIGKILL every process of the node, as when its machine is lost, until none is left."""
        deadline = time.monotonic() + 30
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        assert not self.pids(), f"Ray node {self.name} left processes behind: {self.pids()}"


class LocalCluster:
    """`start` a head node, then `add_node` for more; `address` for `ray.init`, `client_address` for Ray
    Client. `stop` kills every node."""

    def __init__(self) -> None:
        # short: Ray's socket paths under it must stay within the 107 characters of a Unix socket name
        self.root = Path(tempfile.mkdtemp(prefix="nfray-"))
        self.port, self.client_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "disabled",
            "OMP_NUM_THREADS": "1",
        }
        self.nodes: list[RayNode] = []  # the head (set by `start`) first

    def start(self, num_cpus: int = 1) -> RayNode:
        self.head = self._start(
            "head",
            [
                "--head",
                "--port",
                str(self.port),
                "--ray-client-server-port",
                str(self.client_port),
                "--include-dashboard",
                "false",
                "--dashboard-port",
                str(free_port()),
            ],
            num_cpus,
        )
        return self.head

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def client_address(self) -> str:
        return f"ray://127.0.0.1:{self.client_port}"

    def driver_env(self) -> dict[str, str]:
        """The environment of a driver process on this machine: `address="auto"` finds the cluster through
        RAY_ADDRESS, and keeps its loopback address in the single-machine mode."""
        return {**self.env, "RAY_ADDRESS": self.address, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

    def add_node(self, num_cpus: int = 1) -> RayNode:
        return self._start(f"node{len(self.nodes)}", ["--address", self.address], num_cpus)

    def _start(self, name: str, args: list[str], num_cpus: int) -> RayNode:
        common = [
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            str(num_cpus),
            "--resources",
            json.dumps({name: 1}),
            "--temp-dir",
            str(self.root),
            "--dashboard-agent-listen-port",
            str(free_port()),
            "--min-worker-port",  # 0, 0: the system picks each worker's port, so two nodes never collide
            "0",
            "--max-worker-port",
            "0",
            "--disable-usage-stats",
        ]
        node = RayNode(name, [*args, *common], self.env, self.root / f"{name}.log")
        self.nodes.append(node)
        node.wait_started()
        return node

    def client_server_logs(self, chars: int = 3000) -> str:
        """The end of each Ray Client server log of the head (its proxy and the server it starts per client),
        for a failure message: Ray names only the file, which `stop` deletes."""
        logs = sorted((self.root / "session_latest" / "logs").glob("ray_client_server*.err"))
        return "\n".join(f"--- {log.name}:\n{log.read_text(errors='replace')[-chars:]}" for log in logs)

    def stop(self) -> None:
        """Kill every node, the worker nodes first; a node that left processes behind fails after all are tried."""
        leftovers = []
        for node in reversed(self.nodes):
            try:
                node.kill()
            except AssertionError as exc:
                leftovers.append(str(exc))
        shutil.rmtree(self.root, ignore_errors=True)
        assert not leftovers, leftovers


@contextlib.contextmanager
def local_cluster(num_cpus: int = 1) -> Iterator[LocalCluster]:
    """A cluster with its head started (`num_cpus` CPUs); every node is killed on the way out, even on failure."""
    cluster = LocalCluster()
    try:
        cluster.start(num_cpus)
        yield cluster
    finally:
        cluster.stop()
