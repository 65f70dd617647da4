"""Multi-fidelity strategies: evaluate many archs cheaply, and only the most promising at larger budgets.

- `SuccessiveHalving`: Jamieson & Talwalkar 2016, "Non-stochastic Best Arm Identification and
  Hyperparameter Optimization" (AISTATS).
- `Hyperband`: Li et al. 2018, "Hyperband: A Novel Bandit-Based Approach to Hyperparameter Optimization"
  (JMLR).
- `ASHA`: Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning" (MLSys).
- `BOHB` (in `nasforge.strategies.bohb`): Hyperband whose new archs come from a density model.

`budgets` are an evaluator's fidelities (e.g. epochs), smallest first; rung `r` evaluates at `budgets[r]`.
Every proposal carries `budget=budgets[r]` and `info={"rung": r, "bracket": b, "origin": ...}`. The experiment
hands the info back on the record, which identifies the result; a record without it is matched to the oldest
outstanding proposal of the same arch (and budget, when given).

With `resume=True` a promoted arch continues its training instead of starting again: the promotion's info
says `"resumes": budgets[r - 1]`, and an evaluator that trains weights (`supports_resume`) starts from the
weights of the arch's trial at that budget and trains only the difference (its schedule begun again), as a
paused trial resumes in Ray Tune's ASHA or an Optuna trial goes on past a pruner's rung. A promotion to the
top rung then costs `budgets[-1] - budgets[-2]` instead of `budgets[-1]`, and the time saved goes to new archs.
"""

from __future__ import annotations

import abc
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nasforge.errors import ConfigError
from nasforge.space import Arch
from nasforge.strategies.base import BaseStrategy, check_int
from nasforge.trial import Proposal, TrialRecord

#: Draws of a new random arch before accepting one proposed before (small spaces run out of new archs).
MAX_RETRIES = 100


def check_budgets(owner: str, budgets: Any) -> tuple[float, ...]:
    """Return `budgets` as a tuple, or raise unless it is a non-empty increasing sequence of positive numbers."""
    ok = isinstance(budgets, Sequence) and not isinstance(budgets, (str, bytes)) and len(budgets) > 0
    if ok:
        ok = all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) and b > 0 for b in budgets
        ) and all(a < b for a, b in itertools.pairwise(budgets))
    if not ok:
        raise ConfigError(
            f"`budgets` of {owner} must be an increasing sequence of positive numbers, but got {budgets!r}."
        )
    return tuple(budgets)


@dataclass
class _Pending:
    """A proposal whose result has not arrived."""

    arch: Arch
    rung: int
    bracket: int


@dataclass
class _Result:
    arch: Arch
    score: float | None  # None: failed, ranks below every number
    promoted: bool = False


def ranking(results: Sequence[_Result]) -> list[int]:
    """Positions of `results` best first; failures last, ties in order of arrival."""
    return sorted(range(len(results)), key=lambda i: (results[i].score is None, -(results[i].score or 0.0), i))


class BaseMultiFidelity(BaseStrategy):
    """What every successive-halving strategy shares: budgets, eta, matching results to proposals, new archs.

    Subclasses implement `_ask` and `_on_result(pending, score)`; `_new_arch(rung)` draws a new arch (random
    here, from a model in `BOHB`).
    """

    def __init__(self, budgets: Sequence[float] = (12, 200), eta: int | None = None, *, resume: bool = False) -> None:
        owner = type(self).__name__
        self.budgets = check_budgets(owner, budgets)
        self.eta = default_eta(self.budgets) if eta is None else check_int(owner, "eta", eta, 2)
        if not isinstance(resume, bool):
            raise ConfigError(
                f"`resume` of {owner} must be true or false (promotions continue the arch's lower-rung training, "
                f"or start again), but got {resume!r}."
            )
        self.resumes = resume
        self._pending: list[_Pending] = []
        self._seen: set[str] = set()

    @property
    def max_rung(self) -> int:
        return len(self.budgets) - 1

    def _propose(self, arch: Arch, rung: int, bracket: int, origin: str) -> Proposal:
        self._pending.append(_Pending(arch, rung, bracket))
        info: dict[str, Any] = {"rung": rung, "bracket": bracket, "origin": origin}
        if self.resumes and origin == "promotion" and rung > 0:
            info["resumes"] = self.budgets[rung - 1]
        return Proposal(arch, budget=self.budgets[rung], info=info)

    def _propose_new(self, rung: int, bracket: int) -> Proposal:
        arch, origin = self._new_arch(rung)
        self._seen.add(arch.id)
        return self._propose(arch, rung, bracket, origin)

    def _new_arch(self, rung: int) -> tuple[Arch, str]:
        return self._random_arch(), "random"

    def _random_arch(self) -> Arch:
        arch = self.sample_random()
        for _ in range(MAX_RETRIES):
            if arch.id not in self._seen:
                break
            arch = self.sample_random()
        return arch

    def _tell(self, record: TrialRecord) -> None:
        pending = self._match(record)
        if pending is not None:  # else not proposed by us, or told twice
            self._on_result(pending, self.score(record))

    def _match(self, record: TrialRecord) -> _Pending | None:
        info = record.info
        for i, p in enumerate(self._pending):
            if p.arch.id != record.arch.id:
                continue
            if "rung" in info and "bracket" in info:
                if (p.rung, p.bracket) != (info["rung"], info["bracket"]):
                    continue
            elif record.budget is not None and self.budgets[p.rung] != record.budget:
                continue
            return self._pending.pop(i)
        return None

    @abc.abstractmethod
    def _on_result(self, pending: _Pending, score: float | None) -> None:
        """Take the result of a proposal; `score` is None for a failed trial."""

    def _state_dict(self) -> dict[str, Any]:
        return {
            "pending": [[p.arch.to_dict(), p.rung, p.bracket] for p in self._pending],
            "seen": sorted(self._seen),
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._pending = [_Pending(Arch(a), int(r), int(b)) for a, r, b in state["pending"]]
        self._seen = set(state["seen"])

    def __repr__(self) -> str:
        resume = ", resume=True" if self.resumes else ""
        return f"{type(self).__name__}(budgets={self.budgets!r}, eta={self.eta}{resume})"


# --- synchronous brackets: SuccessiveHalving, Hyperband (and BOHB) ------------------------------------------------


@dataclass
class _Bracket:
    """One run of successive halving: `sizes[i]` archs at rung `start + i`, the top 1/eta promoted each time."""

    index: int
    start: int
    sizes: list[int]
    rung: int  # the rung running now
    n_new: int  # new archs still to draw (start rung only)
    queue: list[Arch] = field(default_factory=list)  # promoted archs still to propose at `rung`
    results: list[_Result] = field(default_factory=list)  # finished at `rung`

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": self.start,
            "sizes": self.sizes,
            "rung": self.rung,
            "n_new": self.n_new,
            "queue": [a.to_dict() for a in self.queue],
            "results": [[r.arch.to_dict(), r.score] for r in self.results],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> _Bracket:
        return cls(
            int(d["index"]),
            int(d["start"]),
            [int(n) for n in d["sizes"]],
            int(d["rung"]),
            int(d["n_new"]),
            [Arch(a) for a in d["queue"]],
            [_Result(Arch(a), None if s is None else float(s)) for a, s in d["results"]],
        )


def default_eta(budgets: Sequence[float]) -> int:
    """The geometric ratio between consecutive budgets, as Hyperband assumes (budgets (12, 200): 17;
    (1, 3, 9): 3). An eta far below the real ratio spends most of the time on the largest budget."""
    if len(budgets) < 2:
        return 3
    return max(2, round((budgets[-1] / budgets[0]) ** (1 / (len(budgets) - 1))))


def halving_sizes(n: int, eta: int, n_rungs: int) -> list[int]:
    """Archs per rung when `n` start and the top 1/eta go on: `[n, n // eta, n // eta**2, ...]`."""
    return [n // eta**i for i in range(n_rungs)]


class _BracketStrategy(BaseMultiFidelity):
    """Synchronous successive halving inside each bracket, asynchronous across brackets.

    A rung is promoted once all its results are in. While every open bracket waits for results, the next
    bracket opens (as HpBandSter runs BOHB in parallel), so workers never idle and `ask` never returns None.
    """

    def __init__(self, budgets: Sequence[float] = (12, 200), eta: int | None = None, *, resume: bool = False) -> None:
        super().__init__(budgets, eta, resume=resume)
        self._brackets: list[_Bracket] = []  # open, oldest first
        self._n_brackets = 0  # opened so far

    @abc.abstractmethod
    def _next_bracket(self, index: int) -> _Bracket:
        """The bracket to open as the `index`-th (from 0)."""

    def _ask(self) -> Proposal:
        for bracket in self._brackets:
            proposal = self._ask_bracket(bracket)
            if proposal is not None:
                return proposal
        bracket = self._next_bracket(self._n_brackets)
        self._n_brackets += 1
        self._brackets.append(bracket)
        proposal = self._ask_bracket(bracket)
        assert proposal is not None  # a new bracket starts with n_new >= 1
        return proposal

    def _ask_bracket(self, bracket: _Bracket) -> Proposal | None:
        if bracket.queue:
            return self._propose(bracket.queue.pop(0), bracket.rung, bracket.index, "promotion")
        if bracket.n_new > 0:
            bracket.n_new -= 1
            return self._propose_new(bracket.rung, bracket.index)
        return None

    def _on_result(self, pending: _Pending, score: float | None) -> None:
        bracket = next((b for b in self._brackets if b.index == pending.bracket), None)
        if bracket is None or bracket.rung != pending.rung:
            return
        bracket.results.append(_Result(pending.arch, score))
        if len(bracket.results) < bracket.sizes[bracket.rung - bracket.start]:
            return
        nxt = bracket.rung + 1 - bracket.start
        top = ranking(bracket.results)[: bracket.sizes[nxt]] if nxt < len(bracket.sizes) else []
        # a failed arch is never promoted (it would likely fail again, at a larger cost): later rungs shrink
        promoted = [bracket.results[i].arch for i in top if bracket.results[i].score is not None]
        if not promoted:
            self._brackets.remove(bracket)  # finished, or nothing left worth a larger budget
            return
        bracket.sizes[nxt:] = [min(n, len(promoted)) for n in bracket.sizes[nxt:]]
        bracket.queue = promoted
        bracket.results = []
        bracket.rung += 1

    def _state_dict(self) -> dict[str, Any]:
        return {
            **super()._state_dict(),
            "brackets": [b.to_dict() for b in self._brackets],
            "n_brackets": self._n_brackets,
        }

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        super()._load_state_dict(state)
        self._brackets = [_Bracket.from_dict(b) for b in state["brackets"]]
        self._n_brackets = int(state["n_brackets"])


class SuccessiveHalving(_BracketStrategy):
    """Successive halving (Jamieson & Talwalkar 2016): `n_initial` archs at `budgets[0]`, then the top 1/eta
    of each rung at the next budget, until the last budget.

    `n_initial` defaults to `eta ** (len(budgets) - 1)`, so one arch reaches the last budget. Each such run
    is a bracket; a new one opens whenever the open ones all wait for results.

    >>> from nasforge.strategies import SuccessiveHalving
    >>> strategy = SuccessiveHalving(budgets=(4, 12, 36), eta=3, n_initial=9)  # 9 archs, then 3, then 1
    """

    def __init__(
        self,
        budgets: Sequence[float] = (12, 200),
        eta: int | None = None,
        n_initial: int | None = None,
        *,
        resume: bool = False,
    ) -> None:
        super().__init__(budgets, eta, resume=resume)
        least = self.eta**self.max_rung
        if n_initial is None:
            n_initial = least
        if not isinstance(n_initial, int) or isinstance(n_initial, bool) or n_initial < least:
            raise ConfigError(
                f"`n_initial` of SuccessiveHalving must be an int >= eta ** (len(budgets) - 1) = {least}, so that "
                f"an arch reaches the last budget, but got {n_initial!r}."
            )
        self.n_initial = n_initial

    def _next_bracket(self, index: int) -> _Bracket:
        sizes = halving_sizes(self.n_initial, self.eta, len(self.budgets))
        return _Bracket(index, 0, sizes, 0, sizes[0])

    def __repr__(self) -> str:
        resume = ", resume=True" if self.resumes else ""
        return f"SuccessiveHalving(budgets={self.budgets!r}, eta={self.eta}, n_initial={self.n_initial}{resume})"


class Hyperband(_BracketStrategy):
    """Hyperband (Li et al. 2018): successive halving brackets that start at ever larger budgets, in a loop.

    With `K = len(budgets) - 1`, bracket `s = K, K-1, ..., 0` starts `ceil((K + 1) / (s + 1) * eta**s)` archs
    at rung `K - s`, so the most exploratory bracket comes first and the last one is random search at the
    largest budget. Brackets open in that order, again and again.

    >>> from nasforge.strategies import Hyperband
    >>> strategy = Hyperband(budgets=(4, 12, 36), eta=3)  # brackets of 9 -> 3 -> 1, 5 -> 1, and 3 archs
    """

    def bracket_sizes(self, s: int) -> list[int]:
        """Archs per rung of the bracket that runs the last `s + 1` budgets."""
        k = self.max_rung
        n = -(-(k + 1) * self.eta**s // (s + 1))  # ceil without floats
        return halving_sizes(n, self.eta, s + 1)

    def _next_bracket(self, index: int) -> _Bracket:
        s = self.max_rung - index % (self.max_rung + 1)
        sizes = self.bracket_sizes(s)
        start = self.max_rung - s
        return _Bracket(index, start, sizes, start, sizes[0])


# --- asynchronous: ASHA ---------------------------------------------------------------------------------------


class ASHA(BaseMultiFidelity):
    """Asynchronous successive halving (Li et al. 2020).

    Each ask promotes an arch from the highest rung that has one in the top 1/eta of its finished results and
    not promoted yet; otherwise it starts a new random arch at `budgets[0]`. No rung ever waits for another, so
    `ask` never returns None.

    >>> from nasforge.strategies import ASHA
    >>> strategy = ASHA(budgets=(12, 200), eta=3)
    """

    def __init__(self, budgets: Sequence[float] = (12, 200), eta: int | None = None, *, resume: bool = False) -> None:
        super().__init__(budgets, eta, resume=resume)
        self._rungs: list[list[_Result]] = [[] for _ in self.budgets]

    @property
    def rungs(self) -> list[list[tuple[Arch, float | None]]]:
        """Finished results per rung, in order of arrival."""
        return [[(r.arch, r.score) for r in rung] for rung in self._rungs]

    def _ask(self) -> Proposal:
        for r in range(self.max_rung - 1, -1, -1):
            rung = self._rungs[r]
            for i in self._rank(r)[: len(rung) // self.eta]:
                if not rung[i].promoted and rung[i].score is not None:
                    rung[i].promoted = True
                    return self._propose(rung[i].arch, r + 1, 0, "promotion")
        return self._propose_new(0, 0)

    def _rank(self, r: int) -> list[int]:
        """Positions of rung `r`'s results, best first, failures last: the order in which they are promoted."""
        return ranking(self._rungs[r])

    def _on_result(self, pending: _Pending, score: float | None) -> None:
        self._rungs[pending.rung].append(_Result(pending.arch, score))

    def _state_dict(self) -> dict[str, Any]:
        rungs = [[[r.arch.to_dict(), r.score, r.promoted] for r in rung] for rung in self._rungs]
        return {**super()._state_dict(), "rungs": rungs}

    def _load_state_dict(self, state: Mapping[str, Any]) -> None:
        super()._load_state_dict(state)
        self._rungs = [
            [_Result(Arch(a), None if s is None else float(s), bool(p)) for a, s, p in rung] for rung in state["rungs"]
        ]
