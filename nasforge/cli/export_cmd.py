"""`nasforge export`: retrain and export an experiment's best arch (or a given arch of its space)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nasforge.cli.common import add_storage
from nasforge.errors import ConfigError
from nasforge.evaluators import ClassificationEvaluator
from nasforge.experiment import load_experiment
from nasforge.export import export_model
from nasforge.space import Arch


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the best model of an experiment")
    p.add_argument("name", help="experiment name")
    p.add_argument("--path", help="output folder (default: nasforge-out/NAME)")
    p.add_argument("--epochs", type=int, help="epochs to retrain on train+valid (default: the config's)")
    p.add_argument("--arch", help="export this arch (a JSON file) instead of the best trial's")
    p.add_argument("--seed", type=int, default=0)
    add_storage(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    experiment = load_experiment(args.name, args.storage)
    export_cfg = (experiment.spec or {}).get("export", {})
    path = args.path or export_cfg.get("path") or f"nasforge-out/{args.name}"
    epochs = args.epochs if args.epochs is not None else export_cfg.get("epochs")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, but got {epochs}.")
    if args.arch:
        try:
            text = Path(args.arch).read_text()
        except OSError as exc:
            raise ConfigError(f"Cannot read the arch file {args.arch!r}: {exc}") from exc
        arch = experiment.space.validate(Arch.from_json(text))
        evaluator = experiment.evaluator
        if not isinstance(evaluator, ClassificationEvaluator):
            raise ConfigError(f"--arch needs a training evaluator, but this experiment has {type(evaluator).__name__}.")
        model, metrics = evaluator.train_final(experiment.space, arch, epochs or 1, args.seed)
        folder = export_model(model, experiment.space, arch, path, metrics, evaluator.input_shape)
    else:
        folder, metrics = experiment.export(path, epochs=epochs, seed=args.seed)
    if "test_acc" in metrics:
        print(f"test accuracy: {100 * metrics['test_acc']:.2f} %")
    print(f"exported to {folder}/")
    return 0
