"""What every evaluator owes the loop, checked on each registered one (and the tabular one).

A new entry in `nasforge.evaluators.EVALUATORS` fails `test_every_registered_evaluator_has_a_case` until it
gets a case here, and then runs the whole suite: finite float metrics, reports the loop can store, a stopping
rule's `TrialPruned` let through, picklable for worker processes, a JSON task, static metrics that need no
training, and the retrain contract (`RetrainableEvaluator`) where the evaluator claims it.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from nasforge.data import Digits, GettextCorpus
from nasforge.evaluators import EVALUATORS, BaseEvaluator, EvalContext, RetrainableEvaluator
from nasforge.evaluators.base import TrialPruned
from nasforge.evaluators.tabular import NB201Evaluator
from nasforge.space import ModelSpace
from nasforge.zoo import SmallImageCNN
from nasforge.zoo.nb201 import NB201Space
from nasforge.zoo.seq2seq import Seq2SeqSpace

SMALL_CATALOGS = ["grep", "sed", "tar", "findutils", "diffutils", "make"]
CNN = SmallImageCNN(input_shape=(1, 8, 8), num_classes=10, depths=(1,), widths=((8,), (8,), (8,)))

#: name -> (a small evaluator, the space it evaluates); registered names first
CASES: dict[str, Callable[[], tuple[BaseEvaluator, ModelSpace]]] = {
    "train": lambda: (EVALUATORS.create("train", dataset=Digits(), epochs=1, train_fraction=0.3), CNN),
    "proxy": lambda: (EVALUATORS.create("proxy", proxy=("synflow", "params"), dataset=Digits()), CNN),
    "nb201": lambda: (NB201Evaluator("cifar10"), NB201Space(C=4, N=1)),
    # every client trains each round, so a seed gives the same result (Flower draws a partial sample at random)
    "federated": lambda: (
        EVALUATORS.create("federated", dataset=Digits(), num_clients=2, rounds=1, fraction=1.0, batch_size=64),
        CNN,
    ),
    "translation": lambda: (
        EVALUATORS.create(
            "translation",
            dataset=GettextCorpus(packages=SMALL_CATALOGS, vocab_size=800),
            steps=3,
            valid_limit=8,
            test_beam=1,
        ),
        Seq2SeqSpace(vocab_size=800, max_length=40, embed_dims=(16,), encoder_depths=(1,), decoder_depths=(1,)),
    ),
}
#: cases whose every evaluation starts processes (Flower's simulation starts Ray): slow tests
SLOW = {"federated"}


def test_every_registered_evaluator_has_a_case() -> None:
    missing = [name for name in EVALUATORS.names() if name not in CASES]
    assert not missing, f"add a case for {missing} to CASES"


@pytest.fixture(
    params=[pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in sorted(CASES)],
    scope="module",
)
def case(request: pytest.FixtureRequest) -> tuple[BaseEvaluator, ModelSpace]:
    evaluator, space = CASES[request.param]()
    evaluator.prepare()
    return evaluator, space


def run(
    evaluator: BaseEvaluator, space: ModelSpace, seed: int = 0, report: Any = None, **ctx: Any
) -> tuple[dict[str, float], list[tuple[int, Mapping[str, float]]]]:
    reports: list[tuple[int, Mapping[str, float]]] = []

    def keep(step: int, metrics: Mapping[str, float]) -> None:
        reports.append((step, dict(metrics)))
        if report is not None:
            report(step, metrics)

    arch = space.default_arch()
    return evaluator.evaluate(EvalContext(space, arch, None, seed=seed, report=keep, **ctx)), reports


def finite_floats(metrics: Mapping[str, Any]) -> bool:
    return all(isinstance(k, str) and type(v) is float and math.isfinite(v) for k, v in metrics.items())


def test_metrics_are_finite_floats_and_reports_are_storable(case: tuple[BaseEvaluator, ModelSpace]) -> None:
    evaluator, space = case
    metrics, reports = run(evaluator, space)
    assert metrics and finite_floats(metrics)
    steps = [step for step, _ in reports]
    assert all(isinstance(s, int) for s in steps) and steps == sorted(steps)
    for _, reported in reports:
        json.dumps(reported)  # the storage writes each report as JSON
        assert all(math.isfinite(float(v)) for v in reported.values())


def test_a_stopping_rule_ends_the_trial_through_report(case: tuple[BaseEvaluator, ModelSpace]) -> None:
    evaluator, space = case
    _, reports = run(evaluator, space)

    def stop(step: int, metrics: Mapping[str, float]) -> None:
        raise TrialPruned(step)

    if not reports:  # one that reports nothing cannot be stopped early: it runs to its result
        metrics, _ = run(evaluator, space, report=stop)
        assert finite_floats(metrics)
        return
    with pytest.raises(TrialPruned):  # never caught by the evaluator: the executor records it as PRUNED
        run(evaluator, space, report=stop)


def test_picklable_for_worker_processes_with_the_same_results(case: tuple[BaseEvaluator, ModelSpace]) -> None:
    evaluator, space = case
    copy = pickle.loads(pickle.dumps(evaluator))
    copy.prepare()
    first, _ = run(evaluator, space, seed=3)
    again, _ = run(copy, space, seed=3)
    timings = {"train_time", "cpu_time"}
    assert {k: v for k, v in first.items() if k not in timings} == pytest.approx(
        {k: v for k, v in again.items() if k not in timings}
    )


def test_task_is_json_and_names_the_evaluator(case: tuple[BaseEvaluator, ModelSpace]) -> None:
    evaluator, _ = case
    task = evaluator.task()
    assert json.loads(json.dumps(task)) == task
    assert task["evaluator"] == type(evaluator).__name__
    assert pickle.loads(pickle.dumps(evaluator)).task() == task  # equal tasks: comparable results


def test_static_metrics_need_no_training_and_agree_with_the_trial(case: tuple[BaseEvaluator, ModelSpace]) -> None:
    evaluator, space = case
    arch = space.default_arch()
    static = evaluator.static_metrics(space, arch, {*evaluator.static_metric_names, "not_a_metric"})
    assert set(static) <= set(evaluator.static_metric_names) and finite_floats(static)
    metrics, _ = run(evaluator, space)
    for name, value in static.items():
        if name in metrics:
            assert metrics[name] == pytest.approx(value)


def test_input_shape_is_a_shape_or_none(case: tuple[BaseEvaluator, ModelSpace]) -> None:
    evaluator, _ = case
    shape = evaluator.input_shape
    assert shape is None or (isinstance(shape, tuple) and all(isinstance(d, int) and d > 0 for d in shape))


def test_weights_are_saved_where_inheritance_is_supported(
    case: tuple[BaseEvaluator, ModelSpace], tmp_path: Path
) -> None:
    evaluator, space = case
    out = tmp_path / "0.pt"
    if not evaluator.supports_inheritance:  # it trains no weights, so it writes none
        run(evaluator, space, weights_out=str(out))
        assert not out.exists()
        return
    run(evaluator, space, weights_out=str(out))
    assert out.exists()
    metrics, _ = run(evaluator, space, weights_in=str(out))
    assert metrics["inherited"] > 0


def test_the_retrain_contract_where_claimed(case: tuple[BaseEvaluator, ModelSpace]) -> None:
    evaluator, space = case
    if not isinstance(evaluator, RetrainableEvaluator):  # exported untrained: no retrain to probe for either
        assert not hasattr(evaluator, "train_final")
        return
    final = evaluator.final_space(space)
    assert isinstance(final, ModelSpace)
    seen: list[int] = []
    model, metrics = evaluator.train_final(final, space.default_arch(), 1, seed=0, log=lambda e, m: seen.append(e))
    assert isinstance(model, nn.Module) and not model.training
    assert finite_floats(metrics) and seen == [1]
    test = evaluator.test_metrics(model)  # test_acc for a classifier, test_bleu for a translator, ...
    assert test and all(name.startswith("test_") for name in test)
    assert {k: metrics[k] for k in test} == pytest.approx(test)
    example = evaluator.example_input()
    if example is not None:
        assert isinstance(example, torch.Tensor) and example.shape[1:] == evaluator.input_shape
        assert model(example).shape[0] == len(example)
    json.dumps(evaluator.preprocessing)
