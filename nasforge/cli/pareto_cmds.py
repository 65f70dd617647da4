"""`nasforge pareto` and `nasforge pick`: the trade-offs a multi-objective search found, and one to deploy."""

from __future__ import annotations

import argparse
from typing import Any

from nasforge.cli.common import add_format, add_storage, dumps, record_row, table
from nasforge.errors import ConfigError
from nasforge.multiobjective.objectives import Constraint, parse_constraints, score_matrix
from nasforge.multiobjective.pareto import pareto_front
from nasforge.multiobjective.selection import hypervolume_of, pick_trial
from nasforge.storage import get_storage
from nasforge.trial import Objective, TrialRecord


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pareto", help="list the Pareto front of an experiment's objectives")
    p.add_argument("name", help="experiment name")
    p.add_argument(
        "--reference",
        nargs="+",
        type=float,
        metavar="X",
        help="also print the front's hypervolume over this point: one value per objective, in its own units",
    )
    add_storage(p)
    add_format(p)
    p.set_defaults(func=pareto_main)

    p = sub.add_parser("pick", help="pick one trial of the Pareto front: the knee, or the best under constraints")
    p.add_argument("name", help="experiment name")
    p.add_argument("--rule", choices=("knee", "best"), default="knee", help="knee (default) or best primary objective")
    p.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar="EXPR",
        help="also require this, e.g. 'latency_ms <= 5' (repeatable)",
    )
    add_storage(p)
    add_format(p)
    p.set_defaults(func=pick_main)


def load_front_inputs(
    name: str, storage: str
) -> tuple[list[TrialRecord], tuple[Objective, ...], tuple[Constraint, ...]]:
    """An experiment's trials, objectives and constraints as stored (no space or data needed)."""
    store = get_storage(storage)
    row = store.require_experiment(name)
    specs = row.config.get("objectives") or [row.config.get("objective", {})]
    objectives = tuple(Objective(**spec) for spec in specs)
    return store.get_trials(row.id), objectives, parse_constraints(row.config.get("constraints") or None)


def _row(record: TrialRecord, objectives: tuple[Objective, ...]) -> dict[str, Any]:
    row = record_row(record, [o.metric for o in objectives])
    row.pop("error", None)
    return row


def pareto_main(args: argparse.Namespace) -> int:
    records, objectives, constraints = load_front_inputs(args.name, args.storage)
    kept, scores = score_matrix(records, objectives, constraints)
    front = [kept[i] for i in pareto_front(scores)] if kept else []
    volume = None
    if args.reference is not None:
        volume = hypervolume_of(records, objectives, args.reference, constraints)
    if args.format != "table":
        data: dict[str, Any] = {
            "objectives": [{"metric": o.metric, "direction": o.direction} for o in objectives],
            "constraints": [str(c) for c in constraints],
            "front": [{**_row(r, objectives), "metrics": dict(r.metrics), "arch": r.arch.to_dict()} for r in front],
        }
        if volume is not None:
            data["hypervolume"] = volume
        print(dumps(data, args.format))
        return 0
    heading = ", ".join(f"{o.direction[:3]} {o.metric}" for o in objectives)
    limits = f" under {', '.join(map(str, constraints))}" if constraints else ""
    print(f"Pareto front of {args.name!r} ({heading}){limits}: {len(front)} of {len(kept)} feasible trials")
    print(table([_row(r, objectives) for r in front]))
    if volume is not None:
        print(f"hypervolume over {args.reference}: {volume:.6g}")
    return 0


def pick_main(args: argparse.Namespace) -> int:
    records, objectives, constraints = load_front_inputs(args.name, args.storage)
    extra = parse_constraints(args.constraint)
    picked = pick_trial(records, objectives, args.rule, (*constraints, *extra))
    if picked is None:
        every = ", ".join(map(str, (*constraints, *extra))) or "none"
        raise ConfigError(
            f"No completed trial of {args.name!r} meets the constraints ({every}); loosen them or search longer."
        )
    data = {"number": picked.number, "arch_id": picked.arch.id, "metrics": dict(picked.metrics)}
    if args.format != "table":
        print(dumps({**data, "arch": picked.arch.to_dict()}, args.format))
    else:
        shown = ", ".join(f"{o.metric} = {picked.metrics[o.metric]:.6g}" for o in objectives)
        print(f"trial {picked.number} ({picked.arch.id}), the {args.rule} pick: {shown}")
        print(f"export it with: nasforge export {args.name} --trial {picked.number} --storage {args.storage}")
    return 0
