"""Federated search against the same search run centrally and a fixed model trained with FedAvg (issue 33).

All methods use the `federated` preset's clients: spoken digits split by voice (the 72 training and
validation voices dealt out whole to 12 clients, each keeping a fifth of its utterances as its own
validation part; the partition is the preset's, the same for every seed and method), its space (1-D
convolution stacks), its federation settings (fraction of clients per round, local epochs, workers) and the
same test split (18 voices no client holds). For each seed (`--seeds`, default 0 1 2), one after another:

- `federated`: the preset's search (its strategy, or `--strategy`) with the federated evaluator, each
  trial `--rounds` FedAvg rounds (default: the preset's), for `--search-time` wall seconds (default: the
  search time in its job budget, `nasforge.experiment.JobBudget`; a trial still running then stops after
  its current round and is kept as cut); its best arch (best completed trial, else best cut one) is then
  trained federatedly for `--final-rounds` rounds (default: the preset's export epochs), the clients
  training on all their samples, and tested once.
- `central` (the upper bound): the same space and strategy searching on the *pooled* data of the same
  clients (their training parts pooled to train, their validation parts pooled to rank) with a
  `ClassificationEvaluator`, for the same `--search-time`; the best arch is retrained on all pooled samples
  and tested on the same test split.
- `fixed`: one hand-designed arch of the same space (`FIXED_ARCH`: the middle of every structural range of
  the space, 3 blocks of width 128, kernel 5, max pooling, batch norm, avg+max global pooling, dropout 0.2,
  with the space's default training settings: AdamW at 0.003, batch 64; chosen before any run, as a
  practitioner's first try, not the space's default arch, which is its smallest network) trained with
  FedAvg for `--final-rounds` rounds like the federated search's final model.
- `fednas` (with `--fednas`): FedNAS over the same clients, `--fednas-rounds` rounds, then its derived arch
  trained federatedly for `--final-rounds` rounds. A supernet can decide only the space's LayerChoices; in
  this space that is the network `kind`, of which the preset keeps only conv1d, so this method searches
  `kind` over conv1d and conv2d with every other decision pinned at the space's default (`fixed: defaults`):
  a weak search, recorded for what it is.

How the budgets are made comparable: the two searches get the same wall time (`--search-time`) on the same
cores; the central one, free of the federation's start-up and communication, fits more trials in it, which
is part of what the upper bound measures. Training is counted in epochs-equivalent: a FedAvg round in which
`fraction` of the clients train `local_epochs` passes over their own samples processes
`fraction x local_epochs` passes over the pooled data, so `rounds` rounds equal
`rounds x local_epochs x fraction` epochs (`epochs_equivalent`). A central trial trains that many epochs of
the federated trial's `--rounds`, and the central final model that many of `--final-rounds`: the same
number of sample gradients as its federated counterpart. Training settings other than the arch's own
decisions (schedule, ...) are the federated evaluator's in both.

Each run records: method, seed, `test_acc`, `trials`, `search_rounds` and `final_rounds`, `comm_bytes` (the
search's and the final training's, sent + received; 0 for central), the final model's accuracy on each
client's validation part (`client_acc_mean`, `client_acc_std`, `client_acc_min`; those parts are in every
final model's training data, the federated ones' as the central one's), the search's best trial's client
accuracies where a federated search scored them (`search_client_acc_*`; FedNAS's supernet's as
`supernet_client_acc_*`), wall times and the arch. The
summary has the mean per method and the per-seed differences the issue's done-when names (federated minus
central, federated minus fixed, in points).

    python benchmarks/federated.py --cpus 0,1                                   # the full run: 3 seeds
    python benchmarks/federated.py --seeds 0 --search-time 90 --rounds 1 --final-rounds 1 --cpus 1   # smoke
    python benchmarks/federated.py --markdown records/federated/federated_2core-....json    # the tables

The spoken digits must be cached already (`nasforge run spoken_digits` or `federated` generates them).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from federated_runs import run_method
from federated_tables import METHODS, markdown, pct, summarize

from nasforge.errors import ConfigError
from records import Record


def check_args(args: argparse.Namespace) -> argparse.Namespace:
    """Refuse settings no run can use, with what must hold; returns `args`."""
    for name in ("rounds", "final_rounds", "fednas_rounds"):
        value = getattr(args, name)
        if value < 1:
            raise ConfigError(f"`--{name.replace('_', '-')}` must be an int >= 1, but got {value}.")
    if not math.isfinite(args.search_time) or args.search_time <= 0:
        raise ConfigError(f"`--search-time` must be seconds > 0, but got {args.search_time}.")
    if not args.seeds or len(set(args.seeds)) != len(args.seeds):
        raise ConfigError(f"`--seeds` must name distinct seeds, but got {args.seeds}.")
    if args.strategy is not None:
        from nasforge.strategies import STRATEGIES

        if args.strategy not in STRATEGIES.names():
            raise ConfigError(f"`--strategy` must be one of {STRATEGIES.names()}, but got {args.strategy!r}.")
        if args.strategy == "fednas":
            raise ConfigError("`--strategy` is the multi-trial search's; for FedNAS give `--fednas` instead.")
    if args.fednas and "fednas" not in args.methods:
        args.methods = [*args.methods, "fednas"]
    if args.fednas_rounds <= args.fednas_warmup:
        raise ConfigError(
            f"`--fednas-rounds` ({args.fednas_rounds}) must be more than `--fednas-warmup` ({args.fednas_warmup})."
        )
    return args


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=["federated", "central", "fixed"], choices=METHODS)
    parser.add_argument("--fednas", action="store_true", help="also run FedNAS (method `fednas`)")
    parser.add_argument("--strategy", help="the searches' strategy (default: the preset's)")
    parser.add_argument("--search-time", type=float, help="wall seconds of each search (default: the preset's share)")
    parser.add_argument("--rounds", type=int, default=None, help="FedAvg rounds per trial (default: the preset's)")
    parser.add_argument("--final-rounds", type=int, default=None, help="rounds of the final models (preset's export)")
    parser.add_argument("--fednas-rounds", type=int, default=20)
    parser.add_argument("--fednas-warmup", type=int, default=5, help="FedNAS rounds that train the weights only")
    parser.add_argument("--cpus", help="pin every run to these cores (taskset list, e.g. 1); default: all")
    parser.add_argument("--markdown", metavar="RECORD", help="only print the tables of this record")
    args = parser.parse_args(argv)
    if args.markdown is None:
        cfg = preset()
        if args.search_time is None:  # what the preset's job budget leaves its search
            from nasforge.experiment.budget import JobBudget

            run = cfg["run"]
            budget = JobBudget(
                run["total_time"], **{k: run[k] for k in ("retrain_share", "export_reserve") if k in run}
            )
            budget.start(now=0.0)
            args.search_time = budget.search_deadline()
        args.rounds = cfg["evaluator"]["rounds"] if args.rounds is None else args.rounds
        args.final_rounds = cfg["export"]["epochs"] if args.final_rounds is None else args.final_rounds
        args.fednas_warmup = min(args.fednas_warmup, args.fednas_rounds - 1) if args.fednas_rounds > 1 else 0
        check_args(args)
    return args


def preset() -> dict[str, Any]:
    from nasforge.config import load_preset

    return copy.deepcopy(load_preset("federated"))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.markdown is not None:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return
    if args.cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    cores = len(os.sched_getaffinity(0))
    cfg = preset()
    config = {**vars(args), "cores": cores, "preset": cfg, "strategy_run": args.strategy or cfg["strategy"]["name"]}
    record = Record(f"federated_{cores}core", area="federated", config=config)
    print(f"record: {record.path}", flush=True)
    for seed in args.seeds:
        for method in args.methods:
            started = time.time()
            with tempfile.TemporaryDirectory(prefix=f"fedbench-{method}-{seed}-") as tmp:
                try:
                    run = run_method(method, seed, args, Path(tmp))
                except Exception as exc:  # one method failing must not lose the others' runs
                    run = {"error": f"{type(exc).__name__}: {exc}"[-2000:]}
            run = {"method": method, "seed": seed, "cores": cores, **run, "wall_s": time.time() - started}
            record.add_run(run)
            shown = f"test {pct(run['test_acc'])}" if run.get("test_acc") is not None else run.get("error", "")
            print(f"{method} seed {seed}: {shown}, {run.get('trials', 0)} trials, {run['wall_s']:.0f} s", flush=True)
    summary = summarize(record.runs)
    path = record.save(summary=summary)
    print(markdown({"runs": record.runs, "summary": summary}))
    print(f"record: {path}")


if __name__ == "__main__":
    main()
