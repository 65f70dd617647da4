"""The configuration's schema and its validation: every section's keys and types, and each named part's
options checked against what builds it (the registries), without building anything heavy."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from nasforge.config.sections import (
    EstimationSection,
    ExportSection,
    MiddlewareSection,
    ProxyEvaluatorSection,
    RunSection,
    TopSection,
    TrainEvaluatorSection,
)
from nasforge.cost import LatencySetting
from nasforge.errors import ConfigError
from nasforge.experiment.budget import JobBudget
from nasforge.multiobjective.objectives import parse_constraints, parse_objectives
from nasforge.registry import check_kwargs

__all__ = [
    "MIDDLEWARE_KEYS",
    "SECTIONS",
    "Config",
    "constraint_list",
    "evaluator_section",
    "job_budget",
    "named_section",
    "parse_config",
    "split_middleware",
    "validate",
]

#: the top-level keys (`TopSection`)
SECTIONS = tuple(TopSection.keys())
#: keys of the strategy section that wrap the strategy in middleware rather than go to its constructor
MIDDLEWARE_KEYS = tuple(MiddlewareSection.keys())


@dataclasses.dataclass(frozen=True)
class Config:
    """A configuration validated once: the mapping as given (`raw`, what an experiment stores) and its fixed
    sections as typed objects."""

    raw: dict[str, Any]
    top: TopSection
    run: RunSection
    export: ExportSection
    estimation: EstimationSection
    middleware: MiddlewareSection

    @property
    def budget(self) -> JobBudget | None:
        """The whole-job budget (`run.total_time`), or None."""
        return self.run.budget(frozenset(self.raw.get("run") or {}))


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
    """The strategy's own options and the middleware keys of its section (`MiddlewareSection`), each checked."""
    own = {k: v for k, v in kwargs.items() if k not in MIDDLEWARE_KEYS}
    middleware = {k: v for k, v in kwargs.items() if k in MIDDLEWARE_KEYS}
    _check_signature(factory, own, what, list(MIDDLEWARE_KEYS))
    MiddlewareSection.parse("strategy", middleware)
    return own, middleware


def evaluator_section(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The evaluator's name in `nasforge.evaluators.EVALUATORS` (`train`, the default; `proxy`: zero-cost
    scores; `federated`: trained over a federation of clients; ...) and its options."""
    from nasforge.evaluators import EVALUATORS

    ev = dict(cfg.get("evaluator", {}))
    name = ev.pop("name", "train")
    EVALUATORS.get(name)  # an unknown name fails here, with the closest ones
    return name, ev


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a configuration's structure and names without building anything heavy; the mapping as given."""
    return parse_config(config).raw


def parse_config(config: Mapping[str, Any]) -> Config:
    """Validate a configuration once: every fixed section parsed into its typed object (`nasforge.config.sections`),
    every named part's options checked against what builds it (the registries), nothing heavy built."""
    from nasforge.data import DATASETS
    from nasforge.executors import executor_class
    from nasforge.strategies import DEFAULT_STRATEGY, STRATEGIES, multi_objective_names
    from nasforge.zoo import SPACES

    cfg = dict(config)
    top = TopSection.parse("", cfg)
    space_name, space_kw = named_section("space", cfg["space"])
    _check_signature(SPACES.get(space_name), space_kw, f"space {space_name!r}")
    data_name, data_kw = named_section("dataset", cfg["dataset"])
    _check_signature(DATASETS.get(data_name), data_kw, f"dataset {data_name!r}")
    strat_name, strat_kw = named_section("strategy", cfg.get("strategy", DEFAULT_STRATEGY), DEFAULT_STRATEGY)
    _, middleware = split_middleware(STRATEGIES.get(strat_name), strat_kw, f"strategy {strat_name!r}")
    ev_name, ev = evaluator_section(cfg)
    if ev_name == "proxy":
        from nasforge.estimation.scorer import ProxyScorer

        ProxyScorer(**ProxyEvaluatorSection.parse("evaluator", ev).given())
    elif ev_name != "train":  # any other evaluator (federated, translation, ...): its own signature is its schema
        from nasforge.evaluators import EVALUATORS

        _check_signature(EVALUATORS.get(ev_name), ev, f"evaluator {ev_name!r}")
    else:
        TrainEvaluatorSection.parse("evaluator", ev)
    exec_name, exec_kw = named_section("executor", cfg.get("executor", {"name": "sequential"}), "sequential")
    _check_signature(executor_class(exec_name), exec_kw, f"executor {exec_name!r}")
    parsed = Config(
        raw=cfg,
        top=top,
        run=RunSection.parse("run", cfg.get("run")),
        export=ExportSection.parse("export", cfg.get("export")),
        estimation=EstimationSection.parse("estimation", cfg.get("estimation")),
        middleware=MiddlewareSection.parse("strategy", middleware),
    )
    objectives = parse_objectives(top.objective)
    parse_constraints(top.constraints)
    if isinstance(top.latency, dict):
        LatencySetting.parse({k: v for k, v in top.latency.items() if k not in ("input_shape", "cache")})
    if len(objectives) > 1:
        factory = STRATEGIES.get(strat_name)
        if not getattr(factory, "multi_objective", False):
            raise ConfigError(
                f"Strategy {strat_name!r} optimises one objective, but the configuration has {len(objectives)} "
                f"({', '.join(o.metric for o in objectives)}); use a multi-objective strategy "
                f"({', '.join(multi_objective_names())}), or one objective and `constraints` on the rest."
            )
    return parsed


def job_budget(cfg: Mapping[str, Any]) -> JobBudget | None:
    """The whole-job budget of a config's `run` section (`total_time`, `retrain_share`, `export_reserve`), or
    None without `total_time`."""
    run = cfg.get("run") or {}
    return RunSection.parse("run", run).budget(frozenset(run))
