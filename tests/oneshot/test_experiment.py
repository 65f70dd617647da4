"""One-shot strategies through the experiment, the config, the CLI and storage, with export and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import torch

from nasforge import ClassificationEvaluator, Digits, Experiment
from nasforge.config import build_experiment, load_preset
from nasforge.errors import ConfigError
from nasforge.experiment import Callback
from nasforge.oneshot import DrNAS, OneShotStrategy
from nasforge.storage import SQLStorage
from nasforge.strategies import STRATEGIES
from nasforge.trial import TrialState
from nasforge.zoo import SmallImageCNN


def cnn() -> SmallImageCNN:
    return SmallImageCNN(input_shape=(1, 8, 8), ops=["conv", "sep"])


class StopAfter(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.seen: list[int] = []

    def on_search_progress(self, experiment: Experiment, step: int, metrics: Mapping[str, float]) -> None:
        self.seen.append(step)
        if step == self.epoch:
            experiment.stop()


def test_supernet_progress_is_stored_and_a_stopped_search_resumes(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    db = str(tmp_path / "nas.db")

    def experiment() -> Experiment:
        method = DrNAS(epochs=3, batch_size=64, fixed="defaults", device="cpu")
        return Experiment("os", cnn(), method, ClassificationEvaluator(Digits(), epochs=1), storage=db)

    stop = StopAfter(1)
    exp = experiment()
    exp.run(max_trials=3, callbacks=[stop])
    assert stop.seen == [1] and exp.trials == []
    row = exp.storage.get_experiment("os")
    assert row is not None and row.status == "paused"
    assert row.strategy_state is not None and [h["epoch"] for h in row.strategy_state["history"]] == [1.0]
    assert (exp.checkpoint_dir / "supernet.pt").exists()
    assert str(exp.checkpoint_dir).startswith(db + ".checkpoints")

    again = experiment()
    go_on = StopAfter(99)
    again.run(max_trials=3, callbacks=[go_on])
    assert go_on.seen == [2, 3]  # epoch 1 came from the checkpoint
    trials = again.trials
    assert len(trials) == 1 and trials[0].state is TrialState.COMPLETE
    assert trials[0].info["source"] == "oneshot:DrNAS"
    strategy = again.strategy
    assert isinstance(strategy, OneShotStrategy)
    assert [h["epoch"] for h in strategy.history] == [1.0, 2.0, 3.0]
    assert strategy.result["pinned"]["stem_width"] == 16
    stored = again.storage.get_experiment("os")
    assert stored is not None and stored.status == "finished"

    folder, metrics = again.export(str(tmp_path / "out"), epochs=1)
    assert (folder / "weights.pt").exists() and 0.0 <= metrics["test_acc"] <= 1.0
    assert json.loads((folder / "arch.json").read_text()) == trials[0].arch.to_dict()

    third = experiment()  # nothing left to do: no second supernet search, no new trial
    third.run(max_trials=3)
    assert len(third.trials) == 1


def test_one_shot_names_are_strategies_with_checked_options() -> None:
    for name in ("darts", "gdas", "beta_darts", "drnas", "darts_pt", "spos", "enas", "oneshot"):
        assert name in STRATEGIES
    strategy = STRATEGIES.create("beta_darts", beta_weight=0.5, epochs=2)
    assert isinstance(strategy, OneShotStrategy) and strategy.method.epochs == 2
    with pytest.raises(ConfigError, match="Did you mean 'beta_weight'"):
        STRATEGIES.create("beta_darts", beta_wieght=0.5)
    assert type(STRATEGIES.create("oneshot").method).__name__ == "DrNAS"


def test_a_config_runs_a_one_shot_strategy(tmp_path: Path) -> None:
    cfg = load_preset("digits")
    cfg["strategy"] = {"name": "spos", "epochs": 1, "fixed": "defaults", "population": 4, "generations": 1}
    cfg["evaluator"] = {"epochs": 1}
    cfg["storage"] = str(tmp_path / "nas.db")
    exp = build_experiment(cfg)
    exp.run(max_trials=5)
    assert [t.state for t in exp.trials] == [TrialState.COMPLETE]


def test_a_space_the_supernet_cannot_express_names_the_label_and_the_way_out(tmp_path: Path) -> None:
    exp = Experiment(
        "os", cnn(), DrNAS(epochs=1), ClassificationEvaluator(Digits(), epochs=1), storage=str(tmp_path / "n.db")
    )
    with pytest.raises(Exception, match="fixed='defaults'") as info:
        exp.run(max_trials=1)
    assert "stem_width" in str(info.value)


def test_an_evaluator_without_data_is_a_clear_error(tmp_path: Path) -> None:
    from tests.toys import ToyEvaluator, ToySpace

    method = DrNAS(epochs=1, fixed="defaults")
    exp = Experiment("os", ToySpace(), method, ToyEvaluator(), storage=str(tmp_path / "n.db"))
    with pytest.raises(ConfigError, match="use a ClassificationEvaluator"):
        exp.run(max_trials=1)


@pytest.mark.slow
def test_sigkill_mid_supernet_search_then_resume(tmp_path: Path) -> None:
    """A real `nasforge run --strategy drnas` killed during the supernet epochs resumes from its checkpoint."""
    db = tmp_path / "nasforge.db"
    args = ["run", "digits", "--strategy", "drnas", "--no-export", "--quiet", "--workers", "1"]
    args += ["--set", "strategy.fixed=defaults", "--set", "strategy.epochs=12", "--set", "evaluator.epochs=1"]
    cmd = [sys.executable, "-m", "nasforge", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the supernet runs in the driver: one thread, no stalls

    def epochs_done() -> list[dict[str, float]]:
        if not db.exists():
            return []
        storage = SQLStorage(str(db))
        try:
            row = storage.get_experiment("digits-cnn")
            state = row.strategy_state if row is not None else None
            return list(state["history"]) if state else []
        except Exception:
            return []  # the database may be mid-creation
        finally:
            storage.close()

    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while len(epochs_done()) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = epochs_done()
    assert 3 <= len(before) < 12

    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = epochs_done()
    assert [h["epoch"] for h in after] == [float(e) for e in range(1, 13)]  # every epoch once
    assert after[: len(before)] == before  # the epochs done before the kill were not run again
    storage = SQLStorage(str(db))
    row = storage.get_experiment("digits-cnn")
    assert row is not None
    trials = storage.get_trials(row.id)
    storage.close()
    assert [t.state for t in trials] == [TrialState.COMPLETE]


def test_the_one_shot_preset_is_valid_and_its_supernet_builds() -> None:
    from nasforge.config import preset_names, validate

    assert "fashion_mnist_oneshot" in preset_names()
    cfg = validate(load_preset("fashion_mnist_oneshot"))
    options = {k: v for k, v in cfg["strategy"].items() if k != "name"}
    strategy = STRATEGIES.create(cfg["strategy"]["name"], **options)
    assert isinstance(strategy, OneShotStrategy) and type(strategy.method).__name__ == "DrNAS"
    assert strategy.method.warmup_epochs == 2  # a third of 6
    space = SmallImageCNN(**{k: v for k, v in cfg["space"].items() if k != "name"})
    assert strategy.method.supernet(space).labels  # every undecidable choice pinned by `fixed: defaults`
