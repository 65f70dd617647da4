"""The configuration's schema and its validation: every section's keys and types, and each named part's
options checked against what builds it (the registries), without building anything heavy."""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

from nasforge.cost import LatencySetting
from nasforge.errors import ConfigError, suggest
from nasforge.estimation.inheritance import make_inheritance
from nasforge.estimation.scorer import ProxyScorer
from nasforge.estimation.stopping import make_stopper
from nasforge.estimation.warm_start import make_warm_start
from nasforge.experiment.budget import JobBudget
from nasforge.multiobjective.objectives import parse_constraints, parse_objectives
from nasforge.registry import check_kwargs

__all__ = [
    "ESTIMATION_KEYS",
    "EXPORT_KEYS",
    "MIDDLEWARE_KEYS",
    "PROXY_EVALUATOR_KEYS",
    "RUN_KEYS",
    "SECTIONS",
    "ZERO_COST_FILTER_KEYS",
    "ZERO_COST_KEYS",
    "constraint_list",
    "evaluator_section",
    "job_budget",
    "named_section",
    "split_middleware",
    "validate",
]

SECTIONS = {
    "name": str,
    "storage": str,
    "seed": int,
    "objective": (str, list),
    "constraints": (str, list, dict),
    "latency": (dict, bool),
    "space": dict,
    "dataset": dict,
    "strategy": dict,
    "evaluator": dict,
    "executor": dict,
    "run": dict,
    "export": dict,
    "estimation": dict,
}
#: cheaper evaluation (`nasforge.estimation`): early stopping, weight inheritance, warm start
ESTIMATION_KEYS = {
    "early_stopping": (str, dict, type(None)),
    "inherit_weights": (bool, dict, type(None)),
    "warm_start": (str, dict, type(None)),
}
RUN_KEYS = {
    "max_trials": (int, type(None)),
    "timeout": (int, float, type(None)),
    "trial_timeout": (int, float, type(None)),
    "total_time": (int, float, type(None)),  # one budget for search + retrain + export (`JobBudget`)
    "retrain_share": (int, float),
    "export_reserve": (int, float),
}
EXPORT_KEYS = {
    "path": (str, type(None)),
    "formats": (list, str),
    "pick": str,
    "epochs": (int, type(None)),
    "time_budget": (int, float, type(None)),
    "ensemble": int,
    "ensemble_seeds": int,
}
#: keys of the strategy section that wrap the strategy in middleware rather than go to its constructor
MIDDLEWARE_KEYS = {
    "deduplicate": bool,
    "max_params": (int, float, type(None)),
    "retry_failed": int,
    "max_cost": (int, float, type(None)),
    "cost_metric": str,
    "zero_cost_warmup": (dict, type(None)),
    "zero_cost_filter": (dict, type(None)),
}
#: options of `zero_cost_warmup` (`ZeroCostWarmup` and its `ProxyScorer`); data comes from the evaluator
ZERO_COST_KEYS = {
    "proxy": (str, list),
    "pool": int,
    "batch_size": int,
    "input_shape": (list, type(None)),
    "seed": int,
}


PROXY_EVALUATOR_KEYS = {
    "proxy": (str, list),
    "batch_size": int,
    "input_shape": (list, type(None)),
    "seed": int,
}


#: options of `zero_cost_filter` (`ZeroCostFilter` and its `ProxyScorer`)
ZERO_COST_FILTER_KEYS = {**ZERO_COST_KEYS, "keep": (int, float)}


def constraint_list(value: Any) -> list[Any]:
    """The config's `constraints` as a list (it may be one string, a list, or a mapping by metric)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(c) for c in parse_constraints(value)]
    return list(value) if isinstance(value, list) else [value]


def named_section(section: str, value: Any, default_name: str | None = None) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"Section {section!r} must be a name or a mapping with 'name', but got {value!r}.")
    kwargs = dict(value)
    name = kwargs.pop("name", default_name)
    if not isinstance(name, str):
        raise ConfigError(f"Section {section!r} needs a 'name' (a string), but got {name!r}.")
    return name, kwargs


def _typecheck(section: str, values: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if key not in schema:
            raise ConfigError(
                f"Unknown key {key!r} in section {section!r}.{suggest(key, list(schema))} "
                f"Valid keys: {', '.join(schema)}."
            )
        types = schema[key] if isinstance(schema[key], tuple) else (schema[key],)
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ConfigError(f"Key {section + '.' if section else ''}{key} must be {want}, but got {value!r}.")


def _check_signature(factory: Any, kwargs: Mapping[str, Any], what: str, middleware: Sequence[str] = ()) -> None:
    """Unknown keys (`middleware` names further valid ones) and values whose type contradicts a default."""
    check_kwargs(factory, dict(kwargs), what, middleware)
    params = inspect.signature(factory).parameters
    for key, value in kwargs.items():
        p = params.get(key)
        if p is None or p.default is inspect.Parameter.empty or p.default is None:
            continue
        d = p.default
        numeric = isinstance(d, (int, float)) and not isinstance(d, bool)
        ok = (
            (isinstance(d, bool) and isinstance(value, bool))
            or (numeric and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (isinstance(d, str) and isinstance(value, str))
            or (isinstance(d, (tuple, list)) and isinstance(value, (tuple, list)))
            or not isinstance(d, (bool, int, float, str, tuple, list))
        )
        if isinstance(d, int) and not isinstance(d, bool) and isinstance(value, float) and not value.is_integer():
            ok = False
        if not ok:
            raise ConfigError(f"Option {key!r} of {what} must be like {d!r} ({type(d).__name__}), but got {value!r}.")


def split_middleware(factory: Any, kwargs: Mapping[str, Any], what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The strategy's own options and the middleware keys of its section, each checked."""
    own = {k: v for k, v in kwargs.items() if k not in MIDDLEWARE_KEYS}
    middleware = {k: v for k, v in kwargs.items() if k in MIDDLEWARE_KEYS}
    _check_signature(factory, own, what, list(MIDDLEWARE_KEYS))
    _typecheck("strategy", middleware, MIDDLEWARE_KEYS)
    retries = middleware.get("retry_failed", 0)
    if retries < 0:
        raise ConfigError(
            f"Key strategy.retry_failed must be an int >= 0 (reruns of a failed trial), but got {retries!r}."
        )
    for key, meaning in (("max_params", "parameters"), ("max_cost", "total cost of the trials")):
        value = middleware.get(key)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"Key strategy.{key} must be a number > 0 ({meaning}) or null, but got {value!r}.")
    if "cost_metric" in middleware and middleware.get("max_cost") is None:
        raise ConfigError("Key strategy.cost_metric names what strategy.max_cost counts; give max_cost too.")
    if middleware.get("cost_metric") == "":
        raise ConfigError("Key strategy.cost_metric must name a trial metric (e.g. cost), but got ''.")
    if middleware.get("zero_cost_warmup") is not None:
        _zero_cost_warmup(middleware["zero_cost_warmup"])
    if middleware.get("zero_cost_filter") is not None:
        _zero_cost_filter(middleware["zero_cost_filter"])
    return own, middleware


def _zero_cost_warmup(options: Mapping[str, Any]) -> Any:
    """`zero_cost_warmup`'s options checked by building the middleware around a placeholder strategy."""
    from nasforge.strategies import RandomSearch, ZeroCostWarmup

    _typecheck("strategy.zero_cost_warmup", options, ZERO_COST_KEYS)
    pool = options.get("pool", 1000)
    if pool < 1:
        raise ConfigError(f"Key strategy.zero_cost_warmup.pool must be an int >= 1 (archs scored), but got {pool!r}.")
    return ZeroCostWarmup(RandomSearch(), **options)


def _zero_cost_filter(options: Mapping[str, Any]) -> Any:
    """`zero_cost_filter`'s options checked by building the middleware around a placeholder strategy."""
    from nasforge.strategies import RandomSearch, ZeroCostFilter

    _typecheck("strategy.zero_cost_filter", options, ZERO_COST_FILTER_KEYS)
    return ZeroCostFilter(RandomSearch(), **options)


def evaluator_section(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The evaluator's name in `nasforge.evaluators.EVALUATORS` (`train`, the default, or `proxy`: zero-cost
    scores) and its options."""
    from nasforge.evaluators import EVALUATORS

    ev = dict(cfg.get("evaluator", {}))
    name = ev.pop("name", "train")
    EVALUATORS.get(name)  # an unknown name fails here, with the closest ones
    return name, ev


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a configuration's structure and names without building anything heavy."""
    from nasforge.data import DATASETS
    from nasforge.evaluators import EVALUATORS
    from nasforge.evaluators.training import TrainConfig
    from nasforge.executors import executor_class
    from nasforge.strategies import DEFAULT_STRATEGY, STRATEGIES, multi_objective_names
    from nasforge.zoo import SPACES

    cfg = dict(config)
    _typecheck("", cfg, SECTIONS)
    for required in ("space", "dataset"):
        if required not in cfg:
            raise ConfigError(f"The configuration needs a {required!r} section (e.g. {required}: {{name: ...}}).")
    space_name, space_kw = named_section("space", cfg["space"])
    _check_signature(SPACES.get(space_name), space_kw, f"space {space_name!r}")
    data_name, data_kw = named_section("dataset", cfg["dataset"])
    _check_signature(DATASETS.get(data_name), data_kw, f"dataset {data_name!r}")
    strat_name, strat_kw = named_section("strategy", cfg.get("strategy", DEFAULT_STRATEGY), DEFAULT_STRATEGY)
    split_middleware(STRATEGIES.get(strat_name), strat_kw, f"strategy {strat_name!r}")
    ev_name, ev = evaluator_section(cfg)
    if ev_name == "proxy":
        _typecheck("evaluator", ev, PROXY_EVALUATOR_KEYS)
        ProxyScorer(**{k: v for k, v in ev.items() if k in ("proxy", "batch_size", "input_shape", "seed")})
    elif ev_name != "train":  # another registered evaluator: its own signature says what it takes
        _check_signature(EVALUATORS.get(ev_name), ev, f"evaluator {ev_name!r}")
    else:
        types = {"int": int, "float": (int, float), "str": str}
        ev_schema: dict[str, Any] = {
            "epochs": int,
            "train_fraction": (int, float),
            "device": str,
            "interim_valid": (int, float),
            "trial_time": (int, float, type(None)),
        }
        for f in dataclasses.fields(TrainConfig):
            ev_schema.setdefault(f.name, types[str(f.type)])
        _typecheck("evaluator", ev, ev_schema)
    exec_name, exec_kw = named_section("executor", cfg.get("executor", {"name": "sequential"}), "sequential")
    _check_signature(executor_class(exec_name), exec_kw, f"executor {exec_name!r}")
    _typecheck("run", cfg.get("run", {}), RUN_KEYS)
    job_budget(cfg)
    _typecheck("export", cfg.get("export", {}), EXPORT_KEYS)
    est = cfg.get("estimation", {})
    _typecheck("estimation", est, ESTIMATION_KEYS)
    make_stopper(est.get("early_stopping"))
    make_inheritance(est.get("inherit_weights"))
    make_warm_start(est.get("warm_start"))
    objectives = parse_objectives(cfg.get("objective", "max:val_acc"))
    parse_constraints(cfg.get("constraints"))
    if "formats" in cfg.get("export", {}):
        from nasforge.export import check_formats

        check_formats(cfg["export"]["formats"])
    if "ensemble" in cfg.get("export", {}):
        from nasforge.export import check_ensemble_size

        check_ensemble_size(cfg["export"]["ensemble"])
    if "ensemble_seeds" in cfg.get("export", {}):
        from nasforge.export import check_ensemble_seeds

        check_ensemble_seeds(cfg["export"]["ensemble_seeds"])
    if "time_budget" in cfg.get("export", {}):
        from nasforge.export import check_time_budget

        check_time_budget(cfg["export"]["time_budget"], "Key export.time_budget")
    if cfg.get("export", {}).get("pick", "best") not in ("best", "knee"):
        raise ConfigError(f"Key export.pick must be 'best' or 'knee', but got {cfg['export']['pick']!r}.")
    latency = cfg.get("latency")
    if isinstance(latency, dict):
        LatencySetting.parse({k: v for k, v in latency.items() if k not in ("input_shape", "cache")})
    if len(objectives) > 1:
        factory = STRATEGIES.get(strat_name)
        if not getattr(factory, "multi_objective", False):
            raise ConfigError(
                f"Strategy {strat_name!r} optimises one objective, but the configuration has {len(objectives)} "
                f"({', '.join(o.metric for o in objectives)}); use a multi-objective strategy "
                f"({', '.join(multi_objective_names())}), or one objective and `constraints` on the rest."
            )
    return cfg


def job_budget(cfg: Mapping[str, Any]) -> JobBudget | None:
    """The whole-job budget of a config's `run` section (`total_time`, `retrain_share`, `export_reserve`), or
    None without `total_time`."""
    run = cfg.get("run", {})
    options = {k: run[k] for k in ("retrain_share", "export_reserve") if k in run}
    if run.get("total_time") is None:
        if options:
            raise ConfigError(
                f"Keys run.{' and run.'.join(options)} split a whole-job budget, but run.total_time is not set; "
                "give run.total_time (seconds) or drop them."
            )
        return None
    return JobBudget.of(run["total_time"], **options)
