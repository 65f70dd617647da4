"""Operations on a list of decisions: validate, sample, enumerate, mutate, encode.

They need only the decisions (in discovery order, parents before children), never the network, so every
strategy and predictor can use them on any space.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.errors import ArchError, suggest
from nasforge.space.arch import Arch, Value
from nasforge.space.decision import Decision

Rng = np.random.Generator | int | None


def as_rng(rng: Rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def validate(decisions: Sequence[Decision], arch: Mapping[str, Any]) -> Arch:
    """Return the canonical arch (values from the domain, inactive decisions dropped) or raise `ArchError`.

    Values of decisions that are inactive in this arch are dropped rather than rejected, so an arch written
    for a deeper network still fits after a depth change.
    """
    if not isinstance(arch, Mapping):
        raise ArchError(f"An arch must be a mapping of label -> value, but got {type(arch).__name__}.")
    labels = [d.label for d in decisions]
    known = set(labels)
    unknown = [k for k in arch if k not in known]
    if unknown:
        key = unknown[0]
        raise ArchError(
            f"Arch has label {key!r}, which is not a decision of this space.{suggest(str(key), labels)} "
            f"Valid labels: {', '.join(labels)}."
        )
    out: dict[str, Value] = {}
    for d in decisions:
        if not d.is_active(out):
            continue
        if d.label not in arch:
            raise ArchError(
                f"Arch has no value for decision {d.label!r}, which this arch needs; give one of {list(d.values)!r}."
            )
        out[d.label] = d.values[d.index(arch[d.label])]
    return Arch(out)


def default(decisions: Sequence[Decision]) -> Arch:
    out: dict[str, Value] = {}
    for d in decisions:
        if d.is_active(out):
            out[d.label] = d.default
    return Arch(out)


def sample(decisions: Sequence[Decision], rng: Rng = None) -> Arch:
    gen = as_rng(rng)
    out: dict[str, Value] = {}
    for d in decisions:
        if d.is_active(out):
            out[d.label] = d.values[int(gen.integers(len(d.values)))]
    return Arch(out)


def _parents(decisions: Sequence[Decision]) -> set[str]:
    return {p for d in decisions for p in d.parents}


def grid(decisions: Sequence[Decision]) -> Iterator[Arch]:
    """Every distinct arch, the last decision varying fastest."""
    decisions = list(decisions)

    def walk(i: int, partial: dict[str, Value]) -> Iterator[dict[str, Value]]:
        if i == len(decisions):
            yield partial
            return
        d = decisions[i]
        if not d.is_active(partial):
            yield from walk(i + 1, partial)
            return
        for v in d.values:
            partial[d.label] = v
            yield from walk(i + 1, partial)
        del partial[d.label]

    for assignment in walk(0, {}):
        yield Arch(assignment)


def size(decisions: Sequence[Decision]) -> int:
    """The number of distinct archs (branches only on decisions that others depend on)."""
    decisions = list(decisions)
    parents = _parents(decisions)

    def count(i: int, partial: dict[str, Value]) -> int:
        factor = 1
        while i < len(decisions):
            d = decisions[i]
            if d.is_active(partial):
                if d.label in parents:
                    total = 0
                    for v in d.values:
                        partial[d.label] = v
                        total += count(i + 1, partial)
                    del partial[d.label]
                    return factor * total
                factor *= len(d.values)
            i += 1
        return factor

    return count(0, {})


def complete(decisions: Sequence[Decision], values: Mapping[str, Value], rng: Rng = None) -> Arch:
    """Keep the given values where still active, sample the decisions that have none, drop the rest."""
    gen = as_rng(rng)
    out: dict[str, Value] = {}
    for d in decisions:
        if not d.is_active(out):
            continue
        if d.label in values:
            out[d.label] = d.values[d.index(values[d.label])]
        else:
            out[d.label] = d.values[int(gen.integers(len(d.values)))]
    return Arch(out)


def mutate(decisions: Sequence[Decision], arch: Mapping[str, Any], rng: Rng = None, n: int = 1) -> Arch:
    """Change `n` active decisions to a different value; decisions this activates are sampled.

    Returns the arch unchanged only if the space has a single arch.
    """
    gen = as_rng(rng)
    current = validate(decisions, arch)
    values: dict[str, Value] = dict(current)
    for _ in range(n):
        arch_now = complete(decisions, values, gen)
        values = dict(arch_now)
        mutable = [d for d in decisions if d.label in values and len(d.values) > 1]
        if not mutable:
            return arch_now
        d = mutable[int(gen.integers(len(mutable)))]
        old = d.index(values[d.label])
        new = int(gen.integers(len(d.values) - 1))
        values[d.label] = d.values[new if new < old else new + 1]
    return complete(decisions, values, gen)


def neighbours(decisions: Sequence[Decision], arch: Mapping[str, Any]) -> Iterator[Arch]:
    """Every arch that differs in one active decision (newly active decisions take their default)."""
    current = validate(decisions, arch)
    for d in decisions:
        if d.label not in current:
            continue
        here = d.index(current[d.label])
        for j, v in enumerate(d.values):
            if j == here:
                continue
            changed = dict(current)
            changed[d.label] = v
            out: dict[str, Value] = {}
            for e in decisions:
                if e.is_active(out):
                    out[e.label] = changed.get(e.label, e.default)
            yield Arch(out)


def encoding_size(decisions: Sequence[Decision]) -> int:
    return sum(len(d.values) for d in decisions)


def encode(decisions: Sequence[Decision], arch: Mapping[str, Any]) -> np.ndarray:
    """One-hot per decision, concatenated in discovery order; inactive decisions are all zeros."""
    current = validate(decisions, arch)
    vec = np.zeros(encoding_size(decisions), dtype=np.float32)
    offset = 0
    for d in decisions:
        if d.label in current:
            vec[offset + d.index(current[d.label])] = 1.0
        offset += len(d.values)
    return vec


def decode(decisions: Sequence[Decision], vector: Sequence[float] | np.ndarray) -> Arch:
    """Inverse of `encode`; any real vector decodes (argmax per active decision), so optimisers may use it."""
    vec = np.asarray(vector, dtype=np.float64).ravel()
    if vec.shape[0] != encoding_size(decisions):
        raise ArchError(
            f"An encoded arch of this space has {encoding_size(decisions)} entries, but got {vec.shape[0]}."
        )
    out: dict[str, Value] = {}
    offset = 0
    for d in decisions:
        block = vec[offset : offset + len(d.values)]
        if d.is_active(out):
            out[d.label] = d.values[int(np.argmax(block))]
        offset += len(d.values)
    return Arch(out)


def to_indices(decisions: Sequence[Decision], arch: Mapping[str, Any]) -> np.ndarray:
    """One integer per decision: the value's position in its domain, -1 where inactive."""
    current = validate(decisions, arch)
    return np.array([d.index(current[d.label]) if d.label in current else -1 for d in decisions], dtype=np.int64)


def from_indices(decisions: Sequence[Decision], indices: Sequence[int] | np.ndarray) -> Arch:
    idx = list(np.asarray(indices).ravel())
    if len(idx) != len(decisions):
        raise ArchError(f"An index encoding of this space has {len(decisions)} entries, but got {len(idx)}.")
    out: dict[str, Value] = {}
    for d, i in zip(decisions, idx):
        if d.is_active(out):
            if not 0 <= int(i) < len(d.values):
                raise ArchError(f"Index {int(i)} for {d.label!r} must be in [0, {len(d.values)}).")
            out[d.label] = d.values[int(i)]
    return Arch(out)


def log10_size(decisions: Sequence[Decision]) -> float:
    return math.log10(max(size(decisions), 1))


def suggest_label(label: str, labels: Sequence[str]) -> str:
    return "." + suggest(label, labels) if suggest(label, labels) else "."
