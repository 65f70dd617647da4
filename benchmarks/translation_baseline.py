"""The `translation` preset's searched model against a hand-made Transformer of the same size, trained with the
same recipe (but a learning rate chosen for it) for the same time, and against copying the source, on the
held-out packages.

1. Search: the preset's space, data, strategy and evaluator (`nasforge.config.build_experiment`), with the
   search time, trial time and worker count given here (nothing is stored on disk).
2. The hand-made model: the base Transformer's recipe (Vaswani et al. 2017: attention in every block, as many
   decoder as encoder blocks, feed-forward width 4 x the model width, tied embeddings, dropout 0.1) scaled
   down to the searched model's parameter count: the (depth, width) pair of the grid below whose count is
   closest. It trains with the searched arch's batch size, weight decay and label smoothing, but with its own
   learning rate: each of `--baseline-lrs` trains it for one search trial's time (`--trial-time`) and is scored
   on the validation pairs as a search trial is (`val_bleu`, never the test part); the best rate is kept.
3. For each seed, both are retrained on train + valid for `--final-time` seconds (or, with `--final-steps`,
   for that many batches each: equal work where the machine's speed changes under other load) and tested
   once on the test packages (beam search, `--beam` hypotheses); copying the source is scored too.

    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/translation_baseline.py --search-time 300 --final-time 120

Writes records/translation/translation_baseline-<time>-<commit>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.records import Record

DEPTHS = (1, 2, 3)
WIDTHS = tuple(range(32, 513, 16))
#: the hand-made model's learning rates to choose from: the translation evaluator's default (2e-3) halved,
#: as is, and times 2.5 (the preset's highest rate)
BASELINE_LRS = (1e-3, 2e-3, 5e-3)


def search(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """The experiment after the search, its best trial's arch and that trial's metrics."""
    from nasforge.config import build_experiment, load_preset
    from nasforge.storage import InMemoryStorage

    cfg = load_preset("translation")
    cfg["evaluator"] = {**cfg["evaluator"], "trial_time": args.trial_time, "test_beam": args.beam}
    cfg["executor"] = {"name": "pool", "n_workers": args.workers} if args.workers > 1 else {"name": "sequential"}
    cfg["seed"] = args.search_seed
    experiment = build_experiment(cfg, storage=InMemoryStorage())
    experiment.run(timeout=args.search_time)
    best = experiment.best_trial
    if best is None:
        raise SystemExit("The search finished no trial; give it more time (--search-time).")
    return experiment, best.arch, {**dict(best.metrics), "trials": len(experiment.trials)}


def handmade_shape(space: Any, searched_params: int) -> dict[str, int]:
    """The base recipe's depth and width (of `DEPTHS` x `WIDTHS`) whose parameter count is closest."""
    from nasforge.cost import count_params

    best: tuple[float, int, int] | None = None
    for depth in DEPTHS:
        for width in WIDTHS:
            probe = base_recipe(space, depth, width, {})
            gap = abs(count_params(probe.freeze(probe.default_arch())) - searched_params)
            if best is None or gap < best[0]:
                best = (gap, depth, width)
    assert best is not None
    return {"depth": best[1], "width": best[2]}


def base_recipe(space: Any, depth: int, width: int, optimiser: dict[str, Any]) -> Any:
    """The base Transformer's recipe at `depth` and `width` as a one-arch space, with the `optimiser` settings
    (learning rate, batch size, weight decay, label smoothing) given, the space's defaults for the rest."""
    from nasforge.zoo import Seq2SeqSpace

    names = {
        "learning_rate": "learning_rates",
        "batch_size": "batch_sizes",
        "weight_decay": "weight_decays",
        "label_smoothing": "label_smoothings",
    }
    return Seq2SeqSpace(
        vocab_size=space.vocab_size, max_length=space.max_length, embed_dims=(width,), encoder_depths=(depth,),
        decoder_depths=(depth,), ops=("attention",), ffn_mults=(4,), heads=(4,), ties=("all",), dropouts=(0.1,),
        **{names[k]: (v,) for k, v in optimiser.items()},
    )  # fmt: skip


def tune_learning_rate(
    evaluator: Any, space: Any, shape: dict[str, int], arch: dict[str, Any], args: argparse.Namespace, record: Record
) -> tuple[Any, float]:
    """The hand-made model's space with the rate of `--baseline-lrs` whose search-like trial (`--trial-time`
    seconds of training, validation BLEU) scores best, the lower validation loss breaking a tie (a short trial
    often leaves BLEU at 0 for every rate); each rate's trial is a run of the record."""
    from nasforge.evaluators.base import EvalContext, TrialError

    optimiser = {k: arch[k] for k in ("batch_size", "weight_decay", "label_smoothing")}
    scores: dict[float, tuple[float, float]] = {}
    for lr in args.baseline_lrs:
        candidate = base_recipe(space, shape["depth"], shape["width"], {**optimiser, "learning_rate": lr})
        ctx = EvalContext(space=candidate, arch=candidate.default_arch(), seed=args.search_seed)
        try:
            metrics = evaluator.evaluate(ctx)
        except TrialError as exc:  # a rate too high for the model diverges: not chosen
            run = {"method": "handmade_lr_trial", "learning_rate": lr, "error": str(exc)}
        else:
            scores[lr] = (metrics["val_bleu"], -metrics["val_loss"])
            run = {"method": "handmade_lr_trial", "learning_rate": lr}
            run.update({k: metrics[k] for k in ("val_bleu", "val_chrf", "val_loss", "steps", "train_time")})
        record.add_run(run)
        print(run, flush=True)
    if not scores:
        raise SystemExit(f"Every learning rate of --baseline-lrs {args.baseline_lrs} failed; give lower ones.")
    chosen = max(scores, key=lambda lr: scores[lr])
    return base_recipe(space, shape["depth"], shape["width"], {**optimiser, "learning_rate": chosen}), chosen


def retrain(evaluator: Any, space: Any, arch: Any, seed: int, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """`arch` retrained on train + valid for the time (or the steps) given, and its test metrics."""
    if args.final_steps is None:
        return evaluator.train_final(space, arch, epochs=1000, seed=seed, time_budget=args.final_time)
    import torch

    from nasforge.evaluators.seq2seq_training import fit_seq2seq

    splits = evaluator.dataset.load()
    torch.manual_seed(seed)
    model = space.freeze(arch)
    rows = torch.cat([splits.train.x, splits.valid.x])
    cfg = evaluator.train_config(arch)
    metrics = fit_seq2seq(model, rows, cfg, torch.device("cpu"), args.final_steps, seed)
    metrics.update(evaluator.test_metrics(model))
    return model.eval(), metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--search-time", type=float, default=480.0, help="seconds of search (the preset: 480)")
    parser.add_argument("--trial-time", type=float, default=60.0, help="seconds of training per trial")
    parser.add_argument("--final-time", type=float, default=240.0, help="seconds of retraining per model and seed")
    parser.add_argument("--final-steps", type=int, default=None, help="batches of retraining instead of seconds")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--beam", type=int, default=4, help="beam width of the test translations (1: greedy)")
    parser.add_argument("--search-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="retraining seeds")
    parser.add_argument(
        "--baseline-lrs",
        type=float,
        nargs="+",
        default=list(BASELINE_LRS),
        help="learning rates tried for the hand-made model, each for one trial's time; the best validation BLEU "
        f"is retrained (default: {' '.join(map(str, BASELINE_LRS))})",
    )
    args = parser.parse_args()
    if not all(0 < lr < 1 for lr in args.baseline_lrs):
        parser.error(f"--baseline-lrs must be learning rates in (0, 1), but got {args.baseline_lrs}.")

    import torch

    from nasforge.cost import count_params

    torch.set_num_threads(1)
    record = Record("translation_baseline", area="translation", config=vars(args))
    started = time.perf_counter()
    experiment, arch, found = search(args)
    evaluator, space = experiment.evaluator, experiment.space
    searched_params = count_params(space.freeze(arch))
    record.meta["search"] = {"arch": dict(arch), "metrics": found, "seconds": time.perf_counter() - started}
    shape = handmade_shape(space, searched_params)
    base_space, rate = tune_learning_rate(evaluator, space, shape, dict(arch), args, record)
    base_arch = base_space.default_arch()
    split = {p: len(getattr(evaluator.dataset.load(), p)) for p in ("train", "valid", "test")}
    record.meta["handmade"] = {**shape, "learning_rate": rate, "lr_grid": args.baseline_lrs, "arch": dict(base_arch)}
    record.meta["split"] = split
    models = {"searched": (space, arch), "handmade": (base_space, base_arch)}
    for seed in args.seeds:
        for method, (sp, ar) in models.items():
            wall, cpu = time.perf_counter(), time.process_time()
            model, metrics = retrain(evaluator, sp, ar, seed, args)
            run = {"method": method, "seed": seed, "params": count_params(model)}
            # one torch thread: a CPU share well below 1 says other jobs took the core (a time budget then
            # buys fewer steps), so the record shows whether the runs were comparable
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            run.update(wall_s=wall, cpu_s=cpu, cpu_share=cpu / wall if wall > 0 else 0.0)
            run.update({k: metrics[k] for k in ("test_bleu", "test_chrf", "test_loss", "steps", "train_time")})
            record.add_run(run)
            print(run, flush=True)
    summary: dict[str, Any] = {}
    for method in models:
        runs = [r for r in record.runs if r["method"] == method]
        summary[method] = {
            "params": runs[0]["params"],
            "test_bleu_mean": statistics.mean(r["test_bleu"] for r in runs),
            "test_chrf_mean": statistics.mean(r["test_chrf"] for r in runs),
            "test_bleu_stdev": statistics.stdev(r["test_bleu"] for r in runs) if len(runs) > 1 else 0.0,
            "steps_mean": statistics.mean(r["steps"] for r in runs),
        }
    summary["handmade"]["learning_rate"] = rate
    from nasforge.evaluators.seq2seq_training import corpus_scores

    parts = evaluator.dataset.parts()
    summary["copy_source"] = {"test_bleu": corpus_scores(parts.sources["test"], parts.targets["test"])["bleu"]}
    path = record.save(summary=summary)
    print(summary)
    print(f"record: {path}")


if __name__ == "__main__":
    main()
