"""`nasforge run` with several objectives and a latency constraint, then `pareto`, `pick`, `best` and `export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasforge.cli.main import main
from nasforge.storage import get_storage

FAST = ["--set", "evaluator.epochs=1", "--set", "dataset.valid_size=0.2", "--set", "latency.repeats=15"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NASFORGE_CACHE", str(tmp_path / "cache"))


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def latency_bound(capsys: pytest.CaptureFixture[str]) -> float:
    """A latency bound that most of the first archs meet on this machine, as loaded as it is now: 1.3
    times the median latency of an unconstrained search's first 8 archs, measured the way the constrained run does."""
    args = ["run", "digits", "--name", "probe", "--strategy", "random", "--objective", "max:val_acc"]
    args += ["--objective", "min:latency_ms", "--max-trials", "8", "--no-export", *FAST]
    code, _, err = cli(args, capsys)
    assert code == 0, err
    store = get_storage("nasforge.db")
    row = store.get_experiment("probe")
    assert row is not None
    latencies = sorted(t.metrics["latency_ms"] for t in store.get_trials(row.id))
    return float(f"{1.3 * latencies[len(latencies) // 2]:.3g}")


@pytest.mark.slow
def test_latency_constrained_search_exports_a_model_that_meets_it(capsys: pytest.CaptureFixture[str]) -> None:
    bound = latency_bound(capsys)
    limit = f"latency_ms <= {bound:g}"  # as the stored constraint writes it
    args = ["run", "digits", "--strategy", "random", "--objective", "max:val_acc", "--objective", "min:latency_ms"]
    args += ["--constraint", limit, "--max-trials", "5", "--export-epochs", "1", *FAST]
    code, out, err = cli(args, capsys)
    assert code == 0, err
    store = get_storage("nasforge.db")
    row = store.get_experiment("digits-cnn")
    assert row is not None and row.config["constraints"] == [limit]
    trials = store.get_trials(row.id)
    assert len(trials) == 5 and all(t.metrics["latency_ms"] <= bound for t in trials)  # none too slow trained
    exported = json.loads(Path("nasforge-out/digits/metrics.json").read_text())
    assert exported["latency_ms"] <= bound  # measured again after training and export
    assert "latency of the exported model, measured again" in out

    code, out, _ = cli(["pareto", "digits-cnn", "--format", "json", "--reference", "0", "10"], capsys)
    front = json.loads(out)
    assert code == 0 and front["constraints"] == [limit] and front["hypervolume"] > 0
    numbers = {t["number"] for t in front["front"]}
    assert numbers and numbers <= {t.number for t in trials}

    code, out, _ = cli(["pick", "digits-cnn", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["number"] in numbers
    code, out, err = cli(["pick", "digits-cnn", "--constraint", "latency_ms <= 0.0001"], capsys)
    assert code == 2 and "meets the constraints" in err

    code, out, _ = cli(["best", "digits-cnn", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["metrics"]["latency_ms"] <= bound


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--objective", "max:val_acc", "--objective", "min:latency_ms"], "optimises one objective"),
        (["--constraint", "latency_ms == 3"], "written 'metric <= bound'"),
        (["--objective", "max:val_acc", "--objective", "max:val_acc", "--strategy", "nsga2"], "appears more than once"),
        (["--set", "latency.repats=3"], "repeats"),
        (["--set", "export.pick=median"], "export.pick must be 'best' or 'knee'"),
    ],
)
def test_bad_multiobjective_input_is_one_clear_line(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["run", "digits", *extra], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not Path("nasforge.db").exists()  # nothing written


def test_pareto_of_an_unknown_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["pareto", "nope"], capsys)
    assert code == 2 and "No experiment named 'nope'" in err
