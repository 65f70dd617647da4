"""`RayExecutor` on a real two-node Ray cluster on this machine (`tests/ray_cluster.py`: a head and a second node,
separate `ray start` processes on 127.0.0.1, one CPU each), joined by a driver process as a user's would join it:
with `address="auto"` (the driver on the head's machine) and with a `ray://` Ray Client address. Mid-search the
second node is lost for real (every process of it SIGKILLed); the trial that was running there must run again on
the head, and every trial, including those the lost node had finished, must be in the experiment's SQLite storage.

The driver is a process of its own, so that Ray's state in it (its authentication mode, its address) is the
driver's alone. The test watches the storage as the driver writes it, and kills the node from outside.
The head starts once for the file; each case adds its own second node, since the case kills it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nasforge.storage import SQLStorage
from nasforge.trial import TrialState
from tests.ray_cluster import ROOT, LocalCluster, RayNode, local_cluster

pytestmark = pytest.mark.slow

TRIALS = 8
DRIVER = textwrap.dedent(
    """
    import sys

    import ray

    from nasforge import Experiment, RandomSearch
    from nasforge.executors import RayExecutor
    from tests.toys import NodeEvaluator, ToySpace

    address, storage, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    executor = RayExecutor(n_workers=2, address=address, init_kwargs={"log_to_driver": False})
    exp = Experiment(
        "cluster", ToySpace(), RandomSearch(), NodeEvaluator(1.5), storage=storage, executor=executor,
        objective="max:score",
    )
    exp.run(max_trials=trials, timeout=240)
    assert not ray.is_initialized(), "the executor joined the cluster and did not leave it"
    print("searched")
    """
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster(num_cpus=1) as running:
        yield running


def kill_mid_trial(node: RayNode, storage: Path, driver: subprocess.Popen) -> tuple[int, list[int]] | None:
    """Watch the storage as the driver writes it, and kill `node` once a trial has finished there and another
    has started there (its first report names the node). The trial it was running and those it had finished;
    None if the driver ended first."""
    stored: SQLStorage | None = None
    deadline = time.monotonic() + 180
    try:
        while driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            if stored is None and storage.exists():
                stored = SQLStorage(str(storage))
            row = stored.get_experiment("cluster") if stored is not None else None
            if stored is None or row is None:
                continue
            trials = stored.get_trials(row.id)
            there = [t.number for t in trials if t.state is TrialState.COMPLETE and t.metrics.get("sid") == node.sid]
            for t in trials:
                reports = stored.get_reports(row.id, t.number) if t.state is TrialState.RUNNING else []
                if there and reports and reports[-1][1].get("sid") == node.sid:
                    node.kill()
                    return t.number, there
    finally:
        if stored is not None:
            stored.close()
    return None


@pytest.mark.parametrize("client", [False, True], ids=["auto", "ray-client"])
def test_a_lost_node_s_trial_reruns_elsewhere_and_no_finished_trial_is_lost(
    cluster: LocalCluster, client: bool, tmp_path: Path
) -> None:
    second = cluster.add_node(num_cpus=1)
    address = cluster.client_address if client else "auto"
    storage, out, err = tmp_path / "cluster.db", tmp_path / "driver.out", tmp_path / "driver.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER, address, str(storage), str(TRIALS)],
            cwd=ROOT,
            env=cluster.driver_env(),
            stdout=stdout,
            stderr=stderr,
        )
    try:
        loss = kill_mid_trial(second, storage, driver)
        rc = driver.wait(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        second.kill()
    log = err.read_text(errors="replace")
    assert rc == 0 and out.read_text().strip().endswith("searched"), log[-4000:] + cluster.client_server_logs()
    assert loss is not None, "the second node never had a trial running after one finished there"
    lost_number, finished_before = loss
    # the report hub is on the driver's node, so live reports outlive the second node
    assert "Live reports from Ray actors stopped" not in log

    stored = SQLStorage(str(storage))  # what the file holds, read afresh
    experiment = stored.require_experiment("cluster").id
    trials = stored.get_trials(experiment)
    lost_reports = [m for step, m in stored.get_reports(experiment, lost_number) if step == 0]
    stored.close()
    print(f"\n{address}: the second node finished {finished_before} and was lost running {lost_number}")  # -s

    assert [t.number for t in trials] == list(range(TRIALS))
    assert all(t.state is TrialState.COMPLETE and t.error is None for t in trials), trials
    lost = trials[lost_number]
    assert lost_reports[0]["sid"] == second.sid  # began on the second node,
    assert lost.metrics["sid"] == cluster.head.sid and lost.info["attempts"] == 2  # and ran again on the head
    assert [t.number for t in trials if t.info.get("attempts", 1) > 1] == [lost_number]  # the only one rerun
    on_node = [t.number for t in trials if t.metrics["sid"] == second.sid]
    assert set(finished_before) <= set(on_node)  # what the lost node finished is kept as it was
    assert all(t.metrics["sid"] == cluster.head.sid for t in trials if t.number not in on_node)
