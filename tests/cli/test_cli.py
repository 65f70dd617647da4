"""The CLI end to end: bad input gives one clear line and exit status 2, with nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nasforge.cli.main import main

FAST = ["--set", "evaluator.epochs=1", "--set", "dataset.valid_size=0.2"]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "digits", "--strategy", "evolutoin"],
            "Unknown strategy 'evolutoin'. Did you mean 'evolution'",
        ),
        (["run", "digts"], "Unknown preset 'digts'. Did you mean 'digits'?"),
        (["run", "digits", "--set", "space.name=cnnn"], "Unknown space 'cnnn'. Did you mean 'cnn'?"),
        (["run", "digits", "--set", "strategy.populaton_size=4"], "Did you mean 'population_size'"),
        (["run", "digits", "--set", "strategy.population_size=many"], "population_size"),
        (["run", "digits", "--set", "evaluator.epochs=two"], "evaluator.epochs must be int"),
        (["run", "digits", "--set", "evaluator.learning_rat=0.1"], "Did you mean 'learning_rate'?"),
        (["run", "digits", "--set", "sead=3"], "Unknown key 'sead'"),
        (["run", "digits", "--export-ensemble-seeds", "0"], "ensemble seeds are how many times each exported arch"),
        (["run", "digits", "--set", "run.max_trials=-3"], "max_trials"),
        (["run", "digits", "--retry-failed", "-1"], "strategy.retry_failed must be an int >= 0"),
        (["run", "digits", "--set", "strategy.max_cost=1h"], "strategy.max_cost must be int or float or null"),
        (["run", "digits", "--set", "strategy.dedupe=true"], "Did you mean 'dedup' or 'deduplicate'?"),
        (["run", "digits", "--workers", "0"], "--workers must be >= 1"),
        (["run", "digits", "--set", "estimation.warm_start=nope"], "Warm start: no experiment 'nope' in"),
        (["run", "digits", "--set", "estimation.warm_start.top_k=3"], "A warm start needs `experiment`"),
        (["run", "digits", "--strategy", "drnas"], "choice 'stem_width' cannot be expressed in supernet(dirichlet)"),
        (["run", "digits", "--strategy", "spos", "--set", "strategy.fixed=wide"], "`fixed` of SPOS must be"),
        (["run", "missing.yaml"], "does not exist"),
        (["bench", "--strategies", "random,drnas"], "Strategy 'drnas' is one-shot"),
        (["trials", "nope"], "No experiment named 'nope'"),
        (["best", "nope"], "No experiment named 'nope'"),
        (["export", "nope"], "No experiment named 'nope'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(args, capsys)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        not any(p.name.startswith("nasforge.db") and p.stat().st_size > 0 for p in tmp_path.iterdir())
        or args[0] != "run"
    )


def test_missing_data_says_how_to_get_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["run", "fashion_mnist", "--set", f"dataset.root={tmp_path / 'empty'}"], capsys)
    assert code == 2
    assert "dataset-fashion-mnist" in err
    assert not (tmp_path / "nasforge.db").exists()


def test_bad_yaml_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("space: [unclosed\n")
    code, _, err = run_cli(["run", "bad.yaml"], capsys)
    assert code == 2 and "not valid YAML" in err
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    code, _, err = run_cli(["run", "list.yaml"], capsys)
    assert code == 2 and "must be a mapping" in err


@pytest.mark.slow
def test_run_list_trials_best_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["run", "digits", "--max-trials", "3", "--export-epochs", "1", "--export-ensemble", "2", *FAST]
    code, out, _ = run_cli(args, capsys)
    assert code == 0, out
    assert "test accuracy of the exported model" in out and "an ensemble of 2; its best-ranked member alone" in out
    folder = tmp_path / "nasforge-out" / "digits"
    assert {"arch.json", "weights.pt", "space.json", "metrics.json", "model.torchscript.pt"} <= {
        p.name for p in folder.iterdir()
    }
    last = out.strip().splitlines()[-1]  # names every file the export wrote
    assert last.startswith("exported to") and all(p.name in last for p in folder.iterdir() if p.is_file())
    code, out, _ = run_cli(["trials", "digits-cnn", "--format", "json"], capsys)
    rows = json.loads(out)
    assert code == 0 and [r["number"] for r in rows] == [0, 1, 2]
    code, out, _ = run_cli(["best", "digits-cnn"], capsys)
    assert code == 0 and "val_acc" in out
    code, out, _ = run_cli(["list"], capsys)
    assert code == 0 and "digits-cnn" in out

    # the exported model reloads and agrees with its TorchScript twin
    import torch

    from nasforge import load_model

    model = load_model(folder)
    scripted = torch.jit.load(str(folder / "model.torchscript.pt"))
    x = torch.randn(5, 1, 8, 8)
    assert torch.allclose(model(x), scripted(x), atol=1e-5)

    # an arch that does not fit the space: clear error, exit 2
    arch = json.loads((folder / "arch.json").read_text())
    (tmp_path / "arch.json").write_text(json.dumps({**arch, "stem_width": 7}))
    code, _, err = run_cli(["export", "digits-cnn", "--arch", "arch.json"], capsys)
    assert code == 2 and "'stem_width' must be one of [16, 24, 32], but got 7" in err

    # the best trial again, as plain PyTorch source, checked on real validation digits
    code, out, err = run_cli(["export", "digits-cnn", "--path", "py", "--epochs", "1", "--format", "python"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / "py" / "export.json").read_text())
    assert set(manifest["files"]) == {"pt", "python"} and manifest["max_abs_diff"]["python"] <= 1e-4
    code, _, err = run_cli(["export", "digits-cnn", "--format", "tflite"], capsys)
    assert code == 2 and "must be among pt, torchscript, onnx, python" in err

    # the two best archs retrained and averaged; the best member's own accuracy is printed beside it
    code, out, err = run_cli(["export", "digits-cnn", "--path", "ens", "--epochs", "1", "--ensemble", "2"], capsys)
    assert code == 0, err
    members = json.loads((tmp_path / "ens" / "ensemble.json").read_text())["members"]
    assert len(members) == 2 and "test accuracy" in out
    code, _, err = run_cli(["export", "digits-cnn", "--arch", "arch.json", "--ensemble", "2"], capsys)
    assert code == 2 and "cannot be an ensemble of 2" in err
    # the best arch alone (the run's config says 2 archs) retrained with two seeds from the one given, within
    # the time budget given
    args = ["export", "digits-cnn", "--path", "seeds", "--epochs", "1", "--ensemble", "1", "--ensemble-seeds", "2"]
    args += ["--time-budget", "60", "--seed", "5"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    members = json.loads((tmp_path / "seeds" / "ensemble.json").read_text())["members"]
    assert [m["seed"] for m in members] == [5, 6] and members[0]["trial"] == members[1]["trial"]
    code, _, err = run_cli(["export", "digits-cnn", "--arch", "arch.json", "--ensemble-seeds", "2"], capsys)
    assert code == 2 and "--ensemble-seeds 2 needs the experiment's own trials" in err
    code, _, err = run_cli(["export", "digits-cnn", "--time-budget", "0"], capsys)
    assert code == 2 and "--time-budget must be a number of seconds > 0 (or null for no limit), but got 0.0" in err


def test_a_driver_that_ends_beside_another_leaves_the_export_to_the_last(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import time

    from nasforge.storage import SQLStorage
    from nasforge.trial import TrialRecord, TrialState

    args = ["run", "digits", "--max-trials", "1", "--quiet", "--export-epochs", "1", *FAST]
    code, out, _ = run_cli([*args, "--no-export"], capsys)
    assert code == 0, out
    storage = SQLStorage("nasforge.db")
    exp = storage.require_experiment("digits-cnn")
    arch = storage.get_trials(exp.id)[0].arch
    other = "elsewhere.example:4242:abcd1234"  # a driver on another machine, alive
    left = storage.append_trial(exp.id, TrialRecord(-1, arch, state=TrialState.RUNNING), {}, other)
    storage.heartbeat(exp.id, [left.number], other, time.time())
    code, out, _ = run_cli([*args[:2], "--max-trials", "3", *args[4:]], capsys)
    assert code == 0, out
    assert "other drivers still run 'digits-cnn', so this one does not export" in out
    assert not (tmp_path / "nasforge-out").exists()


@pytest.mark.slow
def test_run_with_middleware(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "digits", "--max-trials", "4", "--no-export", "--quiet", *FAST]
    args += ["--set", "strategy.population_size=2", "--set", "strategy.sample_size=1"]
    args += ["--deduplicate", "--retry-failed", "1", "--max-params", "4e5"]
    code, out, _ = run_cli([*args, "--max-cost", "3600"], capsys)
    assert code == 0, out
    assert "BudgetLimit(Retry(ConstraintFilter(Deduplicate(RegularizedEvolution)))) on SmallImageCNN" in out
    code, out, _ = run_cli(["trials", "digits-cnn", "--format", "json"], capsys)
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4 and all(r["state"] == "COMPLETE" for r in rows)
    assert len({json.dumps(r["arch"], sort_keys=True) for r in rows}) == 4  # no arch trained twice
    assert all(r["metrics"]["params"] <= 4e5 for r in rows)
    # a budget smaller than one trial's wall time: one trial, and none more on resume
    for _ in range(2):
        code, out, _ = run_cli([*args, "--name", "tight", "--max-cost", "0.001"], capsys)
        assert code == 0, out
    code, out, _ = run_cli(["trials", "tight", "--format", "json"], capsys)
    assert code == 0 and len(json.loads(out)) == 1


def test_module_entry_point_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "nasforge", "presets"], capture_output=True, text=True, check=True)
    assert "fashion_mnist" in out.stdout.split()


def test_presets_lists_what_each_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["presets", "--format", "json"], capsys)
    rows = {row["preset"]: row for row in json.loads(out)}
    assert code == 0 and rows["digits"]["dataset"] == "digits" and rows["digits"]["space"] == "cnn"
    assert rows["fashion_mnist"]["about"].startswith("The main job")
    code, out, _ = run_cli(["presets", "--format", "yaml"], capsys)
    assert code == 0 and yaml.safe_load(out) == list(rows.values())


def test_run_warm_started_from_an_earlier_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "digits", "--no-export", *FAST, "--set", "strategy.population_size=2"]
    args += ["--set", "strategy.sample_size=1"]
    code, out, _ = run_cli([*args, "--max-trials", "3", "--quiet"], capsys)
    assert code == 0, out
    warm = ["--name", "warm", "--max-trials", "2", "--set", "estimation.warm_start=digits-cnn"]
    code, _, err = run_cli([*args, *warm], capsys)
    assert code == 0 and "warm start from 'digits-cnn': told its 3 results to the strategy" in err
    code, out, _ = run_cli(["trials", "warm", "--format", "json"], capsys)
    assert code == 0 and [r["info"]["origin"] for r in json.loads(out)] == ["mutation", "mutation"]


def test_bench_without_matplotlib_warns_before_the_work_and_still_succeeds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    code, _, err = run_cli(["bench", "--seeds", "1", "--datasets", "cifar10", "--out", str(tmp_path / "b")], capsys)
    assert code == 0 and "matplotlib is not installed, so no plots will be drawn" in err
    assert (tmp_path / "b" / "results.json").exists() and not list((tmp_path / "b").glob("*.png"))
