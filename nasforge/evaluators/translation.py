"""`TranslationEvaluator`: trains an encoder-decoder on parallel data and scores its greedy translations of
the validation part with BLEU and chrF."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nasforge.cost import count_flops, count_params
from nasforge.data.base import BaseDataset
from nasforge.data.translation import ParallelDataset
from nasforge.errors import ConfigError
from nasforge.evaluators.base import DatasetEvaluator, EvalContext, TrialError
from nasforge.evaluators.classification import resolve_device
from nasforge.evaluators.seq2seq_training import corpus_scores, fit_seq2seq, mean_loss, translate_rows
from nasforge.evaluators.training import NonFiniteLoss, TrainConfig
from nasforge.space import Arch, ModelSpace

__all__ = ["TranslationEvaluator"]

_SUBSET_SEED = 54321  # the validation subset that scores trials: the same for every trial


class TranslationEvaluator(DatasetEvaluator):
    """Train `space.freeze(arch)` with teacher forcing and label smoothing, then translate a fixed subset of
    the validation part greedily (`valid_limit` pairs) and score it against the human translations.

    A trial's budget is `trial_time` seconds of training (at most `steps` batches), its learning rate decaying
    over that time, so that archs compare by what they reach in equal time; without `trial_time` it is a
    number of steps (default `steps`), which is reproducible. A strategy's budget (ASHA, Hyperband) is then
    seconds or steps; `train_fraction` trains on a fixed part of the training pairs, a cheaper fidelity.
    Hyperparameters come from the arch where it has them (`learning_rate`, `batch_size`, `weight_decay`,
    `label_smoothing`), otherwise from the keyword arguments.

    Metrics: `val_bleu` and `val_chrf` (sacrebleu, on detokenised output with placeholders restored),
    `val_loss` (per target token), `train_loss`, `params`, `flops` (one teacher-forced pass over a
    max-length pair), `steps`, `epochs`, `train_time`, `cpu_time`. The final model (`train_final`: train +
    valid) is tested on the test part, translated by beam search (`test_beam` hypotheses; 1: greedy):
    `test_bleu`, `test_chrf`, `test_loss`, and `test_copy_bleu`, the BLEU of copying the source, the floor any
    model must beat.
    """

    def __init__(
        self,
        dataset: BaseDataset,
        steps: int = 2000,
        trial_time: float | None = None,
        train_fraction: float = 1.0,
        valid_limit: int = 400,
        test_beam: int = 4,
        device: str = "auto",
        learning_rate: float = 2e-3,
        batch_size: int = 64,
        weight_decay: float = 0.01,
        label_smoothing: float = 0.1,
    ) -> None:
        if not isinstance(dataset, ParallelDataset):
            raise ConfigError(
                f"`dataset` of TranslationEvaluator must be a parallel dataset (GettextCorpus, ParallelText), but "
                f"got {type(dataset).__name__}. Use dataset: {{name: gettext}} or {{name: parallel_text, ...}}."
            )
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ConfigError(f"`steps` of TranslationEvaluator must be an int >= 1, but got {steps!r}.")
        if trial_time is not None and (
            isinstance(trial_time, bool) or not isinstance(trial_time, (int, float)) or not 0 < trial_time < math.inf
        ):
            raise ConfigError(
                f"`trial_time` of TranslationEvaluator must be seconds > 0 or None, but got {trial_time!r}."
            )
        if not isinstance(train_fraction, (int, float)) or not 0 < train_fraction <= 1:
            raise ConfigError(
                f"`train_fraction` of TranslationEvaluator must be in (0, 1], but got {train_fraction!r}."
            )
        if not isinstance(valid_limit, int) or isinstance(valid_limit, bool) or valid_limit < 1:
            raise ConfigError(f"`valid_limit` of TranslationEvaluator must be an int >= 1, but got {valid_limit!r}.")
        self.dataset: ParallelDataset = dataset
        self.steps = steps
        self.trial_time = None if trial_time is None else float(trial_time)
        self.train_fraction = float(train_fraction)
        if not isinstance(test_beam, int) or isinstance(test_beam, bool) or test_beam < 1:
            raise ConfigError(
                f"`test_beam` of TranslationEvaluator must be an int >= 1 (1: greedy), but got {test_beam!r}."
            )
        self.valid_limit = valid_limit
        self.test_beam = test_beam
        self.device = device
        self.config = TrainConfig(
            epochs=1,
            batch_size=batch_size,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            optimizer="adamw",
            schedule="onecycle",
            augment="none",
            label_smoothing=label_smoothing,
        )
        resolve_device(device)

    def prepare(self) -> None:
        self.dataset.load()

    def task(self) -> dict[str, Any]:
        data = self.dataset
        return {
            **super().task(),
            "dataset": {"name": data.name, "key": [str(k) for k in data._key()]},
            "steps": self.steps,
            "trial_time": self.trial_time,
            "train_fraction": self.train_fraction,
            "valid_limit": self.valid_limit,
            "test_beam": self.test_beam,
            "training": dataclasses.asdict(self.config),
        }

    def example_input(self, n: int = 16) -> torch.Tensor:
        return self.dataset.load().valid.x[:n]

    def train_config(self, arch: Mapping[str, Any]) -> TrainConfig:
        fields = {"learning_rate", "batch_size", "weight_decay", "label_smoothing"}
        return dataclasses.replace(self.config, **{k: v for k, v in arch.items() if k in fields})

    def _train_rows(self, seed: int) -> torch.Tensor:
        x = self.dataset.load().train.x
        if self.train_fraction >= 1.0:
            return x
        keep = max(1, round(len(x) * self.train_fraction))
        return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(12345))[:keep]]

    def _valid_subset(self) -> list[int]:
        n = len(self.dataset.load().valid)
        if self.valid_limit >= n:
            return list(range(n))
        return sorted(
            torch.randperm(n, generator=torch.Generator().manual_seed(_SUBSET_SEED))[: self.valid_limit].tolist()
        )

    def score(self, model: nn.Module, part: str, rows: list[int] | None = None, beam: int = 1) -> dict[str, float]:
        """BLEU, chrF and loss of `model` on the `part` ("valid" or "test") pairs at `rows` (default all),
        translating greedily or, with `beam` > 1, by beam search."""
        splits = self.dataset.load()
        data = splits.valid if part == "valid" else splits.test
        if data is None:
            return {}
        parts = self.dataset.parts()
        idx = list(range(len(data))) if rows is None else rows
        x = data.x[idx]
        device = resolve_device(self.device)
        model.to(device)
        slots = [parts.slots[part][i] for i in idx]
        hyps = translate_rows(model, x[:, 0], self.dataset.tokenizer(), slots, device, beam=beam)
        scores = corpus_scores(hyps, [parts.targets[part][i] for i in idx])
        return {"bleu": scores["bleu"], "chrf": scores["chrf"], "loss": mean_loss(model, x, device)}

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        splits = self.dataset.load()
        device = resolve_device(self.device)
        cfg = self.train_config(ctx.arch)
        if self.trial_time is not None:
            seconds: float | None = self.trial_time if ctx.budget is None else float(ctx.budget)
            steps = self.steps
        else:
            seconds = None
            steps = self.steps if ctx.budget is None else max(1, math.ceil(ctx.budget))
        torch.manual_seed(ctx.seed)
        model = ctx.space.freeze(ctx.arch)
        cost = {"params": float(count_params(model)), "flops": float(count_flops(model, splits.input_shape))}
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            info = fit_seq2seq(model, self._train_rows(ctx.seed), cfg, device, steps, ctx.seed, seconds)
        except NonFiniteLoss as exc:
            raise TrialError(str(exc)) from None
        val = self.score(model, "valid", self._valid_subset())
        metrics = {
            **cost,
            "val_bleu": val["bleu"],
            "val_chrf": val["chrf"],
            "val_loss": val["loss"],
            "train_loss": info["train_loss"],
            "steps": info["steps"],
            "epochs": info["epochs"],
            "train_time": time.perf_counter() - start,
            "cpu_time": time.process_time() - cpu_start,
        }
        ctx.report(int(info["steps"]), dict(metrics))
        return metrics

    def train_final(
        self,
        space: ModelSpace,
        arch: Arch,
        epochs: int,
        seed: int = 0,
        log: Any = None,
        time_budget: float | None = None,
        weights_in: str | None = None,
    ) -> tuple[nn.Module, dict[str, float]]:
        """Retrain `arch` on train + valid for `epochs` passes (or `time_budget` seconds, if shorter) and test
        it on the test part (the tokenizer stays the one fitted on the training part)."""
        splits = self.dataset.load()
        device = resolve_device(self.device)
        cfg = self.train_config(arch)
        data = torch.cat([splits.train.x, splits.valid.x])
        steps = max(1, epochs * (len(data) // min(cfg.batch_size, len(data))))
        torch.manual_seed(seed)
        model = self.final_space(space).freeze(arch)
        started = time.perf_counter()

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            if log is not None:
                log(epoch, {**metrics, "epochs": epochs, "elapsed": time.perf_counter() - started})

        try:
            result = fit_seq2seq(model, data, cfg, device, steps, seed, time_budget, on_epoch)
        except NonFiniteLoss as exc:
            raise TrialError(f"retraining the best arch failed: {exc}") from None
        result.update(self.test_metrics(model))
        model.cpu().eval()
        return model, result

    def test_metrics(self, model: nn.Module) -> dict[str, float]:
        """`test_bleu`, `test_chrf` (beam search with `test_beam` hypotheses), `test_loss` of the final model,
        and `test_copy_bleu` (the source copied)."""
        if self.dataset.load().test is None:
            return {}
        test = self.score(model, "test", beam=self.test_beam)
        model.cpu().eval()
        parts = self.dataset.parts()
        copy = corpus_scores(parts.sources["test"], parts.targets["test"])
        return {
            "test_bleu": test["bleu"],
            "test_chrf": test["chrf"],
            "test_loss": test["loss"],
            "test_copy_bleu": copy["bleu"],
        }
