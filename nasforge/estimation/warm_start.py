"""Warm start: a new experiment begins from what a finished one learned.

The source is an experiment in the same storage (or another one, by URL or path), over the same search
space or a related one. Its completed trials reach the new search in one of two ways:

- `tell` (same task: same space, objective, evaluator and data): the trials are told to the strategy as
  if it had proposed them, before its first ask. Evolution starts from a population of the best of them and
  mutates at once, local search climbs from the best, Bayesian optimisation fits its predictor to all of
  them, REINFORCE updates its policy. Nothing is evaluated twice.
- `enqueue` (a related space or task, where the old scores do not carry over): the source's `top_k` best
  archs, projected onto the new space, are the first random proposals of the strategy (its initial
  population or design, its starts), so they are evaluated again here before anything else.

`mode="auto"` (the default) tells when the tasks match and enqueues otherwise; a strategy that cannot
learn from results it did not propose (random search, the multi-fidelity ones) is always served by
`enqueue`. Projection keeps an arch's value for each decision of the new space that has the same label and
allows that value, and samples the rest (inactive decisions are dropped).

>>> spec = make_warm_start({"experiment": "cifar-evolution", "mode": "enqueue", "top_k": 5})
>>> spec.experiment, spec.mode, spec.top_k
('cifar-evolution', 'enqueue', 5)
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasforge.errors import ArchError, ConfigError, suggest
from nasforge.space import Arch, ModelSpace
from nasforge.space.algebra import complete
from nasforge.storage import BaseStorage, ExperimentRow, get_storage
from nasforge.trial import Objective, TrialRecord, TrialState

MODES = ("auto", "tell", "enqueue")


@dataclass(frozen=True)
class WarmStart:
    """Where to warm-start from: `experiment` (a name) in `storage` (None: the new experiment's storage)."""

    experiment: str
    storage: str | None = None
    mode: str = "auto"
    top_k: int = 10  # archs proposed first in `enqueue` mode

    def __post_init__(self) -> None:
        if not isinstance(self.experiment, str) or not self.experiment:
            raise ConfigError(
                f"`experiment` of a warm start must be the name of a finished experiment, but got {self.experiment!r}."
            )
        if self.storage is not None and not isinstance(self.storage, str):
            raise ConfigError(
                f"`storage` of a warm start must be a storage URL or SQLite path (or None for the experiment's own), "
                f"but got {self.storage!r}."
            )
        if self.mode not in MODES:
            raise ConfigError(f"`mode` of a warm start must be one of {', '.join(MODES)}, but got {self.mode!r}.")
        k = self.top_k
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"`top_k` of a warm start must be an int >= 1, but got {k!r}.")


def make_warm_start(spec: str | Mapping[str, Any] | WarmStart | None) -> WarmStart | None:
    """`"name"`, `{experiment: name, storage: ..., mode: auto|tell|enqueue, top_k: 10}`, a WarmStart or None."""
    if spec is None or isinstance(spec, WarmStart):
        return spec
    if isinstance(spec, str):
        return WarmStart(spec)
    if isinstance(spec, Mapping):
        valid = [f.name for f in dataclasses.fields(WarmStart)]
        unknown = sorted(set(spec) - set(valid))
        if unknown:
            raise ConfigError(f"Unknown option {unknown} for a warm start; valid: {valid}.")
        if "experiment" not in spec:
            raise ConfigError(
                f"A warm start needs `experiment`, the name of the source experiment, but got {dict(spec)!r}."
            )
        return WarmStart(**spec)
    raise ConfigError(
        f"A warm start is the name of an earlier experiment or a mapping with `experiment` (and `storage`, `mode`, "
        f"`top_k`), but got {spec!r}."
    )


def project(space: ModelSpace, arch: Mapping[str, Any], rng: np.random.Generator) -> Arch:
    """`arch` on `space`: values kept where the space has a decision of that label that allows them, the
    other decisions sampled from `rng`, inactive ones dropped."""
    kept: dict[str, Any] = {}
    for d in space.decisions:
        if d.label in arch:
            try:
                d.index(arch[d.label])
            except ArchError:
                continue
            kept[d.label] = arch[d.label]
    return space.validate(complete(space.decisions, kept, rng))


@dataclass
class Source:
    """The resolved source: its usable trials (best first, projected onto the new space) and the mode."""

    name: str
    mode: str  # "tell" or "enqueue"
    records: list[TrialRecord]  # completed, with a finite score; best first
    projected: int  # how many archs changed when projected onto the new space
    same_task: bool
    skipped: int = 0  # completed trials without a usable score
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.name,
            "mode": self.mode,
            "trials": len(self.records),
            "projected": self.projected,
            "skipped": self.skipped,
        }


def load_source(
    spec: WarmStart,
    own_storage: BaseStorage,
    own_name: str,
    space: ModelSpace,
    objective: Objective,
    own_config: Mapping[str, Any],
    seed: int,
) -> Source:
    """Read the source experiment's completed trials and decide how they reach the new search.

    Raises ConfigError when the source is missing, is the experiment itself, or has no completed trial
    with the objective's metric."""
    storage = own_storage if spec.storage is None else get_storage(spec.storage)
    where = str(storage)
    if spec.storage is None and spec.experiment == own_name:
        raise ConfigError(
            f"Experiment {own_name!r} cannot warm-start from itself; running it again resumes it. Name an earlier "
            "experiment in `warm_start`."
        )
    row = storage.get_experiment(spec.experiment) if storage.exists() else None  # never create it to look
    if row is None:
        names = [r.name for r in storage.list_experiments()] if storage.exists() else []
        raise ConfigError(
            f"Warm start: no experiment {spec.experiment!r} in {where}.{suggest(spec.experiment, names)} "
            f"Experiments there: {', '.join(sorted(names)) or 'none'}; give the name of a finished one (and its "
            "`storage` when it lives elsewhere)."
        )
    same_task = _same_task(row, own_config)
    mode = spec.mode if spec.mode != "auto" else ("tell" if same_task else "enqueue")
    try:  # the source's best archs are the best by its own objective
        ranking = Objective.parse(row.config["objective"])
    except (KeyError, TypeError, ConfigError):
        ranking = objective
    if mode == "tell" and ranking.metric != objective.metric:
        raise ConfigError(
            f"Warm start: experiment {row.name!r} measured {ranking.metric!r}, but this one optimises "
            f"{objective.metric!r}; its results cannot be told as this search's own. Use mode 'enqueue' (its best "
            "archs are evaluated again here) or 'auto'."
        )
    rng = np.random.default_rng(seed)
    best: dict[str, tuple[float, float, TrialRecord]] = {}  # arch id -> (budget, score, record): highest budget
    skipped = projected = 0
    for record in storage.get_trials(row.id, [TrialState.COMPLETE]):
        score = ranking.score(record)
        if score is None or not math.isfinite(score):
            skipped += 1
            continue
        try:
            arch = project(space, record.arch, rng)
        except ArchError:
            skipped += 1
            continue
        projected += arch != record.arch
        budget = math.inf if record.budget is None else float(record.budget)
        prior = best.get(arch.id)
        if prior is None or (budget, score) > prior[:2]:
            best[arch.id] = (budget, score, record.with_(arch=arch, info={**record.info, "warm_start": row.name}))
    if not best:
        raise ConfigError(
            f"Warm start: experiment {row.name!r} in {where} has no completed trial with a finite "
            f"{ranking.metric!r}; warm-start from an experiment that finished trials measuring it."
        )
    ranked = sorted(best.values(), key=lambda v: -v[1])
    return Source(row.name, mode, [r for _, _, r in ranked], projected, same_task, skipped)


def _same_task(row: ExperimentRow, own: Mapping[str, Any]) -> bool:
    """Same space, objective and evaluation task (`BaseEvaluator.task`: data, split, training); for a source
    saved without its task, the same evaluator class and, when both came from a config, the same data."""
    src = row.config
    if any(src.get(k) != own.get(k) for k in ("space_fingerprint", "objective", "evaluator")):
        return False
    if "task" in src and "task" in own:
        return bool(_jsonable(src["task"]) == _jsonable(own["task"]))
    a, b = src.get("spec") or {}, own.get("spec") or {}
    return all(a.get(k) == b.get(k) for k in ("dataset", "evaluator") if k in a and k in b)


def _jsonable(value: Any) -> Any:
    """As stored: tuples become lists, so a task read back compares equal to one just described."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def queue_sampler(
    archs: Sequence[Arch],
    fallback: Callable[[np.random.Generator], Arch],
    taken: Callable[[], Collection[Hashable]] | None = None,
    key: Callable[[Arch], Hashable] = lambda arch: arch.id,
) -> Callable[[np.random.Generator], Arch]:
    """A sampler serving `archs` in order, then drawing from `fallback`. With `taken` (the keys of the archs the
    experiment holds now, read when a queued arch is due), queued archs that another driver of the experiment
    has proposed meanwhile are passed over: cooperating drivers each hold the queue, and it is served once."""
    queue = list(archs)

    def sample(rng: np.random.Generator) -> Arch:
        if queue and taken is not None:
            held = taken()
            while queue and key(queue[0]) in held:
                queue.pop(0)
        return queue.pop(0) if queue else fallback(rng)

    return sample
