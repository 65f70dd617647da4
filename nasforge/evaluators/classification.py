"""`ClassificationEvaluator`: trains the frozen network on real data and reports validation accuracy."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nasforge.cost import count_flops, count_params
from nasforge.data import ArrayData, BaseDataset, DataSplits
from nasforge.errors import ConfigError
from nasforge.estimation.inheritance import WeightInheritance, inherit, load_weights, save_weights
from nasforge.evaluators.base import DatasetEvaluator, EvalContext, TrialError
from nasforge.evaluators.training import NonFiniteLoss, TrainConfig, evaluate_model, fit
from nasforge.space import Arch, ModelSpace


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"`device` must be 'auto', 'cpu', 'cuda' or 'cuda:N', but got {device!r}.") from exc


class ClassificationEvaluator(DatasetEvaluator):
    """Train `space.freeze(arch)` with cross-entropy and report validation accuracy each epoch.

    The budget of a trial is its number of epochs (default `epochs`); `train_fraction` trains on a fixed
    random part of the training split, to make search trials cheaper. Training hyperparameters come from
    the arch where it has a decision of the same name (`learning_rate`, `batch_size`, `weight_decay`,
    `optimizer`, `label_smoothing`, `epochs`), otherwise from the keyword arguments here. The test split
    is never touched: it is for the exported model only.

    With `trial_time` (seconds) a trial's budget is wall time instead: it trains that long (at most `epochs`
    epochs), its learning rate decaying over the time (`fit`), so that archs compare by what they reach in
    equal time, as the time-boxed retrain of a whole-job budget will train the chosen one (a fast arch gets
    more epochs there too); a strategy's budget is then seconds. On a slow day every trial gets fewer
    steps, not the search fewer trials.

    Every epoch reports its validation accuracy (the learning curve early stopping reads). `interim_valid`
    sets how much of the validation split scores the epochs before the last, which can cost as much as
    the training on a small training part: a fraction (at most 1), or a number of samples above 1 (a
    fixed random subset, the same for every trial, so curves compare), or 0 for none (one report, after
    the last epoch). The last epoch, the trial's result, is always scored on the whole split.

    With weight inheritance (`Experiment(..., inherit_weights=...)`) a trial whose parent's weights are
    given starts from them where they fit (`nasforge.estimation.inheritance`) and trains fewer epochs; the
    trained weights of every trial are saved for its children.

    Metrics: `val_acc`, `val_loss`, `train_loss`, `params`, `flops`, `train_time`, `cpu_time`, `epochs`,
    `inherited` (the fraction of parameter values that came from a parent; 0 when trained from scratch),
    `resumed` (the budget an earlier trial of the same arch trained the starting weights for, when a
    multi-fidelity strategy's promotion resumes it, `ctx.resumed`: the trial then trains only the rest of its
    budget, in seconds or epochs, its schedule begun again; 0 otherwise).
    """

    supports_inheritance = True
    supports_resume = True

    def __init__(
        self,
        dataset: BaseDataset,
        epochs: int = 3,
        train_fraction: float = 1.0,
        device: str = "auto",
        interim_valid: float = 1.0,
        trial_time: float | None = None,
        **train_settings: Any,
    ) -> None:
        if not isinstance(dataset, BaseDataset):
            raise ConfigError(
                f"`dataset` of ClassificationEvaluator must be a nasforge dataset (e.g. FashionMNIST()), "
                f"but got {type(dataset).__name__}."
            )
        if not isinstance(train_fraction, (int, float)) or not 0 < train_fraction <= 1:
            raise ConfigError(
                f"`train_fraction` of ClassificationEvaluator must be in (0, 1], but got {train_fraction!r}."
            )
        v = interim_valid
        number = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
        if not number or (v > 1 and v != int(v)):
            raise ConfigError(
                "`interim_valid` of ClassificationEvaluator is the part of the validation split that scores the "
                "epochs before the last: a fraction in [0, 1] (0: none) or a whole number of samples above 1; "
                f"but got {v!r}."
            )
        if trial_time is not None and (
            isinstance(trial_time, bool) or not isinstance(trial_time, (int, float)) or not 0 < trial_time < math.inf
        ):
            raise ConfigError(
                f"`trial_time` of ClassificationEvaluator must be seconds > 0 or None (budgets in epochs), but got "
                f"{trial_time!r}."
            )
        valid_fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"epochs"}
        for key in train_settings:
            if key not in valid_fields:
                raise ConfigError(
                    f"Unknown training setting {key!r} for ClassificationEvaluator; valid: {sorted(valid_fields)}."
                )
        self.dataset = dataset
        self.train_fraction = float(train_fraction)
        self.interim_valid = interim_valid
        self.trial_time = None if trial_time is None else float(trial_time)
        self.device = device
        self.config = TrainConfig(epochs=epochs, **train_settings)
        resolve_device(device)

    def prepare(self) -> None:
        self.dataset.load()

    def task(self) -> dict[str, Any]:
        data = self.dataset
        split = {k: getattr(data, k) for k in ("valid_size", "test_size", "seed") if hasattr(data, k)}
        dataset = {"name": getattr(data, "name", type(data).__name__), **split}
        return {
            **super().task(),
            "dataset": dataset,
            "train_fraction": self.train_fraction,
            "interim_valid": self.interim_valid,
            "trial_time": self.trial_time,
            "training": dataclasses.asdict(self.config),
        }

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        """How raw input becomes the exported model's input (a tokenizer's vocabulary...): the preprocessing
        refitted on train + valid, which the final model is trained with (`final_data`)."""
        prep = self.final_data().info.get("preprocessing")
        return dict(prep) if prep else None

    def example_input(self, n: int = 16) -> torch.Tensor:
        """The first `n` validation samples as the final model reads them: a real batch for tracing and
        checking exported models."""
        return self.final_data().valid.x[:n]

    def final_data(self) -> DataSplits:
        """The splits the chosen model is retrained and tested on: the dataset's preprocessing refitted on
        train + valid (`load_refitted`), so that e.g. words first seen in the validation part are known."""
        refitted = getattr(self.dataset, "load_refitted", None)
        return refitted() if callable(refitted) else self.dataset.load()

    def final_space(self, space: ModelSpace) -> ModelSpace:
        """`space` for the final data: a constructor argument that came from the search data (equal to its
        `input_shape` or to an `info` entry of the same name, e.g. a text space's `vocab_size`) takes the
        refitted data's value; arguments set otherwise stay."""
        return refitted_space(space, self.dataset.load(), self.final_data())

    def search_data(self) -> tuple[ArrayData, ArrayData]:
        """The training part (as trials get it, `train_fraction` applied) and the validation split: what a
        one-shot strategy trains its supernet weights and architecture on."""
        splits = self.dataset.load()
        return self._train_part(splits, 0), splits.valid

    def train_config(self, arch: Mapping[str, Any], budget: float | None = None) -> TrainConfig:
        """The training settings for `arch`: the arch's hyperparameter decisions override the defaults."""
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        overrides = {k: v for k, v in arch.items() if k in fields}
        if budget is not None:
            overrides["epochs"] = max(1, math.ceil(budget))
        return dataclasses.replace(self.config, **overrides)

    def _evaluate(self, ctx: EvalContext) -> dict[str, float]:
        splits = self.dataset.load()
        device = resolve_device(self.device)
        seconds = None  # a trial's time budget, when budgets are wall time
        if self.trial_time is not None:
            seconds = self.trial_time if ctx.budget is None else float(ctx.budget)
            cfg = self.train_config(ctx.arch)
        else:
            cfg = self.train_config(ctx.arch, ctx.budget)
        train = self._train_part(splits, ctx.seed)
        torch.manual_seed(ctx.seed)
        model = ctx.space.freeze(ctx.arch)
        params = count_params(model)
        flops = count_flops(model, splits.input_shape)
        inherited, resumed = 0.0, 0.0
        if ctx.weights_in is not None:
            parent = load_weights(ctx.weights_in)
            if parent is not None:  # a parent whose file is gone: train from scratch, as without inheritance
                rule = ctx.inheritance if isinstance(ctx.inheritance, WeightInheritance) else WeightInheritance()
                inherited = inherit(model, parent, partial=rule.partial, preserve=rule.preserve)
                if ctx.resumed is not None:
                    if inherited >= 1.0:  # the same arch's earlier training: go on for the rest of the budget
                        resumed = float(ctx.resumed)
                        if seconds is not None:
                            seconds = max(seconds - resumed, 1.0)
                        else:
                            cfg = dataclasses.replace(cfg, epochs=max(1, math.ceil(cfg.epochs - resumed - 1e-9)))
                elif inherited > 0:
                    cfg = dataclasses.replace(cfg, **rule.child_settings(cfg.epochs, cfg.learning_rate, inherited))
        # every report carries the cost metrics too: a trial stopped early keeps its last report as its result
        last: dict[str, float] = {
            "params": float(params),
            "flops": float(flops),
            "inherited": inherited,
            "resumed": resumed,
        }
        start, cpu_start = time.perf_counter(), time.process_time()
        interim = self._interim_part(splits.valid)

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            scored_on = splits.valid if metrics["last"] else interim
            if scored_on is None:
                return
            val = evaluate_model(model, scored_on, device)
            last.update(
                val_acc=val["acc"],
                val_loss=val["loss"],
                train_loss=metrics["train_loss"],
                epochs=float(epoch),
                train_time=time.perf_counter() - start,
                cpu_time=time.process_time() - cpu_start,
            )
            ctx.report(epoch, dict(last))

        try:
            info = fit(model, train, cfg, device, seed=ctx.seed, on_epoch=on_epoch, time_budget=seconds)
        except NonFiniteLoss as exc:
            raise TrialError(str(exc)) from None
        if ctx.weights_out is not None:
            save_weights(model, ctx.weights_out)
        return {
            **last,
            "train_time": time.perf_counter() - start,
            "cpu_time": time.process_time() - cpu_start,
            "epochs": info["epochs"],
        }

    def _interim_part(self, valid: ArrayData) -> ArrayData | None:
        """What scores the epochs before the last: the validation split, a fixed subset of it, or None."""
        n = len(valid)
        v = self.interim_valid
        keep = round(n * v) if v <= 1 else min(int(v), n)
        if keep >= n:
            return valid
        if keep <= 0:
            return None
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(54321))[:keep]
        return valid.subset(idx)

    def _train_part(self, splits: DataSplits, seed: int) -> Any:
        if self.train_fraction >= 1.0:
            return splits.train
        n = len(splits.train)
        keep = max(1, round(n * self.train_fraction))
        # the same subset for every trial, so trials compare on equal data
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(12345))[:keep]
        return splits.train.subset(idx)

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
        """Retrain `arch` from scratch on train + valid and measure it once on the test split; the data's
        preprocessing is refitted on train + valid first (`final_data`, `final_space`).

        With `weights_in` (a trial's saved weights), the tensors that fit start from there instead, and the
        schedule runs again from its start (`inherited`: the fraction of values copied). Not when the
        preprocessing was refitted: the same shapes would then hold other meanings (token ids).

        With `time_budget` (seconds), training lasts that long, at most `epochs` epochs, its learning rate
        decaying over wall time (`fit`): the epochs are what this machine manages today. The result has the
        epoch time measured on the first steps (`estimated_epoch_time`) and on the whole epochs (`epoch_time`).
        """
        splits = self.final_data()
        device = resolve_device(self.device)
        cfg = dataclasses.replace(self.train_config(arch), epochs=epochs)
        torch.manual_seed(seed)
        model = self.final_space(space).freeze(arch)
        inherited = 0.0
        if weights_in is not None and splits is self.dataset.load():  # the search's data, not refitted
            parent = load_weights(weights_in)
            inherited = 0.0 if parent is None else inherit(model, parent, partial=False, preserve=False)
        full = splits.train_full()
        started = time.perf_counter()

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            if log is not None:
                log(epoch, {**metrics, "epochs": cfg.epochs, "elapsed": time.perf_counter() - started})

        try:
            result = fit(model, full, cfg, device, seed=seed, on_epoch=on_epoch, time_budget=time_budget)
        except NonFiniteLoss as exc:
            raise TrialError(f"retraining the best arch failed: {exc}") from None
        result.update(self.test_metrics(model))
        if weights_in is not None:
            result["inherited"] = inherited
        model.cpu().eval()
        return model, result

    def test_metrics(self, model: nn.Module) -> dict[str, float]:
        """`test_acc` and `test_loss` of a finally trained `model` (or ensemble) on the final data's test
        split; empty when the dataset has none."""
        splits = self.final_data()
        if splits.test is None:
            return {}
        device = resolve_device(self.device)
        test = evaluate_model(model.to(device), splits.test, device)
        model.cpu().eval()
        return {"test_acc": test["acc"], "test_loss": test["loss"]}


def refitted_space(space: ModelSpace, searched: DataSplits, final: DataSplits) -> ModelSpace:
    """`space` rebuilt for `final`, the refitted splits: each keyword argument equal to what `searched` gave
    (its `input_shape`, or the `info` entry of that name) takes `final`'s value. Unchanged (nothing came from
    the data, or `space` was already built for `final`): `space` itself."""
    _, kwargs = space._nas_init_args
    given = {"input_shape": tuple(searched.input_shape), **searched.info}
    now = {"input_shape": tuple(final.input_shape), **final.info}
    changes = {
        key: now[key]
        for key, value in kwargs.items()
        if key in given and key in now and _same(value, given[key]) and not _same(now[key], given[key])
    }
    return space.rebuilt(**changes) if changes else space


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool(torch.equal(a, b))
        )
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):  # e.g. arrays compared elementwise
        return a is b
