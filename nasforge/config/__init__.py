"""Experiment configurations (YAML files, presets, CLI overrides): validated, then built into objects.

A configuration is a mapping with these sections (all optional but `space` and `dataset`); the fixed ones are
typed dataclasses in `nasforge.config.sections` (each key's type, default, meaning and `nasforge run` flag),
and `parse_config` validates a mapping once into them:

    name: fmnist-cnn            # experiment name (the key for resuming)
    storage: nasforge.db        # SQLite file path or SQLAlchemy URL
    seed: 0
    objective: max:val_acc      # or several: [max:val_acc, min:latency_ms] (a multi-objective strategy)
    constraints: [latency_ms <= 5, params <= 1e6]   # checked before training when they need none
    latency: {threads: 1, repeats: 30, backend: eager}   # how latency_ms is measured (nasforge.multiobjective)
    space: {name: cnn}          # zoo space and its arguments
    dataset: {name: fashion_mnist, valid_size: 10000}
    strategy: {name: evolution, population_size: 16}   # default: bo (`nasforge.strategies.DEFAULT_STRATEGY`)
    evaluator: {epochs: 2, train_fraction: 0.3, interim_valid: 2000, ...}   # ClassificationEvaluator, or
    evaluator: {name: proxy, proxy: synflow}           # ProxyEvaluator: zero-cost scores, no training
    executor: {name: pool, n_workers: 2}               # or {name: sequential}, or
    executor: {name: ray, address: auto, n_workers: 8, gpus_per_trial: 0.5}   # a Ray cluster (nasforge[ray])
    run: {max_trials: 60, timeout: 480, trial_timeout: 120}   # trial_timeout: seconds one trial may run
    run: {total_time: 900, retrain_share: 0.5}   # or one budget for search, retrain and export (JobBudget)
    export: {path: nasforge-out/fmnist, epochs: 10, time_budget: 240}   # retrain at most 10 epochs / 240 s
                                # formats: [torchscript, onnx, python] (besides weights.pt; see nasforge.export)
                                # ensemble: 5 (retrain the 5 best archs and export them averaged, as one model)
    estimation:                 # cheaper evaluation, see nasforge.estimation
      early_stopping: median
      inherit_weights: {epochs: 0.25, lr_scale: 0.3}   # children fine-tune a quarter of the epochs
      warm_start: fmnist-cnn-v1   # or {experiment: NAME, storage: URL, mode: auto|tell|enqueue, top_k: 10}

Besides its own options, the strategy section takes middleware keys (`nasforge.strategies.middleware`),
which wrap any strategy:

    strategy:
      name: evolution
      population_size: 16
      deduplicate: true     # Deduplicate: a repeat (or isomorphic twin) is answered from the earlier result
      max_params: 1.5e6     # ConstraintFilter: the frozen network has at most this many parameters
      retry_failed: 2       # Retry: run a failed trial up to 2 more times before the strategy hears
      max_cost: 3600        # BudgetLimit: stop proposing once the trials cost this much in all ...
      cost_metric: cost     # ... summing this metric, or each trial's wall time when it lacks it
      zero_cost_warmup: {proxy: synflow, pool: 1000}   # ZeroCostWarmup: random proposals from a proxy's top
      zero_cost_filter: {proxy: synflow, keep: 0.5}     # ZeroCostFilter: only the proxy's better half is trained

They wrap in this order, innermost first:
BudgetLimit(Retry(ConstraintFilter(Deduplicate(ZeroCostWarmup(strategy))))).
Deduplicate answers a repeat before the parameter count is computed again (a repeat of a rejected arch
is answered with its rejection); rejections are not retried, nor charged, since nothing was trained;
Retry reruns a failure before Deduplicate would answer the rerun with that failure; and BudgetLimit, on
the outside, charges every trial the experiment runs, retries included. (`deduplicate` is not the `dedup`
option of some strategies, which only resample an arch they proposed before.)

YAML 1.1 reads `1.5e6` and `1e-3` as text; here they are read as numbers.
"""

from nasforge.config.build import build_experiment, build_parts, load_experiment, wrap_strategy
from nasforge.config.files import _Loader, apply_overrides, load_file, load_preset, preset_names, preset_summary
from nasforge.config.schema import (
    MIDDLEWARE_KEYS,
    SECTIONS,
    Config,
    constraint_list,
    job_budget,
    parse_config,
    validate,
)
from nasforge.config.sections import (
    EstimationSection,
    ExportSection,
    MiddlewareSection,
    RunSection,
    Section,
    TopSection,
    add_flags,
    flag_values,
)

__all__ = [
    "MIDDLEWARE_KEYS",
    "SECTIONS",
    "Config",
    "EstimationSection",
    "ExportSection",
    "MiddlewareSection",
    "RunSection",
    "Section",
    "TopSection",
    "_Loader",
    "add_flags",
    "apply_overrides",
    "build_experiment",
    "build_parts",
    "constraint_list",
    "flag_values",
    "job_budget",
    "load_experiment",
    "load_file",
    "load_preset",
    "parse_config",
    "preset_names",
    "preset_summary",
    "validate",
    "wrap_strategy",
]
