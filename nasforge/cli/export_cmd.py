"""`nasforge export`: retrain and export an experiment's best arch (or a given arch of its space)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nasforge.cli.common import add_storage, exported_files, scores_line
from nasforge.config import load_experiment
from nasforge.config.typed import int_or_word
from nasforge.errors import ConfigError
from nasforge.evaluators import RetrainableEvaluator
from nasforge.experiment.parallel_members import check_workers
from nasforge.export import (
    DEFAULT_FORMATS,
    FORMATS,
    check_ensemble_seeds,
    check_ensemble_size,
    check_formats,
    check_time_budget,
    export_model,
)
from nasforge.space import Arch


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the best model of an experiment")
    p.add_argument("name", help="experiment name")
    p.add_argument("--path", help="output folder (default: nasforge-out/NAME)")
    p.add_argument("--epochs", type=int, help="epochs to retrain on train+valid (default: the config's)")
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="S",
        help="seconds the retraining may take, for all of an ensemble's members: each trains its epochs, and "
        "those that no longer fit are left out with a warning; a single network's epochs are cut to fit "
        "(default: the config's export.time_budget, else no limit)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--arch", help="export this arch (a JSON file) instead of the best trial's")
    which.add_argument(
        "--trial", type=int, metavar="N", help="export trial N instead of the best (see `nasforge pick`)"
    )
    which.add_argument(
        "--pick", choices=("knee", "best"), help="export the Pareto front's knee, or the best primary objective"
    )
    which.add_argument(
        "--target",
        action="append",
        metavar="BOUND",
        help="an `ofa` experiment: export the subnet of its trained supernet that fits this deployment target "
        "('latency_ms <= 1', 'params <= 2e5', 'flops <= 5e6'; repeat for several bounds), fine-tuned for --epochs "
        "(default 1; 0: its inherited weights as they are), with no new supernet training",
    )
    p.add_argument(
        "--format",
        dest="formats",
        action="append",
        metavar="FMT",
        help=f"what to write besides the weights: {', '.join(FORMATS)} or all; comma-separated or repeated "
        f"(default: the config's export.formats, else {','.join(DEFAULT_FORMATS)})",
    )
    p.add_argument(
        "--ensemble",
        type=int,
        metavar="K",
        help="retrain the K best distinct archs and export them as one model averaging their probabilities "
        "(default: the config's export.ensemble, else 1)",
    )
    p.add_argument(
        "--ensemble-seeds",
        type=int,
        metavar="S",
        help="retrain each exported arch S times, with seeds SEED, SEED+1, ..., and average them all "
        "(default: the config's export.ensemble_seeds, else 1)",
    )
    p.add_argument(
        "--workers",
        type=int_or_word,
        metavar="N",
        help="ensemble members retrained at once, each in its own process with its share of the cores: N or auto "
        "(default: the config's export.workers, else 1)",
    )
    p.add_argument("--seed", type=int, help="the retraining's seed (default: the experiment's seed)")
    p.add_argument(
        "--inherit",
        action=argparse.BooleanOptionalAction,
        help="start the retrain from the weights the trial trained in the search, saved when it ran with "
        "export.inherit (or keep_weights); --no-inherit: from scratch (default: the config's export.inherit)",
    )
    add_storage(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    experiment = load_experiment(args.name, args.storage)
    export_cfg = (experiment.spec or {}).get("export", {})
    path = args.path or export_cfg.get("path") or f"nasforge-out/{args.name}"
    epochs = args.epochs if args.epochs is not None else export_cfg.get("epochs")
    if args.target:
        return export_target(args, experiment, path)
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, but got {epochs}.")
    if args.time_budget is not None:
        check_time_budget(args.time_budget, "--time-budget")  # Experiment.export checks it too, but not --arch's
    budget = args.time_budget if args.time_budget is not None else export_cfg.get("time_budget")
    formats = check_formats(args.formats or export_cfg.get("formats") or DEFAULT_FORMATS)
    ensemble = check_ensemble_size(args.ensemble if args.ensemble is not None else export_cfg.get("ensemble", 1))
    seeds = check_ensemble_seeds(
        args.ensemble_seeds if args.ensemble_seeds is not None else export_cfg.get("ensemble_seeds", 1)
    )
    inherit = args.inherit if args.inherit is not None else bool(export_cfg.get("inherit", False))
    workers = check_workers(args.workers if args.workers is not None else export_cfg.get("workers", 1), "--workers")
    if args.arch and args.inherit:
        raise ConfigError("--arch retrains an arch that no trial trained, so it has no weights to inherit; drop one.")
    if args.arch and args.ensemble not in (None, 1):
        raise ConfigError(f"--arch exports that one arch, so it cannot be an ensemble of {ensemble}; drop one.")
    if args.arch and args.ensemble_seeds not in (None, 1):
        raise ConfigError(
            f"--arch exports one network trained once; --ensemble-seeds {seeds} needs the experiment's own trials "
            "(drop --arch, and pick the trial with --trial or --pick)."
        )
    if args.arch:
        try:
            text = Path(args.arch).read_text()
        except OSError as exc:
            raise ConfigError(f"Cannot read the arch file {args.arch!r}: {exc}") from exc
        arch = experiment.space.validate(Arch.from_json(text))
        evaluator = experiment.evaluator
        if not isinstance(evaluator, RetrainableEvaluator):
            raise ConfigError(
                f"--arch needs an evaluator that can retrain (a RetrainableEvaluator such as ClassificationEvaluator), "
                f"but this experiment has {type(evaluator).__name__}."
            )
        space = evaluator.final_space(experiment.space)
        model, metrics = evaluator.train_final(
            space, arch, epochs or 1, experiment.seed if args.seed is None else args.seed, time_budget=budget
        )
        folder = export_model(
            model,
            space,
            arch,
            path,
            metrics,
            evaluator.input_shape,
            evaluator.preprocessing,
            formats,
            evaluator.example_input(),
        )
    else:
        trial = args.trial
        if args.pick is not None:
            picked = experiment.pick(args.pick)
            if picked is None:
                raise ConfigError(f"Experiment {args.name!r} has no completed trial that meets its constraints.")
            trial = picked.number
        folder, metrics = experiment.export(
            path,
            epochs=epochs,
            seed=args.seed,
            trial=trial,
            formats=formats,
            ensemble=ensemble,
            ensemble_seeds=seeds,
            time_budget=budget,
            inherit=inherit,
            workers=workers,
        )
    report_export(metrics, experiment)
    summary = scores_line(metrics, "the export")
    if summary is not None:
        print(summary)
    print(exported_files(folder))
    return 0


def export_target(args: argparse.Namespace, experiment: Any, path: str) -> int:
    """`--target`: the subnet of the experiment's trained supernet that fits the target, exported."""
    from nasforge.experiment.specialise import specialise_export

    for flag in ("ensemble", "ensemble_seeds", "inherit", "workers"):
        if getattr(args, flag) not in (None, 1, False):
            raise ConfigError(
                f"--target exports one subnet with its inherited weights; drop --{flag.replace('_', '-')}."
            )
    epochs = 1 if args.epochs is None else args.epochs
    if epochs < 0:
        raise ConfigError(f"--epochs of a --target export must be >= 0 (0: no fine-tuning), but got {epochs}.")
    export_cfg = (experiment.spec or {}).get("export", {})
    formats = check_formats(args.formats or export_cfg.get("formats") or DEFAULT_FORMATS)
    folder, metrics = specialise_export(experiment, args.target, path, epochs, args.seed, args.time_budget, formats)
    bounds = ", ".join(f"{k} {metrics[k]:.4g}" for k in ("params", "flops", "latency_ms") if k in metrics)
    print(f"subnet for {' and '.join(args.target)}: {bounds}; through the supernet {metrics['supernet_val_acc']:.4f}")
    summary = scores_line(metrics, f"the subnet fine-tuned {epochs} epoch(s)")
    if summary is not None:
        print(summary)
    print(exported_files(folder))
    return 0


def report_export(metrics: dict[str, float], experiment: Any) -> None:
    """Print the exported network's latency, measured again, against the experiment's latency constraints."""
    if "latency_ms" not in metrics:
        return
    print(f"latency of the exported model, measured again: {metrics['latency_ms']:.3f} ms")
    for c in experiment.constraints:
        if c.metric == "latency_ms" and not c.holds(metrics["latency_ms"]):
            print(
                f"warning: the exported model breaks the constraint {c} when measured again (the search measured "
                f"{metrics.get('search_latency_ms', float('nan')):.3f} ms); the machine may be busier now.",
                file=sys.stderr,
            )
