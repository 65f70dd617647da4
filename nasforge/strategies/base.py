"""`BaseStrategy`: decides which arch (and budget) to evaluate next through `ask` / `tell`."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.errors import ConfigError
from nasforge.space import Arch, ModelSpace
from nasforge.space.decision import Decision
from nasforge.strategies.context import SearchContext
from nasforge.trial import Objective, Proposal, TrialRecord

#: A source of random archs for `BaseStrategy.sample_random`: called with the strategy's generator.
Sampler = Callable[[np.random.Generator], Arch]


class BaseStrategy(abc.ABC):
    """Asynchronous by design: several asks may be outstanding before their tells arrive.

    Subclasses implement `_ask` (and usually `_tell`); `_state_dict` / `_load_state_dict` carry any state
    beyond the random generator, as JSON-ready values, so an experiment resumes exactly where it stopped.
    """

    space: ModelSpace
    objective: Objective
    objectives: tuple[Objective, ...]
    rng: np.random.Generator
    #: False for strategies whose proposals do not depend on the seed (an unshuffled grid)
    seeded: bool = True
    #: Where `sample_random` draws from instead of the uniform `space.random(rng)`; see `set_sampler`
    _sampler: Sampler | None = None
    #: True for strategies that learn from results they did not propose (`warm_start`)
    accepts_history: bool = False
    #: True for strategies that optimise several objectives at once (or, like random search, ignore scores)
    multi_objective: bool = False
    #: False for strategies that several drivers of one experiment cannot share by taking turns (see
    #: `nasforge.experiment.turns`), such as a one-shot strategy, which trains its supernet in the driver
    cooperative: bool = True
    #: True for strategies whose proposals may continue an earlier trial of the same arch: a proposal whose
    #: `info["resumes"]` is a budget starts from the weights that arch's trial at that budget saved and trains
    #: the rest of its own budget (`nasforge.estimation.tracking`); the experiment then keeps trials' weights
    resumes: bool = False

    def setup(
        self,
        space: ModelSpace,
        objective: Objective,
        seed: int | None = None,
        objectives: Sequence[Objective] | None = None,
    ) -> None:
        """Bind to a space and objective(s); called once by the experiment before the first ask.

        `objectives` lists every objective, `objective` (the primary one) first; it defaults to `(objective,)`.
        A strategy that is not `multi_objective` refuses several."""
        if not isinstance(space, ModelSpace):
            raise ConfigError(f"A strategy searches a ModelSpace, but got {type(space).__name__}.")
        objectives = tuple(objectives) if objectives is not None else (objective,)
        if not objectives or objectives[0] != objective:
            raise ConfigError(
                f"`objectives` of {type(self).__name__}.setup must start with the primary objective {objective}, "
                f"but got {objectives}."
            )
        if len(objectives) > 1 and not self.multi_objective:
            from nasforge.strategies import multi_objective_names

            raise ConfigError(
                f"{type(self).__name__} optimises one objective, but the experiment has {len(objectives)} "
                f"({', '.join(f'{o.direction[:3]}:{o.metric}' for o in objectives)}); use a multi-objective "
                f"strategy ({', '.join(multi_objective_names())}), or one objective and constraints on the rest."
            )
        self.space = space
        self.objective = objective
        self.objectives = objectives
        self.rng = np.random.default_rng(seed)
        self._setup()

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self.space.decisions

    def ask(self) -> Proposal | None:
        """The next arch to evaluate, or None when nothing can be proposed until more results arrive."""
        if not hasattr(self, "space"):
            raise ConfigError(f"{type(self).__name__}.setup(space, objective) must be called before ask().")
        return self._ask()

    def tell(self, record: TrialRecord) -> None:
        """Report a finished trial (complete, failed or pruned) that this strategy proposed."""
        self._tell(record)

    def warm_start(self, records: Sequence[TrialRecord]) -> None:
        """Learn from finished trials of an earlier experiment on the same task, before the first ask, as if
        this strategy had proposed them (`nasforge.estimation.warm_start`). Only for `accepts_history`."""
        if not self.accepts_history:
            raise ConfigError(
                f"{type(self).__name__} cannot learn from trials it did not propose; warm-start it with "
                "mode 'enqueue' (the earlier best archs are proposed first) instead of 'tell'."
            )
        if not hasattr(self, "space"):
            raise ConfigError(f"{type(self).__name__}.setup(space, objective) must be called before warm_start().")
        self._warm_start(list(records))

    def is_done(self) -> bool:
        """True when the strategy has nothing left to propose (e.g. a finished grid)."""
        return False

    def sample_random(self) -> Arch:
        """A random arch for a proposal: `space.random(self.rng)`, unless a sampler is installed.

        Strategies draw their random proposals (initial population or design, restarts, fillers) here, so a
        middleware such as `ZeroCostWarmup` can change where they come from without knowing the strategy."""
        sampler = self._sampler
        return self.space.random(self.rng) if sampler is None else sampler(self.rng)

    @property
    def sampler(self) -> Sampler | None:
        """The sampler installed by `set_sampler` (None: uniform), so another one can fall back on it."""
        return self._sampler

    def set_sampler(self, sampler: Sampler | None) -> None:
        """Install `sampler(rng) -> Arch` as the source of `sample_random` (None restores uniform sampling);
        a middleware passes it on to its inner strategy, so it reaches the innermost one."""
        if sampler is not None and not callable(sampler):
            raise ConfigError(
                f"A sampler of {type(self).__name__} must be callable as sampler(rng) -> Arch, but got {sampler!r}."
            )
        self._sampler = sampler

    def prepare(self, context: SearchContext) -> bool:
        """Work done in the driver before the first ask of a run, such as a one-shot strategy's supernet
        training, with what `context` (the experiment) offers; False when it stopped before finishing (timeout
        or stop), so that the run ends and a later run continues it. Most strategies have nothing to prepare."""
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, **self._state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self._load_state_dict(state)

    def score(self, record: TrialRecord) -> float | None:
        return self.objective.score(record)

    def scores(self, record: TrialRecord) -> np.ndarray | None:
        """Every objective of a finished trial signed so that larger is better, or None if one is missing."""
        from nasforge.multiobjective.objectives import score_vector

        return score_vector(record, self.objectives)

    # --- hooks ------------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        return None

    @abc.abstractmethod
    def _ask(self) -> Proposal | None: ...

    def _tell(self, record: TrialRecord) -> None:
        return None

    def _warm_start(self, records: list[TrialRecord]) -> None:
        for record in records:
            self._tell(record)

    def _state_dict(self) -> dict[str, Any]:
        return {}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def arch_key(space: ModelSpace, arch: Arch) -> str:
    """What counts as the same arch: the space's `canonical_key(arch)` when it has one (e.g. NB201's
    isomorphism classes), else the arch id."""
    canonical = getattr(space, "canonical_key", None)
    return str(canonical(arch)) if callable(canonical) else arch.id


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"`{name}` of {owner} must be an int >= {minimum}, but got {value!r}.")
    return value
