"""Training and scoring of translation models: teacher forcing with label smoothing, greedy decoding, and
corpus BLEU and chrF from sacrebleu on the detokenised output with its placeholders restored."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.data.placeholders import restore
from nasforge.data.subword import SubwordTokenizer
from nasforge.errors import ConfigError
from nasforge.evaluators.training import NonFiniteLoss, TrainConfig, make_optimizer, progress_lr

__all__ = ["corpus_scores", "fit_seq2seq", "seq2seq_loss", "translate_rows", "trim"]


def trim(x: torch.Tensor) -> torch.Tensor:
    """A (N, 2, L) batch cut to its longest sentence (the padded tail costs time and changes nothing)."""
    used = (x != 0).any(dim=0).any(dim=0)
    last = int(used.nonzero().max()) + 1 if bool(used.any()) else 2
    return x[:, :, : max(last, 2)]


def seq2seq_loss(model: nn.Module, x: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of each next target token under teacher forcing, padding ignored."""
    x = trim(x)
    logits = model(x)
    labels = x[:, 1, 1:].long()
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=0, label_smoothing=label_smoothing
    )


def fit_seq2seq(
    model: nn.Module,
    data: torch.Tensor,
    cfg: TrainConfig,
    device: torch.device,
    steps: int,
    seed: int = 0,
    time_budget: float | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, float]:
    """Train `model` in place on the (N, 2, L) rows `data` for `steps` batches of `cfg.batch_size` (or
    `time_budget` seconds, if that ends first), AdamW with `cfg`'s rate, weight decay and label smoothing, the
    rate warming up over the first quarter and decaying by a cosine over the rest of the run (in steps or in
    wall time, whichever is further along). `on_epoch(epoch, metrics)` after each pass over the data."""
    gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    opt = make_optimizer(model, cfg)
    peaks = [group["lr"] for group in opt.param_groups]
    n = len(data)
    batch = min(cfg.batch_size, n)
    budget = math.inf if time_budget is None else float(time_budget)
    start = time.perf_counter()
    done, total, count, epoch = 0, 0.0, 0, 0
    lengths = (data[:, 1] != 0).sum(1)
    order = _bucketed(lengths, batch, gen)
    per_epoch = len(order)
    train_loss = float("nan")
    while done < steps:
        progress = max(done / steps, (time.perf_counter() - start) / budget)
        if progress >= 1.0 and done > 0:
            break
        for group, peak in zip(opt.param_groups, peaks):
            group["lr"] = peak * progress_lr("onecycle", progress)
        k = done % per_epoch
        xb = data[order[k]].to(device)
        loss = seq2seq_loss(model, xb, cfg.label_smoothing)
        if not torch.isfinite(loss.detach()):
            raise NonFiniteLoss(f"training loss became {loss.item()} at step {done + 1}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        done += 1
        total += float(loss.detach())
        count += 1
        if done % per_epoch == 0:
            epoch += 1
            train_loss = total / count
            total, count = 0.0, 0
            order = _bucketed(lengths, batch, gen)
            if on_epoch is not None:
                on_epoch(epoch, {"train_loss": train_loss, "steps": float(done)})
    if count:
        train_loss = total / count
    model.eval()
    return {
        "train_loss": train_loss,
        "steps": float(done),
        "train_time": time.perf_counter() - start,
        "epochs": done / per_epoch,
    }


def _bucketed(lengths: torch.Tensor, batch: int, gen: torch.Generator, pool: int = 50) -> list[torch.Tensor]:
    """One epoch's batches: a random order, sorted by length within pools of `pool` batches so that a batch
    holds sentences of similar length (little padding), the batches then shuffled; the last partial one dropped."""
    n = len(lengths)
    perm = torch.randperm(n, generator=gen)
    batches: list[torch.Tensor] = []
    for start in range(0, n, batch * pool):
        chunk = perm[start : start + batch * pool]
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        batches.extend(chunk[i : i + batch] for i in range(0, len(chunk) - batch + 1, batch))
    if not batches:
        batches = [perm]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


@torch.no_grad()
def mean_loss(model: nn.Module, data: torch.Tensor, device: torch.device, batch_size: int = 256) -> float:
    """The teacher-forced cross-entropy per target token on `data`, without label smoothing."""
    model.eval()
    total, tokens = 0.0, 0
    for i in range(0, len(data), batch_size):
        xb = trim(data[i : i + batch_size].to(device))
        logits = model(xb)
        labels = xb[:, 1, 1:].long()
        total += float(
            F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=0, reduction="sum")
        )
        tokens += int((labels != 0).sum())
    return total / max(tokens, 1)


@torch.no_grad()
def translate_rows(
    model: nn.Module,
    sources: torch.Tensor,
    tokenizer: SubwordTokenizer,
    slots: Sequence[dict[int, str]],
    device: torch.device,
    batch_size: int = 128,
    beam: int = 1,
) -> list[str]:
    """The detokenised translations of the (N, L) source id rows, placeholders restored: greedy, or beam
    search with `beam` hypotheses."""
    model.eval()
    translate: Any = getattr(model, "translate" if beam == 1 else "beam_search", None)
    if not callable(translate):
        raise ConfigError(
            f"Translating needs a seq2seq model (`translate`, `beam_search`), but got {type(model).__name__}."
        )
    # sorted by length, so that a batch stops decoding soon after its longest sentence ends
    order = torch.argsort((sources != 0).sum(1), stable=True).tolist()
    out: list[str] = [""] * len(sources)
    for i in range(0, len(order), batch_size):
        rows = order[i : i + batch_size]
        src = sources[rows].to(device)
        used = int((src != 0).any(0).nonzero().max()) + 1 if bool((src != 0).any()) else 1
        kwargs = {"max_steps": 2 * used + 8} if beam == 1 else {"max_steps": 2 * used + 8, "beam": beam}
        ids = translate(src[:, :used], **kwargs)
        for row, hyp in zip(rows, ids.cpu(), strict=True):
            out[row] = tokenizer.decode(hyp.tolist())
    return [restore(text, slot) for text, slot in zip(out, slots, strict=True)]


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """sacrebleu's corpus BLEU (13a tokenisation, exponential smoothing) and chrF (character 6-grams, beta 2)."""
    try:
        import sacrebleu
    except ImportError as exc:
        raise ConfigError("Scoring translations needs sacrebleu: pip install 'nasforge[text]'.") from exc
    refs = [list(references)]
    bleu = sacrebleu.corpus_bleu(list(hypotheses), refs)
    chrf = sacrebleu.corpus_chrf(list(hypotheses), refs)
    return {"bleu": float(bleu.score), "chrf": float(chrf.score)}
