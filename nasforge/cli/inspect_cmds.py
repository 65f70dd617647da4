"""`nasforge trials`, `best`, `list`, `presets`: read what the storage holds."""

from __future__ import annotations

import argparse

from nasforge.cli.common import add_format, add_storage, dumps, record_row, table
from nasforge.config import preset_names, preset_summary
from nasforge.errors import StorageError
from nasforge.storage import get_storage
from nasforge.trial import Objective, TrialRecord, TrialState


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trials", help="list an experiment's trials")
    p.add_argument("name", help="experiment name")
    p.add_argument("--state", choices=[s.value for s in TrialState], help="only trials in this state")
    add_storage(p)
    add_format(p)
    p.set_defaults(func=trials_main)

    p = sub.add_parser("best", help="show an experiment's best trial")
    p.add_argument("name", help="experiment name")
    add_storage(p)
    add_format(p)
    p.set_defaults(func=best_main)

    p = sub.add_parser("list", help="list the experiments in a storage")
    add_storage(p)
    add_format(p)
    p.set_defaults(func=list_main)

    p = sub.add_parser("presets", help="list the built-in presets (run one with `nasforge run PRESET`)")
    add_format(p)
    p.set_defaults(func=presets_main)


def presets_main(args: argparse.Namespace) -> int:
    rows = [preset_summary(name) for name in preset_names()]
    print(dumps(rows, args.format) if args.format != "table" else table(rows))
    return 0


def _load(name: str, storage: str) -> tuple[list[TrialRecord], Objective]:
    store = get_storage(storage)
    row = store.require_experiment(name)
    return store.get_trials(row.id), Objective(**row.config.get("objective", {}))


def trials_main(args: argparse.Namespace) -> int:
    records, objective = _load(args.name, args.storage)
    if args.state:
        records = [r for r in records if r.state.value == args.state]
    if args.format != "table":
        print(
            dumps(
                [
                    {**record_row(r, []), "metrics": dict(r.metrics), "arch": r.arch.to_dict(), "info": dict(r.info)}
                    for r in records
                ],
                args.format,
            )
        )
    else:
        metrics = [objective.metric, "params", "train_time"]
        print(table([record_row(r, metrics) for r in records]))
    return 0


def best_main(args: argparse.Namespace) -> int:
    from nasforge.cli.pareto_cmds import load_front_inputs
    from nasforge.multiobjective import best_of, feasible

    records, objectives, constraints = load_front_inputs(args.name, args.storage)
    objective = objectives[0]
    best = best_of([r for r in records if feasible(r, constraints)], objective)
    if best is None:
        limits = f" that meets {', '.join(map(str, constraints))}" if constraints else ""
        raise StorageError(f"Experiment {args.name!r} has no completed trial{limits} yet.")
    data = {
        "number": best.number,
        "arch_id": best.arch.id,
        "metrics": dict(best.metrics),
        "arch": best.arch.to_dict(),
    }
    if args.format != "table":
        print(dumps(data, args.format))
    else:
        print(f"trial {best.number} ({best.arch.id}): {objective.metric} = {best.metrics.get(objective.metric)}")
        for key, value in best.metrics.items():
            print(f"  {key:<14} {value:.6g}")
        print("arch:")
        for key, value in best.arch.items():
            print(f"  {key:<32} {value}")
    return 0


def list_main(args: argparse.Namespace) -> int:
    store = get_storage(args.storage)
    rows = []
    for row in store.list_experiments():
        records = store.get_trials(row.id)
        rows.append(
            {
                "name": row.name,
                "status": row.status,
                "trials": len(records),
                "complete": sum(r.state is TrialState.COMPLETE for r in records),
                "failed": sum(r.state is TrialState.FAILED for r in records),
            }
        )
    print(dumps(rows, args.format) if args.format != "table" else table(rows))
    return 0
