"""The main job against Optuna and random search, side by side, at the same wall budget on the same machine.

Every method gets the same job: 15 minutes of wall time (`--total-time`) from the start of its search to a
retrained, tested model, on the same data split (Fashion-MNIST, 10,000 held-out training images for
validation), the same space (the preset's `cnn` space) and the same trainer (`nasforge.evaluators.training`):

- `nasforge`: `nasforge run fashion_mnist`, exactly as the README's main job runs it (a subprocess);
- `random`: the same command with `--strategy random` (the preset's evaluation, random proposals);
- `optuna`: Optuna's TPE sampler with a Hyperband pruner over the same space's decisions (conditional
  ones asked only when active, define-by-run), in as many worker processes as the preset's pool has,
  sharing one journal file; each trial trains `--optuna-epochs` epochs on `--optuna-fraction` of the
  training split and reports its validation accuracy (on 2,000 validation images, the last epoch on all
  10,000) every epoch, so the pruner can stop it. Its search ends when what is left of the budget is the
  preset's retrain share and export reserve, as the main job's does; the best trial's arch is then
  retrained with the same `train_final` for the time left and tested once.

Each run is one record entry: test accuracy, trials, wall time and where it went, the chosen arch. Runs go
one after another; `--cpus 0` pins every run to core 0 (the 1-core, slow-machine case), so two invocations
with `--cpus 0` and `--cpus 1` can run side by side.

    python benchmarks/mainjob_peers.py --methods nasforge optuna random --seeds 0 1 2
    python benchmarks/mainjob_peers.py --methods nasforge optuna random --seeds 0 1 2 --cpus 0

Settings are chosen without the test set: `--select` holds out 10,000 more training images as the test
split of every method (`FashionMNIST(dev_test=10000)`; the official test images are not read) and records
their accuracy as `dev_acc` in `records/mainjob/mainjob_select_*`, which the README's table ignores.
`--set KEY=VALUE` (repeatable) passes a config override to the `nasforge` method's runs, to compare a
setting with the preset's in such a selection run:

    python benchmarks/mainjob_peers.py --select --methods nasforge --cpus 0 --set strategy.name=asha
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import LoadSampler, Record

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("nasforge", "optuna", "random")
DEV_TEST = 10_000  # `--select`: training images held out as the test split


def nasforge_run(method: str, seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The README's command, in a subprocess (pinned like this process), timed from the outside."""
    cmd = [
        str(Path(sys.executable).parent / "nasforge"),
        "run",
        "fashion_mnist",
        "--seed",
        str(seed),
        "--storage",
        str(folder / "nas.db"),
        "--export",
        str(folder / "out"),
        "--total-time",
        str(args.total_time),
        "--quiet",
    ]
    if method == "random":
        cmd += ["--strategy", "random"]
    if method == "nasforge":
        for override in args.set or []:
            cmd += ["--set", override]
    if args.select:
        cmd += ["--set", f"dataset.dev_test={DEV_TEST}"]
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
    wall = time.time() - started
    (folder / "log.txt").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout)[-2000:], "wall_s": wall}
    metrics = json.loads((folder / "out" / "metrics.json").read_text())
    arch = json.loads((folder / "out" / "arch.json").read_text())
    from nasforge.storage import get_storage
    from nasforge.trial import TrialState

    store = get_storage(str(folder / "nas.db"))
    trials = store.get_trials(store.require_experiment("fashion-mnist-cnn").id)
    return {
        "test_acc": metrics["test_acc"],
        "best_val_acc": metrics.get("search_val_acc"),
        "trials": len(trials),
        "completed": sum(t.state is TrialState.COMPLETE for t in trials),
        "pruned": sum(t.state is TrialState.PRUNED for t in trials),
        "wall_s": wall,
        "job_s": metrics.get("job_time"),
        "search_s": metrics.get("job_search_time"),
        "retrain_s": metrics.get("job_retrain_time"),
        "export_s": metrics.get("job_export_time"),
        "retrain_epochs": metrics.get("epochs"),
        "inherited": metrics.get("inherited"),  # the part of the retrained network that started from the search's
        "epoch_time": metrics.get("epoch_time"),
        # an ensemble (export.ensemble): its size and its chosen arch's own test accuracy
        "ensemble_size": metrics.get("ensemble_size", 1.0),
        "best_member_test_acc": metrics.get("best_member_test_acc"),
        "estimated_epoch_time": metrics.get("estimated_epoch_time"),
        "arch": arch,
    }


# --- Optuna ----------------------------------------------------------------------------------------------------
def preset(select: bool = False) -> dict[str, Any]:
    from nasforge.config import load_preset

    cfg = load_preset("fashion_mnist")
    if select:
        cfg["dataset"] = {**cfg["dataset"], "dev_test": DEV_TEST}
    return cfg


def build_space_and_data(select: bool = False) -> tuple[Any, Any]:
    """The preset's space and dataset, built as `nasforge run` builds them (nothing is stored)."""
    from nasforge.config import build_experiment
    from nasforge.storage import InMemoryStorage

    experiment = build_experiment(preset(select), storage=InMemoryStorage())
    return experiment.space, experiment.evaluator.dataset


def suggest_arch(trial: Any, space: Any) -> dict[str, Any]:
    """Ask Optuna for every decision of the space that is active given the answers so far (define-by-run)."""
    arch: dict[str, Any] = {}
    for d in space.decisions:
        if d.is_active(arch):
            arch[d.label] = trial.suggest_categorical(d.label, list(d.values))
    return arch


def optuna_worker(journal: str, seed: int, worker: int, search_deadline: float, args_dict: dict) -> None:
    import optuna
    import torch

    from nasforge.evaluators import ClassificationEvaluator, EvalContext

    torch.set_num_threads(1)  # as the preset's pool workers: one thread each
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, dataset = build_space_and_data(args_dict["select"])
    evaluator = ClassificationEvaluator(
        dataset,
        epochs=args_dict["optuna_epochs"],
        train_fraction=args_dict["optuna_fraction"],
        interim_valid=2000,
    )
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    study = optuna.load_study(
        study_name="mainjob",
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed * 100 + worker, multivariate=True, group=True),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=args_dict["optuna_epochs"]),
    )

    def objective(trial: Any) -> float:
        arch = space.validate(suggest_arch(trial, space))

        def report(step: int, metrics: Any) -> None:
            trial.report(float(metrics["val_acc"]), step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        ctx = EvalContext(space, arch, None, number=trial.number, seed=seed * 1000 + trial.number, report=report)
        return evaluator.evaluate(ctx)["val_acc"]

    while time.time() < search_deadline:
        study.optimize(objective, n_trials=1, catch=(Exception,))


def optuna_run(seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    import optuna

    from nasforge.evaluators import ClassificationEvaluator
    from nasforge.experiment.budget import JobBudget

    cfg = preset()
    run = cfg["run"]
    budget = JobBudget(args.total_time, run.get("retrain_share", 0.5), run.get("export_reserve", 30.0))
    started = time.time()
    budget.start(started)
    journal = str(folder / "optuna.journal")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    optuna.create_study(study_name="mainjob", storage=storage, direction="maximize")
    n_workers = int(cfg["executor"].get("n_workers", 2))
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=optuna_worker, args=(journal, seed, w, budget.search_deadline(), vars(args)))
        for w in range(n_workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    budget.mark("search_end")
    study = optuna.load_study(study_name="mainjob", storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial
    space, dataset = build_space_and_data(args.select)
    arch = space.validate(best.params)
    evaluator = ClassificationEvaluator(dataset, epochs=2)
    budget.mark("retrain_start")
    _, final = evaluator.train_final(
        space, arch, int(cfg["export"].get("epochs", 40)), seed=seed, time_budget=budget.retrain_time()
    )
    budget.mark("retrain_end")
    spent = budget.spent()
    return {
        "test_acc": final["test_acc"],
        "best_val_acc": best.value,
        "trials": len(study.trials),
        "completed": len(done),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        "wall_s": time.time() - started,
        "job_s": spent.get("job_time"),
        "search_s": spent.get("job_search_time"),
        "retrain_s": spent.get("job_retrain_time"),
        "retrain_epochs": final.get("epochs"),
        "epoch_time": final.get("epoch_time"),
        "estimated_epoch_time": final.get("estimated_epoch_time"),
        "arch": json.loads(arch.to_json()),
    }


def summarize(runs: list[dict[str, Any]], key: str = "test_acc") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in sorted({r["method"] for r in runs}):
        accs = [r[key] for r in runs if r["method"] == method and key in r]
        if accs:
            out[method] = {
                "runs": len(accs),
                f"mean_{key}": sum(accs) / len(accs),
                f"min_{key}": min(accs),
                f"max_{key}": max(accs),
                "mean_trials": sum(r["trials"] for r in runs if r["method"] == method and "trials" in r) / len(accs),
            }
    return out


BEGIN, END = "<!-- mainjob-table:begin -->", "<!-- mainjob-table:end -->"


#: the preset's search strategy at the commits of the records made before a record named it
#: (`config["preset_strategy"]`): regularized evolution until 3693e36 switched the preset to ASHA
PRESET_STRATEGY = {"dd0cf4b": "evolution", "dcef677": "evolution", "4690b42": "evolution", "3693e36": "asha"}
#: whether the preset's retrain started from the search's weights (`export.inherit`), at the commits of the
#: records made before a record said so (`config["preset_inherit"]`): from ef868c0 on
PRESET_INHERIT = {"ef868c0": True}
#: whether the preset's ASHA resumed its promotions (`strategy.resume`), at the commits of the records made
#: before a record said so (`config["preset_resume"]`): from ce70ee7 on
PRESET_RESUME = {"ce70ee7": True}


def label(record: dict[str, Any], run: dict[str, Any]) -> str:
    """`nasforge (asha, resume, inherit)`: a nasforge run names the preset's strategy it ran, whether that
    resumed its promotions, whether its retrain started from the search's weights, and the ensemble its export
    made (when more than one network); a random run (the preset's evaluation and retrain) the latter two;
    Optuna, which retrains one network from scratch, its name."""
    config = record.get("config") or {}
    commit = record["commit"][:7]
    inherit = config.get("preset_inherit", PRESET_INHERIT.get(commit, False))
    if run["method"] == "optuna":
        return "optuna"
    members = int(run.get("ensemble_size") or 1)  # what the export made of the preset's ensemble on these cores
    ensemble = f", ensemble of {members}" if members > 1 else ""
    if run["method"] == "random":
        return f"random ({'inherit' if inherit else 'from scratch'}{ensemble})" if inherit or ensemble else "random"
    strategy = config.get("preset_strategy") or PRESET_STRATEGY.get(commit, "?")
    resume = config.get("preset_resume", PRESET_RESUME.get(commit, False))
    return f"nasforge ({strategy}{', resume' if resume else ''}{', inherit' if inherit else ''}{ensemble})"


def _order(method: str) -> tuple[int, str]:
    return METHODS.index(method.split(" ")[0]), method


def shared(record: dict[str, Any], run: dict[str, Any]) -> str | None:
    """Why a run had less of the machine than it was given, if it did: the note its record carries, or a mean
    load above the machine's cores (`LoadSampler`); None when nothing else is known to have run."""
    if run.get("shared_machine"):
        return str(run["shared_machine"])
    cores = record["machine"].get("cpu_count") or run["cores"]
    if run.get("load_mean", 0.0) > cores + 0.5:
        return f"mean load {run['load_mean']:.1f} on a {cores}-core machine"
    return None


def render_table(records: list[dict[str, Any]]) -> str:
    """The README's main-job table from the records: every run (a dagger where something else shared the
    machine, explained under the table), then the mean per method and core count."""
    runs = [(r, {**run, "method": label(r, run)}) for r in records for run in r["runs"]]
    notes: list[str] = []
    lines = [
        "| cores | method | seed | **test accuracy** | trials (cut) | search + retrain + export | retrain epochs "
        "| whole job | record |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for record, run in sorted(runs, key=lambda rr: (-rr[1]["cores"], _order(rr[1]["method"]), rr[1]["seed"])):
        name = Path(record["_path"]).name
        if "test_acc" not in run:
            lines.append(f"| {run['cores']} | {run['method']} | {run['seed']} | failed | | | | | `{name}` |")
            continue
        parts = " + ".join(f"{run.get(k) or 0:.0f}" for k in ("search_s", "retrain_s", "export_s"))
        why = shared(record, run)
        mark = f" †{len(notes) + 1}" if why else ""
        if why:
            notes.append(f"{mark} {run['method']}, seed {run['seed']}, {run['cores']} cores: {why}.")
        lines.append(
            f"| {run['cores']} | {run['method']} | {run['seed']} | **{100 * run['test_acc']:.2f} %**{mark} | "
            f"{run['trials']} ({run.get('pruned', 0)}) | {parts} s | {run.get('retrain_epochs') or 0:.1f} | "
            f"{run['job_s'] / 60:.1f} min | `{name}` |"
        )
    if notes:
        lines += ["", *(f"{note}  " for note in notes)]
    lines += [
        "",
        "| cores | method | runs | **mean test accuracy** | lowest | mean trials |",
        "|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for _, run in runs:
        if "test_acc" in run:
            groups.setdefault((run["cores"], run["method"]), []).append(run)
    for (cores, method), group in sorted(groups.items(), key=lambda kv: (-kv[0][0], _order(kv[0][1]))):
        accs = [g["test_acc"] for g in group]
        lines.append(
            f"| {cores} | {method} | {len(group)} | **{100 * sum(accs) / len(accs):.2f} %** | "
            f"{100 * min(accs):.2f} % | {sum(g['trials'] for g in group) / len(group):.1f} |"
        )
    return "\n".join(lines)


def readme_block() -> str:
    """The README's block as the records make it (what `--readme` writes and the tests compare)."""
    from records import RECORDS

    records = []
    for path in sorted((RECORDS / "mainjob").glob("mainjob_peers_*.json")):
        record = json.loads(path.read_text())
        if record.get("runs"):  # not a name reserved by a benchmark that has not finished a run yet
            records.append({**record, "_path": str(path)})
    return f"{BEGIN}\n{render_table(records)}\n{END}"


SELECT_BEGIN, SELECT_END = "<!-- mainjob-select:begin -->", "<!-- mainjob-select:end -->"


def setting(record: dict[str, Any]) -> str:
    """What a selection run compared: the preset as it was at the record's commit, with its `--set` overrides."""
    sets = record.get("config", {}).get("set") or []
    preset = f"the preset at {record['commit'][:7]}"
    return f"{preset} with " + "; ".join(f"`{s}`" for s in sets) if sets else preset


def render_select(records: list[dict[str, Any]]) -> str:
    """docs/main-job.md's table of the selection runs (`--select`): the final model scored on 10,000 held-out
    training images, never on the test set."""
    lines = [
        "| cores | setting | seed | **dev accuracy** | trials (cut) | retrain epochs | record |",
        "|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[int, str], list[float]] = {}
    for record in sorted(records, key=lambda r: (setting(r), r["_path"])):
        for run in sorted(record["runs"], key=lambda r: r["seed"]):
            name = Path(record["_path"]).name
            if "dev_acc" not in run:
                lines.append(f"| {run['cores']} | {setting(record)} | {run['seed']} | failed | | | `{name}` |")
                continue
            groups.setdefault((run["cores"], setting(record)), []).append(run["dev_acc"])
            lines.append(
                f"| {run['cores']} | {setting(record)} | {run['seed']} | **{100 * run['dev_acc']:.2f} %** | "
                f"{run['trials']} ({run.get('pruned', 0)}) | {run.get('retrain_epochs') or 0:.1f} | `{name}` |"
            )
    lines += ["", "| cores | setting | runs | **mean dev accuracy** | lowest |", "|---|---|---|---|---|"]
    for (cores, what), accs in sorted(groups.items()):
        lines.append(
            f"| {cores} | {what} | {len(accs)} | **{100 * sum(accs) / len(accs):.2f} %** | {100 * min(accs):.2f} % |"
        )
    return "\n".join(lines)


def select_block() -> str:
    """docs/main-job.md's block of selection runs, as the records make it."""
    from records import RECORDS

    records = []
    for path in sorted((RECORDS / "mainjob").glob("mainjob_select_*.json")):
        record = json.loads(path.read_text())
        if record.get("runs"):
            records.append({**record, "_path": str(path)})
    return f"{SELECT_BEGIN}\n{render_select(records)}\n{SELECT_END}"


def _write_block(path: Path, begin: str, end: str, block: str) -> None:
    text = path.read_text()
    start, stop = text.index(begin), text.index(end) + len(end)
    path.write_text(text[:start] + block + text[stop:])


def write_readme() -> None:
    """The README's table of the comparison runs and docs/main-job.md's table of the selection runs."""
    _write_block(ROOT / "README.md", BEGIN, END, readme_block())
    _write_block(ROOT / "docs" / "main-job.md", SELECT_BEGIN, SELECT_END, select_block())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--total-time", type=float, default=900.0, help="the whole job's wall budget, seconds")
    parser.add_argument("--cpus", help="pin every run to these cores (taskset list, e.g. 0); default: all")
    parser.add_argument("--optuna-epochs", type=int, default=4)
    parser.add_argument("--optuna-fraction", type=float, default=0.125)
    parser.add_argument(
        "--readme", action="store_true", help="only write the README's and docs/main-job.md's tables from the records"
    )
    parser.add_argument(
        "--select",
        action="store_true",
        help=f"choose settings: {DEV_TEST} training images stand in for the test set (records mainjob_select_*)",
    )
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="a config override of the nasforge runs")
    args = parser.parse_args()
    if args.readme:
        write_readme()
        return
    if args.cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    cores = len(os.sched_getaffinity(0))
    kind = "select" if args.select else "peers"
    key = "dev_acc" if args.select else "test_acc"
    chosen = preset()
    config = {
        **vars(args),
        "cores": cores,
        "preset_strategy": chosen["strategy"]["name"],
        "preset_inherit": bool(chosen.get("export", {}).get("inherit", False)),
        "preset_resume": bool(chosen["strategy"].get("resume", False)),
    }
    record = Record(f"mainjob_{kind}_{cores}core", area="mainjob", config=config)
    print(f"record: {record.path}", flush=True)
    for seed in args.seeds:
        for method in args.methods:
            with tempfile.TemporaryDirectory(prefix=f"mainjob-{method}-{seed}-") as tmp:
                folder = Path(tmp)
                with LoadSampler() as load:  # whether anything else shared the machine meanwhile
                    one = (
                        optuna_run(seed, args, folder)
                        if method == "optuna"
                        else nasforge_run(method, seed, args, folder)
                    )
            run = {"method": method, "seed": seed, "cores": cores, **one, **load.summary()}
            if args.select and "test_acc" in run:  # the held-out training images, not the test set
                run["dev_acc"] = run.pop("test_acc")
            record.add_run(run)
            shown = f"{100 * run[key]:.2f} %" if key in run else f"error: {run.get('error', '')[-300:]}"
            print(f"{method} seed {seed}: {shown}, {run.get('trials', 0)} trials, {run['wall_s']:.0f} s", flush=True)
    path = record.save(summary=summarize(record.runs, key))
    print(json.dumps(summarize(record.runs, key), indent=1))
    print(f"record: {path}")


if __name__ == "__main__":
    main()
