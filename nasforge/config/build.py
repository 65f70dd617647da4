"""Building a validated configuration into an `Experiment`, and rebuilding a stored one."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from nasforge.config.schema import Config, evaluator_section, named_section, parse_config, split_middleware
from nasforge.errors import StorageError

__all__ = ["build_experiment", "build_parts", "load_experiment", "wrap_strategy"]


class _ParamLimit:
    """A constraint for `ConstraintFilter`: the network frozen from an arch has at most `max_params`
    parameters (built, never trained)."""

    def __init__(self, space: Any, max_params: float) -> None:
        self.space = space
        self.max_params = max_params

    def __call__(self, arch: Any) -> bool:
        from nasforge.cost import count_params

        return count_params(self.space.freeze(arch)) <= self.max_params

    def __repr__(self) -> str:
        return f"params <= {self.max_params:g}"


def wrap_strategy(strategy: Any, middleware: Mapping[str, Any], space: Any) -> Any:
    """`strategy` inside the middleware that the keys ask for, in the order the `nasforge.config` docstring gives."""
    from nasforge.strategies import (
        BudgetLimit,
        ConstraintFilter,
        Deduplicate,
        Retry,
        ZeroCostFilter,
        ZeroCostWarmup,
    )

    if middleware.get("zero_cost_warmup") is not None:
        strategy = ZeroCostWarmup(strategy, **middleware["zero_cost_warmup"])
    if middleware.get("zero_cost_filter") is not None:
        strategy = ZeroCostFilter(strategy, **middleware["zero_cost_filter"])
    if middleware.get("deduplicate"):
        strategy = Deduplicate(strategy)
    if middleware.get("max_params") is not None:
        limit = _ParamLimit(space, middleware["max_params"])
        strategy = ConstraintFilter(strategy, limit, repr(limit))
    if middleware.get("retry_failed"):
        strategy = Retry(strategy, max_retries=middleware["retry_failed"])
    if middleware.get("max_cost") is not None:
        strategy = BudgetLimit(strategy, middleware["max_cost"], middleware.get("cost_metric", "cost"))
    return strategy


def build_parts(config: Mapping[str, Any] | Config) -> tuple[Any, Any, Any]:
    """The dataset, the space (its shape and data-given arguments filled from the loaded data) and the
    evaluator of a configuration: what a process that evaluates archs needs, without a strategy or a storage
    (a federation's client builds these from the run's configuration)."""
    from nasforge.data import DATASETS
    from nasforge.evaluators import EVALUATORS
    from nasforge.zoo import SPACES

    conf = config if isinstance(config, Config) else parse_config(config)
    cfg = conf.raw
    data_name, data_kw = named_section("dataset", cfg["dataset"])
    dataset = DATASETS.create(data_name, **data_kw)
    splits = dataset.load()
    space_name, space_kw = named_section("space", cfg["space"])
    factory = SPACES.get(space_name)
    params = inspect.signature(factory).parameters
    if "input_shape" in params:
        space_kw.setdefault("input_shape", list(splits.input_shape))
    if "num_classes" in params:
        space_kw.setdefault("num_classes", splits.num_classes)
    for key, value in splits.info.items():  # e.g. a text dataset's vocab_size
        if key in params:
            space_kw.setdefault(key, value)
    space = SPACES.create(space_name, **space_kw)
    ev_name, ev = evaluator_section(cfg)
    evaluator: Any = EVALUATORS.get(ev_name)(dataset=dataset, **ev)
    return dataset, space, evaluator


def build_experiment(config: Mapping[str, Any] | Config, storage: Any = None) -> Any:
    """An `Experiment` from a configuration (a mapping, validated here, or a `Config` that `parse_config`
    validated); the dataset is loaded here, so missing data fails before anything is written to the storage."""
    from nasforge.executors import executor_class
    from nasforge.experiment import Experiment
    from nasforge.strategies import DEFAULT_STRATEGY, STRATEGIES

    conf = config if isinstance(config, Config) else parse_config(config)
    cfg = conf.raw
    _, space, evaluator = build_parts(conf)
    space_name, _ = named_section("space", cfg["space"])
    data_name, _ = named_section("dataset", cfg["dataset"])
    strat_name, strat_kw = named_section("strategy", cfg.get("strategy", DEFAULT_STRATEGY), DEFAULT_STRATEGY)
    strat_kw, middleware = split_middleware(STRATEGIES.get(strat_name), strat_kw, f"strategy {strat_name!r}")
    strategy = wrap_strategy(STRATEGIES.create(strat_name, **strat_kw), middleware, space)
    exec_name, exec_kw = named_section("executor", cfg.get("executor", {"name": "sequential"}), "sequential")
    executor = executor_class(exec_name)(**exec_kw)
    top, estimation = conf.top, conf.estimation
    return Experiment(
        top.name or f"{space_name}-{data_name}",
        space,
        strategy,
        evaluator,
        storage=storage if storage is not None else top.storage,
        executor=executor,
        objective=top.objective,
        constraints=top.constraints,
        latency=top.latency,
        seed=top.seed,
        spec=cfg,
        early_stopping=estimation.early_stopping,
        inherit_weights=estimation.inherit_weights,
        keep_weights=conf.export.inherit,
        warm_start=estimation.warm_start,
        trial_timeout=conf.run.trial_timeout,
    )


def load_experiment(name: str, storage: Any = "nasforge.db") -> Any:
    """Rebuild a stored experiment from the configuration it was created with (`nasforge run` stores one).

    Here rather than beside `Experiment`: rebuilding goes through `build_experiment`, and the experiment
    layer must not import the configuration layer above it."""
    from nasforge.storage import get_storage

    store = get_storage(storage)
    row = store.require_experiment(name)
    spec = row.config.get("spec")
    if not spec:
        raise StorageError(
            f"Experiment {name!r} was created from Python objects; construct Experiment({name!r}, space, strategy, "
            "evaluator, storage=...) with the same objects to resume or export it."
        )
    return build_experiment(spec, storage=store)
