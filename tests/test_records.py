"""Figures on the README's main-job table come from the benchmark's records, and records say what made them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_the_readme_main_job_table_is_what_the_records_say() -> None:
    peers = _module("mainjob_peers")
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(peers.BEGIN), readme.index(peers.END) + len(peers.END)
    assert readme[start:end] == peers.readme_block(), "run `python benchmarks/mainjob_peers.py --readme`"


def test_the_main_job_selection_table_is_what_the_records_say() -> None:
    peers = _module("mainjob_peers")
    page = (ROOT / "docs" / "main-job.md").read_text()
    start, end = page.index(peers.SELECT_BEGIN), page.index(peers.SELECT_END) + len(peers.SELECT_END)
    assert page[start:end] == peers.select_block(), "run `python benchmarks/mainjob_peers.py --readme`"


def test_every_record_names_its_command_commit_and_machine() -> None:
    for path in sorted((ROOT / "records").glob("*/*.json")):
        record = json.loads(path.read_text())
        if not record:  # a name reserved by a benchmark still before its first run
            continue
        script = record["command"].split()[1]
        assert script.startswith("benchmarks/") and (ROOT / script).is_file(), path
        assert len(record["commit"]) >= 7 and record["machine"]["cpu_count"] >= 1, path
        assert record["runs"] and "summary" in record, path
    for path in sorted((ROOT / "records" / "mainjob").glob("mainjob_peers_*.json")):
        runs = json.loads(path.read_text()).get("runs", [])
        assert all({"method", "seed", "cores"} <= set(run) for run in runs), path


def test_a_record_is_written_whole_and_never_replaces_another(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    records = _module("records")
    monkeypatch.setattr(records, "RECORDS", tmp_path)
    first = records.Record("demo", area="x", config={"seeds": [0]})
    first.add_run({"seed": 0, "acc": 0.5})
    second = records.Record("demo", area="x")  # the same second, most likely: still a file of its own
    second.meta["started"] += "+later"
    assert second.path != first.path and second.path.exists()  # reserved at once, before any run
    second.save(summary={"n": 0})
    saved = records.load_records("x", "demo")
    assert len(saved) == 2 and saved[0]["runs"] == [{"seed": 0, "acc": 0.5}] and saved[0]["config"] == {"seeds": [0]}
    assert saved[1]["summary"] == {"n": 0} and {"commit", "dirty", "machine", "command"} <= set(saved[0])


def test_text_ngram_ranks_settings_by_mean_validation_accuracy_never_by_test() -> None:
    ngram = _module("text_ngram")
    (mf_a, change_a), (mf_b, change_b) = ngram.SETTINGS[:2]
    runs = [  # a: better on validation at every seed, b: better on test
        {"min_freq": mf_a, "change": change_a, "seed": s, "val_acc": 0.76, "test_acc": 0.70} for s in (0, 1)
    ] + [
        {"min_freq": mf_b, "change": change_b, "seed": s, "val_acc": v, "test_acc": 0.80}
        for s, v in ((0, 0.74), (1, 0.75))
    ]
    rest = [{"min_freq": m, "change": c, "seed": 0, "val_acc": 0.5, "test_acc": 0.9} for m, c in ngram.SETTINGS[2:]]
    summary = ngram.summary(runs + rest)
    assert summary["best_by_mean_val_acc"]["change"] == change_a and summary["best_by_mean_val_acc"]["min_freq"] == mf_a
    second = summary["settings"][1]
    assert second["seeds"] == [0, 1] and second["mean_val_acc"] == 0.745 and second["mean_test_acc"] == 0.8
