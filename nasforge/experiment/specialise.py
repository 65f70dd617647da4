"""Train once, specialise many, for an experiment: export the subnet of its trained `ofa` supernet that
fits a deployment target, with no new supernet training (`nasforge export NAME --target 'latency_ms <= 1'`).

The experiment's `ofa` strategy trained the supernet and left its checkpoint in the experiment's
`checkpoint_dir`. `specialise_export` searches that supernet again under the target (`OFA.specialise`:
parameters, FLOPs or latency as the `OFA` budget of the same name), takes the subnet found with its
inherited weights and recalibrated batch norms, then fine-tunes it on train + valid for `epochs` (from those
weights, as `export.inherit` does for a trial's) or, with `epochs=0`, exports it as inherited, and tests it
once. Each target is one call: one supernet serves them all.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nasforge.errors import ConfigError
from nasforge.multiobjective import Constraint, parse_constraints

if TYPE_CHECKING:
    from nasforge.experiment.experiment import Experiment
    from nasforge.oneshot import OFA

__all__ = ["TARGET_BUDGETS", "ofa_method", "specialise_export", "target_budget"]

#: what a target may bound, and the `OFA` budget that bounds it
TARGET_BUDGETS = {"params": "max_subnet_params", "flops": "max_subnet_flops", "latency_ms": "max_subnet_latency_ms"}


def target_budget(targets: Any) -> dict[str, float | int]:
    """`OFA` budgets from constraints such as `'latency_ms <= 1'` or `['params <= 2e5', 'flops <= 5e6']`."""
    budget: dict[str, float | int] = {}
    for c in parse_constraints(targets):
        if c.metric not in TARGET_BUDGETS or c.op != "<=":
            raise ConfigError(
                f"A deployment target bounds {', '.join(TARGET_BUDGETS)} from above ('latency_ms <= 1'), but got "
                f"{str(c)!r}."
            )
        name = TARGET_BUDGETS[c.metric]
        budget[name] = float(c.bound) if c.metric == "latency_ms" else int(c.bound)
    if not budget:
        raise ConfigError("Give at least one deployment target, such as 'latency_ms <= 1' or 'params <= 2e5'.")
    return budget


def ofa_method(experiment: Experiment) -> OFA:
    """The `OFA` method of an experiment's strategy (through any middleware), or a one-line error."""
    from nasforge.oneshot import OFA

    strategy: Any = experiment.strategy
    while strategy is not None and not hasattr(strategy, "method"):
        strategy = getattr(strategy, "inner", None)
    method = getattr(strategy, "method", None)
    if not isinstance(method, OFA):
        raise ConfigError(
            f"Specialising for a target needs an experiment whose strategy trained a weight-entangled supernet "
            f"(`ofa`), but {experiment.name!r} has {type(experiment.strategy).__name__}; run it with "
            "--strategy ofa first."
        )
    return method


def specialise_export(
    experiment: Experiment,
    targets: str | Sequence[str | Constraint],
    path: str | Path,
    epochs: int = 1,
    seed: int | None = None,
    time_budget: float | None = None,
    formats: Sequence[str] | str | None = None,
) -> tuple[Path, dict[str, float]]:
    """Export the subnet of `experiment`'s trained supernet that best fits `targets` to the folder `path`:
    fine-tuned for `epochs` epochs on train + valid from its inherited weights (0: as inherited), tested once.
    The metrics hold the target's figures of the subnet (`params`, `flops`, `latency_ms` when bounded) and its
    accuracy through the supernet (`supernet_val_acc`)."""
    from nasforge.evaluators import RetrainableEvaluator
    from nasforge.export import DEFAULT_FORMATS, check_formats, export_model
    from nasforge.oneshot.strategy import CHECKPOINT_FILE

    budget = target_budget(targets)
    wanted = check_formats(formats if formats is not None else DEFAULT_FORMATS)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        raise ConfigError(
            f"`epochs` of a specialised export must be an int >= 0 (0: no fine-tuning), but got {epochs!r}."
        )
    method = ofa_method(experiment)
    # the method's seed is the one the run gave it (drawn from the experiment's seed when the strategy is set
    # up), which the checkpoint's signature holds
    experiment.strategy.setup(experiment.space, experiment.objective, experiment.seed, experiment.objectives)
    evaluator = experiment.evaluator
    if not isinstance(evaluator, RetrainableEvaluator):
        raise ConfigError(f"Exporting a subnet needs an evaluator that retrains, but got {type(evaluator).__name__}.")
    checkpoint = experiment.checkpoint_dir / CHECKPOINT_FILE
    search_data = getattr(evaluator, "search_data", None)
    if not callable(search_data):
        raise ConfigError(f"{type(evaluator).__name__} has no search data (search_data()) to search a supernet on.")
    train, valid = search_data()  # the supernet's own data
    result = method.specialise(experiment.space, train, valid, checkpoint, **budget)
    arch = result.arch
    supernet = method.load_supernet(experiment.space, checkpoint)
    size = method.batch_size
    calibration = [train.x[i : i + size] for i in range(0, min(len(train), method.calib_batches * size), size)]
    stats = supernet.recalibrate(arch, calibration)
    network = supernet.extract(arch, stats)
    seed = experiment.seed if seed is None else seed
    space = evaluator.final_space(experiment.space)
    with tempfile.TemporaryDirectory(prefix="nasforge-subnet-") as tmp:
        weights = Path(tmp) / "subnet.pt"
        torch.save(network.state_dict(), weights)
        if epochs > 0:
            model, metrics = evaluator.train_final(
                space, arch, epochs, seed, time_budget=time_budget, weights_in=str(weights)
            )
        else:
            model, metrics = network.eval(), dict(evaluator.test_metrics(network))
    metrics = {k: float(v) for k, v in metrics.items()}
    metrics.update({k.removeprefix("derive_"): float(v) for k, v in result.info.items() if k != "derive_evaluated"})
    metrics["supernet_val_acc"] = metrics.pop("best_supernet_acc", float("nan"))
    metrics["fine_tune_epochs"] = float(epochs)
    folder = export_model(
        model,
        space,
        arch,
        path,
        metrics,
        evaluator.input_shape,
        evaluator.preprocessing,
        wanted,
        evaluator.example_input(),
    )
    return folder, metrics
