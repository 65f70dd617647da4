"""Experiment configurations (YAML files, presets, CLI overrides): validated, then built into objects.

A configuration is a mapping with these sections (all optional but `space` and `dataset`):

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

from __future__ import annotations

import copy
import dataclasses
import importlib.resources
import inspect
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from nasforge.cost import LatencySetting
from nasforge.errors import ConfigError, StorageError, suggest, unknown_name
from nasforge.estimation.inheritance import make_inheritance
from nasforge.estimation.scorer import ProxyScorer
from nasforge.estimation.stopping import make_stopper
from nasforge.estimation.warm_start import make_warm_start
from nasforge.experiment.budget import JobBudget
from nasforge.multiobjective.objectives import parse_constraints, parse_objectives
from nasforge.registry import check_kwargs

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


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `1.5e6` and `1e-3` (no dot, or no exponent sign) as strings; read them as numbers."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def preset_names() -> list[str]:
    folder = importlib.resources.files("nasforge") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise unknown_name("preset", name, names)
    text = (importlib.resources.files("nasforge") / "presets" / f"{name}.yaml").read_text()
    return _parse_yaml(text, f"preset {name!r}")


def preset_summary(name: str) -> dict[str, Any]:
    """A preset's name, space, dataset, strategy and the first sentence of its leading comment."""
    text = (importlib.resources.files("nasforge") / "presets" / f"{name}.yaml").read_text()
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    about = " ".join(comment)
    about = about.split(". ")[0].rstrip(".") if about else ""
    cfg = load_preset(name)

    def section(key: str) -> str | None:
        value = cfg.get(key)
        return value.get("name") if isinstance(value, dict) else value

    return {
        "preset": name,
        "space": section("space"),
        "dataset": section("dataset"),
        "strategy": section("strategy"),
        "about": about,
    }


def load_file(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"Config file {path!r} does not exist; give a YAML file path or a preset name ({', '.join(preset_names())})."
        )
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path!r}: {exc}") from exc
    return _parse_yaml(text, f"config file {path!r}")


def _parse_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"The {where} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"The {where} must be a mapping of sections (space, dataset, ...), but got {type(data).__name__}."
        )
    return data


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides; values are parsed as YAML (`3`, `0.1`, `true`, `[1, 2]`)."""
    out = copy.deepcopy(dict(config))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"An override is written key=value or section.key=value, but got {item!r}.")
        key, _, raw = item.partition("=")
        path = [k for k in key.strip().split(".") if k]
        if not path:
            raise ConfigError(f"An override needs a key before '=', but got {item!r}.")
        try:
            value = yaml.load(raw, Loader=_Loader) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"The value of override {item!r} is not valid YAML: {exc}") from exc
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"Override {item!r}: {part!r} is not a section.")
            node = child
        node[path[-1]] = value
    return out


def constraint_list(value: Any) -> list[Any]:
    """The config's `constraints` as a list (it may be one string, a list, or a mapping by metric)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(c) for c in parse_constraints(value)]
    return list(value) if isinstance(value, list) else [value]


def _named(section: str, value: Any, default_name: str | None = None) -> tuple[str, dict[str, Any]]:
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


def _split_middleware(factory: Any, kwargs: Mapping[str, Any], what: str) -> tuple[dict[str, Any], dict[str, Any]]:
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
    """`strategy` inside the middleware that the keys ask for, in the order the module docstring gives."""
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


def _evaluator_section(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
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
    from nasforge.evaluators.training import TrainConfig
    from nasforge.executors import executor_class
    from nasforge.strategies import DEFAULT_STRATEGY, STRATEGIES, multi_objective_names
    from nasforge.zoo import SPACES

    cfg = dict(config)
    _typecheck("", cfg, SECTIONS)
    for required in ("space", "dataset"):
        if required not in cfg:
            raise ConfigError(f"The configuration needs a {required!r} section (e.g. {required}: {{name: ...}}).")
    space_name, space_kw = _named("space", cfg["space"])
    _check_signature(SPACES.get(space_name), space_kw, f"space {space_name!r}")
    data_name, data_kw = _named("dataset", cfg["dataset"])
    _check_signature(DATASETS.get(data_name), data_kw, f"dataset {data_name!r}")
    strat_name, strat_kw = _named("strategy", cfg.get("strategy", DEFAULT_STRATEGY), DEFAULT_STRATEGY)
    _split_middleware(STRATEGIES.get(strat_name), strat_kw, f"strategy {strat_name!r}")
    ev_name, ev = _evaluator_section(cfg)
    if ev_name == "proxy":
        _typecheck("evaluator", ev, PROXY_EVALUATOR_KEYS)
        ProxyScorer(**{k: v for k, v in ev.items() if k in ("proxy", "batch_size", "input_shape", "seed")})
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
    exec_name, exec_kw = _named("executor", cfg.get("executor", {"name": "sequential"}), "sequential")
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


def build_experiment(config: Mapping[str, Any], storage: Any = None) -> Any:
    """An `Experiment` from a validated configuration; the dataset is loaded here, so missing data fails
    before anything is written to the storage."""
    from nasforge.data import DATASETS
    from nasforge.evaluators import EVALUATORS
    from nasforge.executors import executor_class
    from nasforge.experiment import Experiment
    from nasforge.strategies import DEFAULT_STRATEGY, STRATEGIES
    from nasforge.zoo import SPACES

    cfg = validate(config)
    data_name, data_kw = _named("dataset", cfg["dataset"])
    dataset = DATASETS.create(data_name, **data_kw)
    splits = dataset.load()
    space_name, space_kw = _named("space", cfg["space"])
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
    strat_name, strat_kw = _named("strategy", cfg.get("strategy", DEFAULT_STRATEGY), DEFAULT_STRATEGY)
    strat_kw, middleware = _split_middleware(STRATEGIES.get(strat_name), strat_kw, f"strategy {strat_name!r}")
    strategy = wrap_strategy(STRATEGIES.create(strat_name, **strat_kw), middleware, space)
    ev_name, ev = _evaluator_section(cfg)
    evaluator: Any = EVALUATORS.get(ev_name)(dataset=dataset, **ev)
    exec_name, exec_kw = _named("executor", cfg.get("executor", {"name": "sequential"}), "sequential")
    executor = executor_class(exec_name)(**exec_kw)
    return Experiment(
        cfg.get("name", f"{space_name}-{data_name}"),
        space,
        strategy,
        evaluator,
        storage=storage if storage is not None else cfg.get("storage", "nasforge.db"),
        executor=executor,
        objective=cfg.get("objective", "max:val_acc"),
        constraints=cfg.get("constraints"),
        latency=cfg.get("latency"),
        seed=cfg.get("seed", 0),
        spec=cfg,
        early_stopping=cfg.get("estimation", {}).get("early_stopping"),
        inherit_weights=cfg.get("estimation", {}).get("inherit_weights"),
        warm_start=cfg.get("estimation", {}).get("warm_start"),
        trial_timeout=cfg.get("run", {}).get("trial_timeout"),
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
