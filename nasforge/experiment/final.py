"""The end of a search: retrain the chosen trial's arch (or an ensemble of the best) and export it.

`Experiment.export` delegates here. The chosen trial is the best that meets the constraints, measured again
for latency where a latency constraint must hold here and now; an evaluator that can retrain
(`RetrainableEvaluator`) trains each member from scratch on train + valid within the job budget's time left,
and tests it once; the network is then written in the asked formats, each checked on a real batch.

With `inherit`, a member's retrain starts from the weights its trial trained in the search (saved when the
experiment has `keep_weights`) instead of from scratch, its schedule begun again: the search's training of
the chosen arch is not thrown away. Only a member's first seed inherits (further seeds are there for their
different starts), and only where the retrain's data is the search's (a refitted tokenizer renumbers the
tokens, so its embeddings would not mean the same): `inherited` says what fraction of the network did.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.data.split import check_seed
from nasforge.errors import ConfigError, StorageError
from nasforge.evaluators.base import BaseEvaluator, RetrainableEvaluator
from nasforge.experiment.parallel_members import check_workers, resolve_workers, retrain_parallel
from nasforge.multiobjective.objectives import feasible
from nasforge.strategies.base import arch_key
from nasforge.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from nasforge.experiment.experiment import Experiment

__all__ = [
    "best_measured_again",
    "check_keep_weights",
    "check_resumable",
    "chosen_trial",
    "ensemble_members",
    "export_trial",
    "weights_file",
]


#: the metrics an ensemble's export takes from its first member (the chosen arch), as a single export has them
FIRST_MEMBER_KEYS = ("epochs", "epoch_time", "estimated_epoch_time", "inherited")


def check_keep_weights(keep: object, inheritance: object, evaluator: BaseEvaluator) -> bool:
    """Whether an experiment saves its trials' weights (`keep_weights`, or weight inheritance, which needs them);
    a clear error when its evaluator trains none."""
    if not isinstance(keep, bool):
        raise ConfigError(f"`keep_weights` must be true or false, but got {keep!r}.")
    for wanted, what in ((inheritance is not None, "Weight inheritance"), (keep, "`keep_weights`")):
        if wanted and not evaluator.supports_inheritance:
            drop = "`inherit_weights`" if what == "Weight inheritance" else "`keep_weights` (export.inherit)"
            raise ConfigError(
                f"{what} needs an evaluator that trains and saves weights, but {type(evaluator).__name__} does "
                f"not; drop {drop} or use a training evaluator such as ClassificationEvaluator."
            )
    return keep or inheritance is not None


def check_resumable(strategy: Any, evaluator: BaseEvaluator) -> bool:
    """Whether the strategy's promotions resume their arch's earlier trial (a multi-fidelity `resume`); a clear
    error when the evaluator cannot train on from saved weights."""
    if not getattr(strategy, "resumes", False):
        return False
    if not evaluator.supports_resume:
        raise ConfigError(
            f"The strategy's `resume` continues a promoted arch from the weights its lower-rung trial saved, but "
            f"{type(evaluator).__name__} cannot train on from saved weights; set the strategy's `resume` to false "
            "or use a training evaluator such as ClassificationEvaluator."
        )
    return True


def weights_file(experiment: Experiment, number: int) -> Path:
    """Where trial `number`'s trained weights are saved (`keep_weights`, weight inheritance)."""
    return experiment.checkpoint_dir / "weights" / f"{number}.pt"


def export_trial(
    experiment: Experiment,
    path: str,
    epochs: int | None = None,
    seed: int | None = None,
    log: Any = None,
    time_budget: float | None = None,
    trial: TrialRecord | int | None = None,
    formats: Sequence[str] | str | None = None,
    ensemble: int = 1,
    ensemble_seeds: int = 1,
    inherit: bool = False,
    workers: int | str = 1,
) -> tuple[Path, dict[str, float]]:
    """`Experiment.export` (see there): retrain and export the chosen trial's network to the folder `path`."""
    from nasforge.export import (
        DEFAULT_FORMATS,
        Ensemble,
        check_ensemble_seeds,
        check_ensemble_size,
        check_formats,
        check_time_budget,
        export_model,
        write_metrics,
    )

    exp = experiment
    wanted = check_formats(formats if formats is not None else DEFAULT_FORMATS)  # before hours of retraining
    check_ensemble_size(ensemble)
    check_ensemble_seeds(ensemble_seeds)
    check_time_budget(time_budget, "`time_budget` of Experiment.export")
    workers = check_workers(workers, "`workers` of Experiment.export")
    seed = exp.seed if seed is None else check_seed(seed, "Experiment.export")
    job = exp.job_budget if exp.job_budget is not None and exp.job_budget.started else None

    chosen = chosen_trial(exp, trial) if trial is not None else best_measured_again(exp)
    if chosen is None:
        raise StorageError(
            f"Experiment {exp.name!r} has no completed trial that meets its constraints to export yet; "
            "run it (longer), or loosen the constraints."
        )
    metrics: dict[str, float] = {f"search_{k}": float(v) for k, v in chosen.metrics.items()}
    metrics["trial"] = float(chosen.number)
    trainer = exp.evaluator if isinstance(exp.evaluator, RetrainableEvaluator) else None
    # the space as retrained, built once for every member (train_final leaves a final space as it is): e.g. a
    # text space's vocab_size once the tokenizer is refitted on train + valid
    space = trainer.final_space(exp.space) if trainer is not None else exp.space
    if trainer is None:
        ensemble_seeds = 1  # untrained copies of one arch would be the same network
    runs = [(r, seed + i) for r in ensemble_members(exp, chosen, ensemble) for i in range(ensemble_seeds)]
    if job is not None:
        job.mark("retrain_start")
        left = job.retrain_time()
        time_budget = left if time_budget is None else min(time_budget, left)
    retrain: dict[str, Any] | None = None
    if trainer is not None:
        starts = inherited_starts(exp, runs, seed) if inherit else None
        at_once = resolve_workers(workers, len(runs))
        runs, networks, results, retrain = retrain_parallel(
            trainer, space, runs, epochs, at_once, log, time_budget, starts
        )
    else:
        networks, results = [space.freeze(r.arch) for r, _ in runs], [{} for _ in runs]
    if job is not None:
        job.mark("retrain_end")
    members: list[dict[str, Any]] | None = None
    if len(networks) == 1:
        model = networks[0]
        metrics.update(results[0])
    else:
        model = Ensemble(networks)
        members = [
            {
                "trial": r.number,
                "seed": member_seed,
                "arch": json.loads(r.arch.to_json()),
                **{k: float(v) for k, v in res.items()},
            }
            for (r, member_seed), res in zip(runs, results, strict=True)
        ]
        metrics["ensemble_size"] = float(len(networks))
        metrics["ensemble_seeds"] = float(ensemble_seeds)
        metrics["ensemble_workers"] = float(retrain["workers"]) if retrain and "workers" in retrain else 1.0
        # the chosen arch's retrain, as a single export reports it: its epochs and measured epoch time
        metrics.update({k: float(v) for k, v in results[0].items() if k in FIRST_MEMBER_KEYS})
        metrics["train_time"] = sum(float(res.get("train_time", 0.0)) for res in results)
        accs = [float(res["test_acc"]) for res in results if "test_acc" in res]
        if accs and trainer is not None:
            metrics.update(trainer.test_metrics(model))
            metrics["best_member_test_acc"] = accs[0]
            metrics["member_mean_test_acc"] = sum(accs) / len(accs)
    input_shape = exp.evaluator.input_shape
    preprocessing = trainer.preprocessing if trainer is not None else None
    example = trainer.example_input() if trainer is not None else None
    if exp.latency is not None:
        shape = None  # the meter's, unless the refitted data changed the input (a table's width)
        if example is not None and input_shape is not None and tuple(example.shape[1:]) != tuple(input_shape):
            shape = tuple(example.shape[1:])
        metrics["latency_ms"] = exp.latency.measure_model(model, shape).median_ms
    folder = export_model(
        model, space, chosen.arch, path, metrics, input_shape, preprocessing, wanted, example, members, retrain
    )
    if job is not None:  # the account, once the formats are written and checked
        job.mark("export_end")
        metrics.update(job.spent())
        write_metrics(folder, metrics)
    return folder, metrics


def inherited_starts(experiment: Experiment, runs: Sequence[tuple[TrialRecord, int]], seed: int) -> list[str | None]:
    """For each (trial, seed) member, the saved weights its retrain starts from: its trial's, at the first seed
    only; None where there are none, with a warning that says why."""
    if not isinstance(experiment.evaluator, RetrainableEvaluator) or not experiment.evaluator.supports_inheritance:
        raise ConfigError(
            f"`inherit` needs an evaluator that retrains from saved weights, but {type(experiment.evaluator).__name__}"
            " does not; export without it."
        )
    starts: list[str | None] = []
    for record, member_seed in runs:
        path = weights_file(experiment, record.number)
        if member_seed == seed and not path.exists():
            why = "the search ran without keep_weights" if not experiment.keep_weights else "the file is gone"
            warnings.warn(
                f"Trial {record.number} has no saved weights at {path} ({why}), so its retrain starts from scratch; "
                "run with keep_weights=True (export.inherit in a config) to keep them.",
                stacklevel=4,
            )
        starts.append(str(path) if member_seed == seed and path.exists() else None)
    return starts


def ranked_feasible(experiment: Experiment) -> list[TrialRecord]:
    """The completed trials that meet the constraints, best in the primary objective first (ties: earliest)."""
    objective = experiment.objective
    return sorted(
        (t for t in experiment.trials if feasible(t, experiment.constraints) and objective.score(t) is not None),
        key=lambda t: (-(objective.score(t) or 0.0), t.number),
    )


def ensemble_members(experiment: Experiment, chosen: TrialRecord, size: int) -> list[TrialRecord]:
    """`chosen`, then the best other completed trials that meet the constraints, one per distinct arch
    (isomorphic archs count once), up to `size` in all."""
    space = experiment.space
    members, seen = [chosen], {arch_key(space, chosen.arch)}
    for record in ranked_feasible(experiment):
        if len(members) >= size:
            break
        key = arch_key(space, record.arch)
        if key not in seen:
            seen.add(key)
            members.append(record)
    if len(members) < size:
        warnings.warn(
            f"Experiment {experiment.name!r} has {len(members)} distinct completed archs that meet its constraints, "
            f"fewer than the {size} asked for the ensemble; it is exported with {len(members)}.",
            stacklevel=4,  # Experiment.export's caller
        )
    return members


def best_measured_again(experiment: Experiment) -> TrialRecord | None:
    """The best trial, unless its latency, measured again now, breaks a latency constraint: then the next
    best that keeps them all, so that an export never hands out a network that is too slow here."""
    exp = experiment
    limits = [c for c in exp.constraints if c.metric == "latency_ms"]
    if exp.latency is None or not limits:
        return exp.best_trial
    for candidate in ranked_feasible(exp)[:20]:
        again = exp.latency.measure_model(exp.space.freeze(candidate.arch)).median_ms
        if all(c.holds(again) for c in limits):
            return candidate
        warnings.warn(
            f"Trial {candidate.number} measured {again:.4g} ms now against {candidate.metrics['latency_ms']:.4g} "
            f"ms in the search, which breaks {', '.join(map(str, limits))}; the next best is exported instead.",
            stacklevel=4,  # Experiment.export's caller
        )
    return None


def chosen_trial(experiment: Experiment, trial: TrialRecord | int) -> TrialRecord:
    """The completed trial `trial` (a record or a number) of the experiment, or a clear error."""
    number = trial.number if isinstance(trial, TrialRecord) else trial
    if not isinstance(number, int) or isinstance(number, bool):
        raise ConfigError(f"`trial` must be a TrialRecord or a trial number, but got {trial!r}.")
    found = next((t for t in experiment.trials if t.number == number), None)
    if found is None or found.state is not TrialState.COMPLETE:
        state = "does not exist" if found is None else f"is {found.state.value}"
        raise StorageError(
            f"Trial {number} of experiment {experiment.name!r} {state}; export a completed trial (see `nasforge "
            "trials` or `nasforge pareto`)."
        )
    return found
