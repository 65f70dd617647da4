"""The translation evaluator's parts: the training loop learns, BLEU/chrF are sacrebleu's, options are checked."""

from __future__ import annotations

import pytest
import torch

from nasforge.config import validate
from nasforge.data import Digits
from nasforge.errors import ConfigError
from nasforge.evaluators import TranslationEvaluator
from nasforge.evaluators.seq2seq_training import corpus_scores, fit_seq2seq, mean_loss, trim
from nasforge.evaluators.training import TrainConfig
from nasforge.zoo import Seq2SeqSpace


def copy_task(n: int, length: int = 8, vocab: int = 20, seed: int = 0) -> torch.Tensor:
    """Rows whose target is the source: a task a working encoder-decoder learns in a few hundred steps."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 2, length + 2)
    for i in range(n):
        k = int(torch.randint(2, length, (1,), generator=g))
        ids = torch.randint(4, vocab, (k,), generator=g).float()
        x[i, 0, :k], x[i, 0, k] = ids, 3
        x[i, 1, 0], x[i, 1, 1 : k + 1], x[i, 1, k + 1] = 2, ids, 3
    return x


@pytest.mark.slow  # 400 training steps: about 20 s on a free core
def test_training_learns_to_copy() -> None:
    torch.manual_seed(0)
    space = Seq2SeqSpace(vocab_size=12, max_length=8, embed_dims=(32,), encoder_depths=(1,), decoder_depths=(1,))
    net = space.freeze(space.default_arch())
    train, held = copy_task(512, length=6, vocab=12), copy_task(64, length=6, vocab=12, seed=1)
    before = mean_loss(net, held, torch.device("cpu"))
    cfg = TrainConfig(batch_size=32, learning_rate=3e-3, weight_decay=0.0, optimizer="adamw", augment="none")
    info = fit_seq2seq(net, train, cfg, torch.device("cpu"), steps=400, seed=0)
    after = mean_loss(net, held, torch.device("cpu"))
    assert info["steps"] == 400 and after < 0.5 * before
    out = net.translate(held[:, 0])
    exact = [
        row[: int((held[i, 1] != 0).sum()) - 1].tolist() == held[i, 1, 1 : int((held[i, 1] != 0).sum())].long().tolist()
        for i, row in enumerate(out)
    ]
    assert sum(exact) >= 16  # whole sequences copied, end id included


def test_trim_cuts_the_common_padding_only() -> None:
    x = torch.zeros(2, 2, 10)
    x[0, 0, :3] = 5
    x[1, 1, :6] = 5
    assert trim(x).shape == (2, 2, 6)


def test_scores_are_sacrebleus() -> None:
    refs = ["Impossible d'ouvrir le fichier", "Fichier introuvable"]
    assert corpus_scores(refs, refs) == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0)}
    # sacrebleu's own figures for these (13a tokenisation, exponential smoothing; chrF beta 2)
    hyps = ["Impossible d'ouvrir le fichier maintenant", "Fichier non trouvé"]
    import sacrebleu

    scores = corpus_scores(hyps, refs)
    assert scores["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert 0 < scores["bleu"] < 100 and 0 < scores["chrf"] < 100


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="parallel dataset"):
        TranslationEvaluator(Digits())
    base = {
        "space": {"name": "seq2seq"},
        "dataset": {"name": "gettext"},
        "evaluator": {"name": "translation", "trial_tme": 5},
    }
    with pytest.raises(ConfigError, match="trial_time"):
        validate(base)
