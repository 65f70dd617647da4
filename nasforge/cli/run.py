"""`nasforge run`: search with a YAML config or a named preset, then export the best model."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from nasforge import config as configs
from nasforge.cli.common import exported_files, scores_line
from nasforge.cli.export_cmd import report_export
from nasforge.cli.progress import ProgressBar
from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.experiment import Experiment

DEFAULT_PRESET = "fashion_mnist"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run (or resume) a search", description=__doc__)
    p.add_argument(
        "config",
        nargs="?",
        default=DEFAULT_PRESET,
        help=f"YAML config file or preset name (default: {DEFAULT_PRESET}; see `nasforge presets`)",
    )
    # the keys of the fixed sections that have a flag: their help and type come from the typed config
    configs.add_flags(p, configs.TopSection)
    p.add_argument(
        "--strategy", help="strategy name, e.g. evolution or random (the config's middleware keys still apply)"
    )
    p.add_argument(
        "--objective",
        action="append",
        metavar="DIR:METRIC",
        help="an objective, e.g. max:val_acc; repeat for several (replaces the config's objectives)",
    )
    p.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar="EXPR",
        help="a hard limit such as 'latency_ms <= 5' or 'params <= 1e6', checked before training when it can be "
        "(repeatable; added to the config's)",
    )
    configs.add_flags(p, configs.RunSection)
    p.add_argument("--workers", type=int, help="parallel workers (1: in-process; more: a local pool, or Ray's actors)")
    p.add_argument(
        "--executor",
        choices=["sequential", "pool", "ray"],
        help="where trials run: in this process, local worker processes, or a Ray cluster",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="run on this Ray cluster ('auto', host:port or ray://host:port); implies --executor ray",
    )
    p.add_argument("--gpus-per-trial", type=float, metavar="G", help="GPUs per trial: 1, 2, ... or a share: 0.5, 0.25")
    configs.add_flags(p, configs.MiddlewareSection)
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set strategy.population_size=10 (repeatable)",
    )
    configs.add_flags(p, configs.ExportSection)
    p.add_argument("--no-export", action="store_true", help="skip retraining and export")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=main)


def resolve_config(args: argparse.Namespace) -> dict:
    source = args.config
    if os.path.isfile(source) or source.endswith((".yaml", ".yml")):
        cfg = configs.load_file(source)
    else:
        cfg = configs.load_preset(source)
    for key, value in configs.flag_values(args, configs.TopSection).items():
        cfg[key] = value
    if args.objective:
        cfg["objective"] = args.objective if len(args.objective) > 1 else args.objective[0]
    if args.constraint:
        cfg["constraints"] = [*configs.constraint_list(cfg.get("constraints")), *args.constraint]
    section = cfg.get("strategy")
    if args.strategy is not None:  # a new strategy, without the old one's options but in the same middleware
        kept = {k: v for k, v in section.items() if k in configs.MIDDLEWARE_KEYS} if isinstance(section, dict) else {}
        cfg["strategy"] = {"name": args.strategy, **kept}
    for typed in (configs.RunSection, configs.MiddlewareSection, configs.ExportSection):
        values = configs.flag_values(args, typed)
        if values:  # set as given (typed by the parser), not written out and parsed again
            old = cfg.get(typed.section)
            cfg[typed.section] = {**(old if isinstance(old, dict) else {"name": old} if old else {}), **values}
    cfg["executor"] = executor_section(cfg.get("executor"), args)
    return configs.validate(configs.apply_overrides(cfg, args.overrides))


def executor_section(section: object, args: argparse.Namespace) -> object:
    """The config's executor section with --workers, --executor, --ray-address and --gpus-per-trial applied."""
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, but got {args.workers}.")
    if args.gpus_per_trial is not None and args.gpus_per_trial < 0:
        raise ConfigError(f"--gpus-per-trial must be >= 0, but got {args.gpus_per_trial:g}.")
    if args.executor is None and args.ray_address is None and args.workers is None and args.gpus_per_trial is None:
        return section if section is not None else {"name": "sequential"}
    old = dict(section) if isinstance(section, dict) else {"name": "sequential"}
    name = "ray" if args.ray_address is not None else args.executor
    if args.ray_address is not None and args.executor not in (None, "ray"):
        raise ConfigError(f"--ray-address runs on Ray, but --executor {args.executor} was given; drop one of them.")
    if name is None:  # --workers alone: one runs in-process, more in a local pool (Ray stays Ray)
        name = old.get("name", "sequential")
        if name == "sequential" and (args.workers or 1) > 1:
            name = "pool"
        elif name == "pool" and args.workers == 1:
            name = "sequential"
    new: dict[str, object] = {"name": name}
    if name != "sequential":
        keep = {"n_workers", "gpus_per_trial"} if name != old.get("name") else set(old) - {"name"}
        new.update({k: v for k, v in old.items() if k in keep})
        if args.workers is not None:
            new["n_workers"] = args.workers
        if args.gpus_per_trial is not None:
            new["gpus_per_trial"] = args.gpus_per_trial
        if args.ray_address is not None:
            new["address"] = args.ray_address
    elif args.gpus_per_trial:
        raise ConfigError("--gpus-per-trial needs worker processes: give --workers 2 (or more) or --executor pool/ray.")
    return new


def _describe(strategy: object) -> str:
    """`RegularizedEvolution`, or with middleware `Retry(Deduplicate(RegularizedEvolution))`."""
    from nasforge.oneshot import OneShotStrategy
    from nasforge.strategies import StrategyMiddleware

    name = type(strategy).__name__
    if isinstance(strategy, OneShotStrategy):
        return f"{name}({type(strategy.method).__name__})"
    return f"{name}({_describe(strategy.inner)})" if isinstance(strategy, StrategyMiddleware) else name


def main(args: argparse.Namespace) -> int:
    conf = configs.parse_config(resolve_config(args))
    run_cfg, export_cfg = conf.run, conf.export
    if run_cfg.max_trials is None and run_cfg.timeout is None and run_cfg.total_time is None:
        raise ConfigError(
            "Give run.max_trials, run.timeout or run.total_time (e.g. --max-trials 50), or the search never ends."
        )
    budget = conf.budget
    experiment = configs.build_experiment(conf)
    out = sys.stdout
    print(
        f"nasforge: experiment {experiment.name!r} in {experiment.storage}: {_describe(experiment.strategy)} on "
        f"{type(experiment.space).__name__} ({experiment.space.size():.3g} archs), objective "
        f"{experiment.objective.direction} {experiment.objective.metric}",
        file=out,
        flush=True,
    )
    callbacks = [] if args.quiet else [ProgressBar()]
    try:
        experiment.run(max_trials=run_cfg.max_trials, timeout=run_cfg.timeout, callbacks=callbacks, total_time=budget)
    except KeyboardInterrupt:
        print(
            f"\nnasforge: stopped; finished trials are saved. Run the same command again to resume {experiment.name!r}.",
            file=sys.stderr,
        )
        return 130
    row = experiment.storage.get_experiment(experiment.name)
    if row is not None and row.status == "running" and not args.no_export and export_cfg.path:
        print(
            f"nasforge: other drivers still run {experiment.name!r}, so this one does not export; the last to "
            f"finish does (or `nasforge export {experiment.name}` once they are done).",
            file=out,
        )
        return 0
    if row is not None and row.status == "paused":  # stopped before the strategy could propose (a supernet)
        print(
            f"nasforge: stopped before the search finished; its progress is saved. Run the same command again "
            f"to continue {experiment.name!r}.",
            file=out,
        )
        return 0
    best = experiment.best_trial
    if best is None:
        limits = f" that meets {', '.join(map(str, experiment.constraints))}" if experiment.constraints else ""
        cut = sum(1 for t in experiment.trials if "cut_at_deadline" in t.info)
        if cut:
            print(
                f"nasforge: no trial{limits} finished before the search's deadline ({cut} were cut there); give a "
                "longer --total-time, or trials that take less (evaluator.trial_time, epochs).",
                file=out,
            )
            return 1
        print(f"nasforge: no trial{limits} completed; see `nasforge trials` for the errors.", file=out)
        return 1
    if experiment.rejected:
        print(f"{experiment.rejected} proposals broke the constraints before training (not stored)", file=out)
    pick = export_cfg.pick
    if len(experiment.objectives) > 1:
        front = experiment.pareto_front()
        print(f"Pareto front: {len(front)} trials (`nasforge pareto {experiment.name}`)", file=out)
        best = experiment.pick(pick) or best
    names = dict.fromkeys([*(o.metric for o in experiment.objectives), *(c.metric for c in experiment.constraints)])
    shown = "  ".join(f"{m}={best.metrics.get(m, float('nan')):.4g}" for m in names)
    label = "best" if pick == "best" or len(experiment.objectives) == 1 else pick
    print(f"{label} trial {best.number}: {shown}  arch={best.arch.to_json()}", file=out)
    if args.no_export or not export_cfg.path:
        return 0
    epochs = export_cfg.epochs
    time_budget = export_cfg.time_budget
    if budget is not None:  # the retrain gets what the search left of the job's budget
        left = budget.retrain_time()
        time_budget = left if time_budget is None else min(time_budget, left)
    limit = f" (for {time_budget:.0f} s)" if time_budget else ""
    ensemble, seeds = export_cfg.ensemble, export_cfg.ensemble_seeds
    what = "the best arch" if ensemble == 1 else f"the {ensemble} best archs"
    if seeds > 1:
        what += f" {seeds} times{' each' if ensemble > 1 else ''}, with successive seeds"
    from nasforge.experiment.parallel_members import resolve_workers

    at_once = resolve_workers(export_cfg.workers, ensemble * seeds)
    if ensemble * seeds > 1:
        what += ", one after another," if at_once == 1 else f", {at_once} at a time in their own processes,"
    if export_cfg.inherit:
        what += ", starting from the weights it trained in the search,"
    print(
        f"retraining {what} on train+valid for "
        f"{'its search epochs' if epochs is None else f'up to {epochs} epochs'}{limit}, then testing ...",
        file=out,
        flush=True,
    )
    start = time.monotonic()

    def log(epoch: int, metrics: dict) -> None:
        if epoch == 1 and "estimated_epoch_time" in metrics:
            measured = f", measured {metrics['epoch_time']:.1f} s" if "epoch_time" in metrics else ""
            fits = f": about {time_budget / metrics['estimated_epoch_time']:.1f} epochs fit" if time_budget else ""
            print(
                f"  epoch time: {metrics['estimated_epoch_time']:.1f} s estimated on the first steps{measured}{fits}",
                file=out,
                flush=True,
            )
        of = f"/{metrics['epochs']}" if not time_budget else ""
        print(
            f"  epoch {epoch}{of}: train_loss={metrics['train_loss']:.4f} ({time.monotonic() - start:.0f} s)",
            file=out,
            flush=True,
        )

    folder, metrics = experiment.export(
        export_cfg.path,
        epochs=epochs,
        log=log,
        time_budget=export_cfg.time_budget,
        trial=best.number if label == "knee" else None,
        formats=export_cfg.formats,
        ensemble=ensemble,
        ensemble_seeds=seeds,
        inherit=export_cfg.inherit,
        workers=export_cfg.workers,
    )
    if int(metrics["trial"]) != best.number:
        print(
            f"exported trial {int(metrics['trial'])}: trial {best.number} broke a constraint when measured again",
            file=out,
        )
    summary = scores_line(metrics)
    if summary is not None:
        print(summary, file=out)
    if "inherited" in metrics:
        print(
            f"  the retrain started from the weights trial {int(metrics['trial'])} trained in the search "
            f"({100 * metrics['inherited']:.0f} % of the network's values)",
            file=out,
        )
    if "best_member_test_acc" in metrics:
        print(
            f"  an ensemble of {int(metrics['ensemble_size'])}; its best-ranked member alone: "
            f"{100 * metrics['best_member_test_acc']:.2f} %, the members' mean: "
            f"{100 * metrics['member_mean_test_acc']:.2f} %",
            file=out,
        )
    report_export(metrics, experiment)
    if "job_budget" in metrics:
        print(job_account(experiment, metrics), file=out)
    print(exported_files(folder), file=out)
    return 0


def job_account(experiment: Experiment, metrics: dict) -> str:
    """Where the job's budget went: `time: search 7:01 (14 trials, 1 cut) + retrain 7:20 (...) + export ...`."""
    trials = experiment.trials
    cut = sum(1 for t in trials if "cut_at_deadline" in t.info)
    epochs = f"{metrics['epochs']:.1f} epochs" if "epochs" in metrics else "retrained"
    if "ensemble_size" in metrics:
        at_once = " at once" if metrics.get("ensemble_workers", 1.0) > 1 else ""
        epochs = f"{int(metrics['ensemble_size'])} members{at_once}, the first {epochs}"
    if "epoch_time" in metrics:
        epochs += f" of {metrics['epoch_time']:.1f} s"
        if "estimated_epoch_time" in metrics:
            epochs += f", first-steps estimate {metrics['estimated_epoch_time']:.1f} s"
    parts = [
        f"search {_mmss(metrics.get('job_search_time', 0.0))} ({len(trials)} trials"
        + (f", {cut} cut at the search's deadline" if cut else "")
        + ")",
        f"retrain {_mmss(metrics.get('job_retrain_time', 0.0))} ({epochs})",
        f"export {_mmss(metrics.get('job_export_time', 0.0))}",
    ]
    return f"time: {' + '.join(parts)} = {_mmss(metrics['job_time'])} of {_mmss(metrics['job_budget'])}"


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
