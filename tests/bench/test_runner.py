"""The NAS-Bench-201 harness: a run goes through the real loop on simulated time and reports honestly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nasforge.bench import RunSpec, format_table, plot, run_many, run_one, save_json, summary
from nasforge.cli.main import main
from nasforge.tables import NB201Table


def test_a_run_spends_its_budget_and_reports_the_best_signal() -> None:
    result = run_one(RunSpec("evolution", "cifar10", seed=0, strategy_kwargs={"population_size": 10, "sample_size": 3}))
    assert 60 <= result.n_trials <= 250
    assert result.times == sorted(result.times)
    assert result.times[-2] < 12_000 <= result.times[-1] or result.times[-1] >= 12_000
    assert result.best_test[-1] == result.final_test
    assert 90 < result.final_test <= result.optimum == pytest.approx(94.37, abs=0.01)


def test_final_is_the_test_accuracy_of_the_best_validation_arch() -> None:
    table = NB201Table.load()
    valid, test = table.column("c10valid_valid_acc_12"), table.column("c10_test_acc_200")
    result = run_one(RunSpec("random", "cifar10", seed=4, budget=3000))
    seen = np.array(result.indices)
    assert valid[result.best_index] == valid[seen].max()
    assert result.final_test == test[result.best_index]
    assert len(set(result.indices)) == len(result.indices)  # random search did not repeat an arch


def test_same_seed_same_result_and_parallel_workers_run() -> None:
    a = run_one(RunSpec("random", "cifar100", seed=7, budget=5000))
    b = run_one(RunSpec("random", "cifar100", seed=7, budget=5000))
    assert a.final_test == b.final_test and a.times == b.times
    par = run_one(RunSpec("random", "cifar100", seed=7, budget=5000, n_workers=4))
    assert par.n_trials > a.n_trials  # four simulated workers evaluate more in the same time


def test_run_many_in_processes_matches_in_process() -> None:
    specs = [RunSpec("random", "imagenet16-120", seed=s, budget=20_000) for s in range(4)]
    assert [r.final_test for r in run_many(specs, workers=2)] == [r.final_test for r in run_many(specs, workers=1)]


def test_summary_table_json_and_plots(tmp_path: Path) -> None:
    specs = [RunSpec(s, "cifar10", seed, budget=4000) for s in ("random", "evolution") for seed in range(3)]
    results = run_many(specs, workers=1)
    rows = summary(results)
    assert [(r["strategy"], r["seeds"]) for r in rows] == [("evolution", 3), ("random", 3)]
    assert "93.70 +- 0.36" in format_table(rows)
    save_json(results, tmp_path / "r.json")
    assert len(json.loads((tmp_path / "r.json").read_text())["runs"]) == 6
    [png] = plot(results, tmp_path)
    assert png.stat().st_size > 10_000


def test_bench_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "bench",
            "--seeds",
            "3",
            "--datasets",
            "cifar10",
            "--strategies",
            "random",
            "--budget",
            "2000",
            "--out",
            str(tmp_path),
            "--processes",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "random" in out and (tmp_path / "nb201_cifar10.png").exists()
    first = json.loads((tmp_path / "results.json").read_text())
    assert first["settings"]["seeds"] == 3 and len(first["runs"]) == 3 and first["wall_s"] >= 0
    again = ["bench", "--seeds", "2", "--datasets", "cifar10", "--strategies", "random", "--budget", "2000"]
    assert main([*again, "--out", str(tmp_path), "--processes", "1", "--no-plots"]) == 0
    assert f"results: {tmp_path / 'results-2.json'}" in capsys.readouterr().out  # a rerun: a new file beside it
    assert json.loads((tmp_path / "results.json").read_text()) == first
    assert len(json.loads((tmp_path / "results-2.json").read_text())["runs"]) == 2
    assert main(["bench", "--strategies", "evolutoin"]) == 2
    assert "Did you mean 'evolution'" in capsys.readouterr().err
    assert main(["bench", "--datasets", "cifar1000"]) == 2


def test_dedup_runs_are_labelled_and_never_repeat_an_isomorphism_class() -> None:
    from nasforge.zoo.nb201 import canonical_key, str_to_arch

    table = NB201Table.load()
    result = run_one(
        RunSpec("evolution", "cifar10", seed=1, strategy_kwargs={"population_size": 10, "sample_size": 3}, dedup=True)
    )
    assert result.spec.name == "evolution+dedup"
    keys = [canonical_key(str_to_arch(table.arch_strs[i])) for i in result.indices]
    assert len(set(keys)) == len(keys)


def test_a_warm_started_run_begins_with_the_source_runs_best() -> None:
    source = RunSpec("evolution", "cifar10", 7, {"population_size": 10, "sample_size": 3})
    first = run_one(source)
    kw = {"population_size": 10, "sample_size": 3}
    warm = run_one(RunSpec("evolution", "cifar100", 0, kw, warm_from=source, warm_options={"top_k": 5}))
    assert warm.indices[0] == first.best_index  # another task: the source's best is evaluated first
    same = run_one(RunSpec("evolution", "cifar10", 0, kw, warm_from=source))  # same task: told, not re-run
    assert not set(same.indices[:10]) & set(first.indices)
