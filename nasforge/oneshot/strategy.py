"""`OneShotStrategy`: a one-shot method inside an `Experiment`, with the same storage, CLI and export.

The supernet is trained in the driver process before the first trial (`BaseStrategy.prepare`), on the
evaluator's training part and validation split (FedNAS: over the federated evaluator's clients). After every supernet epoch its checkpoint is written to
the experiment's `checkpoint_dir` and the epoch's metrics go to the storage (in the strategy state) and to
the callbacks, so a killed or timed-out search resumes from its last finished epoch. The derived arch is
then proposed as an ordinary trial: the evaluator trains it like any other candidate, and
`Experiment.export` retrains and exports it.

Each name of `ONESHOT_METHODS` is registered here as a strategy of that name (`nasforge run --strategy
drnas`, or `strategy: {name: drnas, epochs: 20}` in a config), and `oneshot` as the default method, DrNAS
(README, "One-shot"). The strategy registry lives in `nasforge.strategies`, which knows nothing of one-shot
methods; `import nasforge` imports this module, so the names are there whenever a name is looked up.

>>> from nasforge.oneshot import DrNAS
>>> OneShotStrategy(DrNAS(epochs=20))  # doctest: +ELLIPSIS
OneShotStrategy(DrNAS(epochs=20, batch_size=64, ...))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from nasforge.data import ArrayData
from nasforge.errors import ConfigError
from nasforge.oneshot.base import BaseOneShot
from nasforge.oneshot.registry import DEFAULT_ONESHOT, ONESHOT_METHODS
from nasforge.space import Arch
from nasforge.strategies import STRATEGIES
from nasforge.strategies.base import BaseStrategy
from nasforge.strategies.context import SearchContext
from nasforge.trial import Proposal, TrialRecord

__all__ = ["ONESHOT_NAMES", "OneShotStrategy", "SearchData", "oneshot_factory"]

CHECKPOINT_FILE = "supernet.pt"
#: every strategy name of a one-shot method
ONESHOT_NAMES = (*ONESHOT_METHODS, "oneshot")


@runtime_checkable
class SearchData(Protocol):
    """An evaluator that a supernet can be trained under: it hands out its training part and validation
    split (`ClassificationEvaluator`)."""

    def search_data(self) -> tuple[ArrayData, ArrayData]: ...


class OneShotStrategy(BaseStrategy):
    """Train `method`'s supernet once, then propose the derived arch as the experiment's trial.

    The experiment's seed replaces the method's, as for every other strategy. One driver runs it: a second
    driver on the same experiment would train a second supernet.
    """

    cooperative = False

    def __init__(self, method: BaseOneShot) -> None:
        if not isinstance(method, BaseOneShot):
            raise ConfigError(
                f"OneShotStrategy wraps a one-shot method such as DrNAS() or SPOS(), but got {type(method).__name__}."
            )
        self.method = method
        self._history: list[dict[str, float]] = []
        self._arch: Arch | None = None
        self._result: dict[str, Any] = {}
        self._proposed = False
        self._told = False

    def __repr__(self) -> str:
        return f"OneShotStrategy({self.method!r})"

    def _setup(self) -> None:
        self.method.seed = int(self.rng.integers(2**31 - 1))
        self.method.supernet(self.space)  # a decision the supernet cannot express fails here, before any write

    # --- the supernet, in the driver ---------------------------------------------------------------------------
    def prepare(self, context: SearchContext) -> bool:
        if self._arch is not None:
            return True

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            # the checkpoint is written just before this; after a kill in between, the epoch reruns
            self._history = [h for h in self._history if h["epoch"] < epoch] + [metrics]
            context.search_progress(epoch, {**metrics, "epochs": float(self.method.epochs)})

        result = self.method.search_under(
            context.evaluator,
            context.space,
            checkpoint=context.checkpoint_dir / CHECKPOINT_FILE,
            on_epoch=on_epoch,
            should_stop=context.should_stop,
        )
        if result is None:
            return False
        self._arch = result.arch
        self._history = list(result.history)
        self._result = {
            "search_time": result.search_time,
            "probabilities": result.probabilities,
            "pinned": dict(result.pinned),
            **result.info,
        }
        context.save_strategy_state()
        return True

    # --- the trial of the derived arch ----------------------------------------------------------------------
    def _ask(self) -> Proposal | None:
        if self._arch is None or self._proposed:
            return None
        self._proposed = True
        info = {"source": f"oneshot:{type(self.method).__name__}", "supernet_epochs": self.method.epochs}
        info.update({k: self._result[k] for k in self.method.trial_info if k in self._result})
        return Proposal(self._arch, info=info)

    def _tell(self, record: TrialRecord) -> None:
        self._told = True

    def is_done(self) -> bool:
        return self._told

    @property
    def history(self) -> list[dict[str, float]]:
        """The supernet's metrics per epoch (also in the stored strategy state)."""
        return list(self._history)

    @property
    def result(self) -> dict[str, Any]:
        """Search time, final architecture probabilities, pinned decisions; empty until the search ends."""
        return dict(self._result)

    def _state_dict(self) -> dict[str, Any]:
        return {
            "history": self._history,
            "arch": None if self._arch is None else self._arch.to_dict(),
            "result": self._result,
            "proposed": self._proposed,
            "told": self._told,
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._history = list(state["history"])
        self._arch = None if state["arch"] is None else self.space.validate(state["arch"])
        self._result = dict(state["result"])
        self._proposed = bool(state["proposed"])
        self._told = bool(state["told"])  # a proposed, untold trial is rerun by the experiment, not re-asked


def method_signature(cls: type[BaseOneShot]) -> inspect.Signature:
    """The keyword options of `cls`, gathered along its bases where a subclass passes **kwargs on, so that
    configs are checked against every option (`BetaDARTS` has DARTS's and its own `beta_weight`)."""
    params: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        sig = inspect.signature(init)
        for name, p in sig.parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in params:
                continue
            params[name] = p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            break
    return inspect.Signature(list(params.values()))


def oneshot_factory(cls: type[BaseOneShot]) -> Callable[..., OneShotStrategy]:
    """A registry factory: options of `cls` in, a `OneShotStrategy` out (with `cls`'s checked signature)."""

    def factory(**options: Any) -> OneShotStrategy:
        return OneShotStrategy(cls(**options))

    factory.__signature__ = method_signature(cls)  # type: ignore[attr-defined]
    factory.__doc__ = cls.__doc__
    factory.__name__ = cls.__name__
    return factory


def method_class(name: str) -> type[BaseOneShot]:
    """The one-shot method registered as `name`, as a class (its options are gathered along its bases)."""
    cls = ONESHOT_METHODS[name]
    if not (isinstance(cls, type) and issubclass(cls, BaseOneShot)):
        raise ConfigError(f"One-shot method {name!r} must be registered as a BaseOneShot subclass, but is {cls!r}.")
    return cls


for _name in ONESHOT_METHODS:
    STRATEGIES.add(_name, oneshot_factory(method_class(_name)))
STRATEGIES.add(
    "oneshot",
    oneshot_factory(method_class(DEFAULT_ONESHOT)),
    f"The default one-shot method, {DEFAULT_ONESHOT}: the one that held up best on a NAS-Bench-201 proxy "
    "(a one-cell supernet on Fashion-MNIST at 16x16, the cell looked up in the CIFAR-10 table).",
)
