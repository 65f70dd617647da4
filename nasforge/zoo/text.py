"""`TextClassifierSpace`: embeddings, a searched stack of sequence blocks and masked pooling, for text.

The input is a (N, max_length) float32 tensor of token ids (`nasforge.data.text`), 0 for padding. Every
block keeps the width at the embedding size and zeroes padded positions, so blocks stack in any order and
pooling only sees real tokens; an all-padding input (as FLOP counting and TorchScript export trace) runs
through without dividing by zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.errors import SpaceError
from nasforge.space import LayerChoice, ModelSpace, Repeat, choice, hparam
from nasforge.space.entangle import stacked

__all__ = ["BLOCKS", "POOLINGS", "TextClassifierSpace"]

BLOCKS = ("conv3", "conv5", "conv7", "lstm", "gru", "transformer")
POOLINGS = ("mean", "max", "attention")
# Added to attention scores at padded positions: large enough to ignore them, finite so that a text of
# padding only gets uniform weights instead of NaN.
_MASKED = -1e4
# Bigram ids are hashed as (previous * _PRIME + current) mod buckets; ids stay far below 2**63 / _PRIME.
_PRIME = 1_000_003

Seq = tuple[torch.Tensor, torch.Tensor]  # (hidden states (N, L, D), mask (N, L, 1) with 1.0 at real tokens)


class TextClassifierSpace(ModelSpace):
    """Token (and optionally hashed-bigram) embeddings, 0-3 searched blocks, masked pooling, a linear head,
    and optionally a wide linear term over hashed word and word-pair counts.

    Decisions: `embed_dim`; `bigram_buckets` (0 = none; else fastText-style hashed embeddings of each
    token pair added to the token's); `ngram_buckets` (0 = none; else a linear term over the hashed
    unigram and bigram counts, normalised by their number's square root, added to the logits: the
    bag-of-n-grams model a TF-IDF + logistic-regression baseline is, trained jointly with the network, as
    in wide & deep models (Cheng et al. 2016)); `embed_dropout` (whole
    tokens dropped in training); `blocks` depth, and per block `op` (1-D convolution with kernel 3/5/7,
    bidirectional LSTM or GRU, or a transformer encoder layer with its own learned positional embeddings
    and `heads` and `ff_mult` (feed-forward width over the embedding size)); `pool` (mean / max /
    attention, over real tokens only); head `dropout`; and the training hyperparameters `learning_rate`,
    `batch_size`, `weight_decay` and `optimizer` (AdamW by default: the recurrent blocks need it).

    With `vectors` (a (vocab_size, d) matrix, e.g. pretrained word vectors: `TextCSV(vectors=...)` puts
    one in the dataset's info, which a config passes on), the token embedding starts from them, projected
    to `embed_dim` when d differs, and the decision `vectors` says whether training may change them
    (`finetune`) or not (`frozen`).

    With `lexicon` (a (vocab_size,) or (vocab_size, k) tensor of per-word scores, e.g. a sentiment lexicon's:
    `TextCSV(lexicon=...)` puts one in the dataset's info), the decision `lexicon` says whether the network
    adds a lexicon term to its logits (`on`): the text's scores summed over its tokens and divided by the
    square root of their number, times a learned weight per class, starting at zero. The scores are fixed:
    knowledge from outside the training part of words it shows only once or twice (words it never shows
    have no id, so no score).

    Any `input_shape` is read as a flat sequence of `prod(input_shape)` ids; ids outside
    `0..vocab_size-1` count as unknown (1).

    >>> space = TextClassifierSpace(input_shape=(32,), num_classes=2, vocab_size=1000)
    >>> net = space.freeze(space.random(0))
    >>> net(torch.zeros(3, 32)).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (64,),
        num_classes: int = 2,
        vocab_size: int = 30000,
        embed_dims: Sequence[int] = (128, 64, 256),
        depths: Sequence[int] = (1, 0, 2),
        ops: Sequence[str] = BLOCKS,
        poolings: Sequence[str] = POOLINGS,
        bigram_buckets: Sequence[int] = (0,),
        ngram_buckets: Sequence[int] = (0,),
        learning_rates: Sequence[float] = (3e-3, 1e-3, 1e-2),
        batch_sizes: Sequence[int] = (64, 32, 128),
        weight_decays: Sequence[float] = (0.1, 0.01, 1.0),
        optimizers: Sequence[str] = ("adamw",),
        vectors: torch.Tensor | None = None,
        lexicon: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        max_length = math.prod(int(s) for s in input_shape) if len(input_shape) else 0
        if max_length < 1:
            raise SpaceError(
                f"`input_shape` of TextClassifierSpace must hold the sequence length, e.g. (64,), but got {input_shape!r}."
            )
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 2:
            raise SpaceError(
                f"`vocab_size` of TextClassifierSpace must be an int >= 2 (ids 0 and 1 are padding and unknown), "
                f"but got {vocab_size!r}. A text dataset's `info['vocab_size']` gives it."
            )
        for arg, values, valid in (("ops", ops, BLOCKS), ("poolings", poolings, POOLINGS)):
            unknown = [v for v in values if v not in valid]
            if unknown or not values:
                raise SpaceError(
                    f"`{arg}` of TextClassifierSpace must be a non-empty subset of {valid}, but got {list(values)!r}."
                )
        if not embed_dims or any(not isinstance(d, int) or d < 2 or d % 2 for d in embed_dims):
            raise SpaceError(
                f"`embed_dims` of TextClassifierSpace must be even ints >= 2 (bidirectional blocks split them "
                f"in two), but got {list(embed_dims)!r}."
            )
        for arg, buckets in (("bigram_buckets", bigram_buckets), ("ngram_buckets", ngram_buckets)):
            if not buckets or any(not isinstance(b, int) or isinstance(b, bool) or b < 0 for b in buckets):
                raise SpaceError(
                    f"`{arg}` of TextClassifierSpace must be a non-empty list of ints >= 0 (0 = none), but got "
                    f"{list(buckets)!r}."
                )
        if vectors is not None and (
            not isinstance(vectors, torch.Tensor) or vectors.ndim != 2 or vectors.shape[0] != vocab_size
        ):
            shape = tuple(vectors.shape) if isinstance(vectors, torch.Tensor) else type(vectors).__name__
            raise SpaceError(
                f"`vectors` of TextClassifierSpace must be a (vocab_size, dim) = ({vocab_size}, d) tensor with one "
                f"row per token id, but got {shape}. Build it for this vocabulary (TextCSV(vectors=...))."
            )
        if lexicon is not None and (
            not isinstance(lexicon, torch.Tensor) or lexicon.ndim not in (1, 2) or lexicon.shape[0] != vocab_size
        ):
            shape = tuple(lexicon.shape) if isinstance(lexicon, torch.Tensor) else type(lexicon).__name__
            raise SpaceError(
                f"`lexicon` of TextClassifierSpace must be a (vocab_size,) = ({vocab_size},) or (vocab_size, k) "
                f"tensor with one score (or k) per token id, but got {shape}. Build it for this vocabulary "
                "(TextCSV(lexicon=...))."
            )
        hparam("learning_rate", list(learning_rates))
        hparam("batch_size", list(batch_sizes))
        hparam("weight_decay", list(weight_decays))
        hparam("optimizer", list(optimizers))
        dim = choice("embed_dim", list(embed_dims))
        frozen = vectors is not None and choice("vectors", ["finetune", "frozen"]) == "frozen"
        self.embed = TokenEmbedding(
            vocab_size, dim, choice("bigram_buckets", list(bigram_buckets)), vectors=vectors, frozen=frozen
        )
        self.embed_dropout = TokenDropout(choice("embed_dropout", [0.1, 0.0, 0.3, 0.5]))
        self.blocks = Repeat(lambda i: _block(dim, max_length, ops), tuple(depths), label="blocks")
        pools = {"mean": lambda: MeanPool(), "max": lambda: MaxPool(), "attention": lambda: AttentionPool(dim)}
        self.pool = LayerChoice({name: pools[name] for name in poolings}, label="pool")
        self.dropout = nn.Dropout(choice("dropout", [0.3, 0.0, 0.5]))
        self.head = nn.Linear(dim, num_classes)
        wide = choice("ngram_buckets", list(ngram_buckets))
        self.wide = NgramLinear(vocab_size, wide, num_classes) if wide else None
        self.lexicon: LexiconTerm | None = None
        if lexicon is not None and choice("lexicon", ["on", "off"]) == "on":
            self.lexicon = LexiconTerm(lexicon, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x.reshape(x.shape[0], -1).long()
        h, mask = self.embed(ids)
        h, mask = self.blocks((self.embed_dropout(h), mask))
        logits = self.head(self.dropout(self.pool((h, mask))))
        if self.wide is not None:
            logits = logits + self.wide(ids)
        if self.lexicon is not None:
            logits = logits + self.lexicon(ids)
        return logits


def _block(dim: int, max_length: int, ops: Sequence[str]) -> nn.Module:
    factories = {
        "conv3": lambda: ConvBlock(dim, 3),
        "conv5": lambda: ConvBlock(dim, 5),
        "conv7": lambda: ConvBlock(dim, 7),
        "lstm": lambda: RecurrentBlock(dim, "lstm"),
        "gru": lambda: RecurrentBlock(dim, "gru"),
        "transformer": lambda: TransformerBlock(
            dim, max_length, heads=choice("heads", [4, 2, 8]), ff_mult=choice("ff_mult", [2, 4])
        ),
    }
    return LayerChoice({name: factories[name] for name in ops}, label="op")


def known_ids(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Ids outside the vocabulary (another vocabulary, noise) become unknown (1) rather than an index error."""
    return torch.where((ids < 0) | (ids >= vocab_size), torch.ones_like(ids), ids)


def pair_buckets(ids: torch.Tensor, buckets: int, salt: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The hashed bucket (1..buckets) of each (previous, current) token pair, 0 where either is padding, and
    the mask of real pairs. `salt` shifts the hash (the n-gram term uses 1; its measured figures were made so).
    """
    prev = F.pad(ids[:, :-1], (1, 0))
    pair = (ids != 0) & (prev != 0)
    bucket = (prev * _PRIME + ids + salt) % buckets + 1
    return torch.where(pair, bucket, torch.zeros_like(bucket)), pair


class TokenEmbedding(nn.Module):
    """Token embeddings plus, with `bigram_buckets`, hashed embeddings of (previous, current) token pairs.

    With `vectors` (vocab_size, d), the token embeddings start as those rows, followed by a linear map to
    `dim` when d is not `dim`; `frozen` keeps them as they are. Returns the embeddings and the mask of real
    (non-padding) tokens."""

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        bigram_buckets: int = 0,
        vectors: torch.Tensor | None = None,
        frozen: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.buckets = bigram_buckets
        width = dim if vectors is None else int(vectors.shape[1])
        self.tokens = nn.Embedding(vocab_size, width, padding_idx=0)
        self.project = nn.Linear(width, dim, bias=False) if width != dim else None
        # bucket 0 is reserved for pairs that involve padding
        self.bigrams = nn.Embedding(bigram_buckets + 1, dim, padding_idx=0) if bigram_buckets else None
        nn.init.normal_(self.tokens.weight, std=0.1)
        with torch.no_grad():
            if vectors is not None:
                self.tokens.weight.copy_(vectors)
            self.tokens.weight[0].zero_()
            if self.bigrams is not None:
                nn.init.normal_(self.bigrams.weight, std=0.1)
                self.bigrams.weight[0].zero_()
        self.tokens.weight.requires_grad_(not frozen)

    def forward(self, ids: torch.Tensor) -> Seq:
        ids = known_ids(ids, self.vocab_size)
        real = ids != 0
        h = self.tokens(ids)
        if self.project is not None:
            h = self.project(h)
        if self.bigrams is not None:
            h = h + self.bigrams(pair_buckets(ids, self.buckets)[0])
        return h, real.unsqueeze(-1).to(h.dtype)


class NgramLinear(nn.Module):
    """A linear model over hashed unigram and bigram counts: each n-gram's bucket holds one weight per class;
    the logits are the sum over the text's n-grams divided by the square root of their number (a bag of
    n-grams scaled to unit length, as TF-IDF vectors are). The weights start at zero, so the term begins
    silent and grows as far as weight decay lets it."""

    def __init__(self, vocab_size: int, buckets: int, num_classes: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.weight = nn.Embedding(buckets + 1, num_classes, padding_idx=0)  # bucket 0: padding, no n-gram
        nn.init.zeros_(self.weight.weight)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = known_ids(ids, self.vocab_size)
        real = ids != 0
        uni = torch.where(real, ids % self.buckets + 1, torch.zeros_like(ids))
        bi, pair = pair_buckets(ids, self.buckets, salt=1)
        count = real.sum(1, keepdim=True) + pair.sum(1, keepdim=True)
        # masked as well as sent to the padding bucket: a padded position adds nothing whatever that row holds
        total = (self.weight(uni) * real.unsqueeze(-1)).sum(1) + (self.weight(bi) * pair.unsqueeze(-1)).sum(1)
        return total / count.to(total.dtype).clamp(min=1.0).sqrt()


class LexiconTerm(nn.Module):
    """Fixed per-token scores (a lexicon's: `scores` is (vocab_size,) or (vocab_size, k)), summed over the
    text's real tokens and divided by the square root of their number, then mapped to the logits by a
    learned linear map that starts at zero."""

    scores: torch.Tensor

    def __init__(self, scores: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        table = scores.detach().to(torch.float32).reshape(scores.shape[0], -1).clone()
        table[0] = 0.0  # padding scores nothing
        self.register_buffer("scores", table)
        self.weight = nn.Linear(table.shape[1], num_classes, bias=False)
        nn.init.zeros_(self.weight.weight)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = known_ids(ids, self.scores.shape[0])
        real = (ids != 0).unsqueeze(-1).to(self.scores.dtype)
        total = (self.scores[ids] * real).sum(1)
        return self.weight(total / real.sum(1).clamp(min=1.0).sqrt())


class TokenDropout(nn.Module):
    """Drops whole token vectors in training (scaling the rest), so no single word decides the class."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return h
        keep = torch.rand(h.shape[0], h.shape[1], 1, device=h.device) >= self.p
        return h * keep.to(h.dtype) / (1 - self.p)


class ConvBlock(nn.Module):
    """Residual 1-D convolution over the sequence, 'same' padding, then ReLU and LayerNorm."""

    def __init__(self, dim: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, seq: Seq) -> Seq:
        h, mask = seq
        out = F.relu(self.conv(h.transpose(1, 2))).transpose(1, 2)
        return self.norm(h + out) * mask, mask


class RecurrentBlock(nn.Module):
    """A bidirectional LSTM or GRU with dim / 2 units per direction, residual, then LayerNorm.

    The padded tail runs through the recurrence too (packing is not traceable), with zero inputs; the
    backward direction starts there, and pooling ignores the tail's outputs."""

    def __init__(self, dim: int, kind: str) -> None:
        super().__init__()
        rnn = nn.LSTM if kind == "lstm" else nn.GRU
        self.rnn = rnn(dim, dim // 2, batch_first=True, bidirectional=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, seq: Seq) -> Seq:
        h, mask = seq
        out, _ = self.rnn(h)
        return self.norm(h + out) * mask, mask


class TransformerBlock(nn.Module):
    """A pre-norm transformer encoder layer with learned positional embeddings added to its input;
    attention ignores padded keys."""

    def __init__(self, dim: int, max_length: int, heads: int = 4, ff_mult: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        if dim % heads:
            heads = math.gcd(dim, heads)  # e.g. 8 heads on a width of 4 * 6: use the largest that divides
        self.heads = heads
        self.pos = nn.Parameter(torch.randn(1, max_length, dim) * 0.02)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = stacked(nn.Linear(dim, 3 * dim), 3)  # a narrower subnet shares q, k and v apart
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, seq: Seq) -> Seq:
        h, mask = seq
        n, length, dim = h.shape
        h = h + self.pos[:, :length]
        q, k, v = self.qkv(self.norm1(h)).reshape(n, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        bias = (1.0 - mask.transpose(1, 2)).unsqueeze(1) * _MASKED  # (N, 1, 1, L): padded keys
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.drop.p if self.training else 0.0)
        h = h + self.drop(self.proj(att.transpose(1, 2).reshape(n, length, dim)))
        h = h + self.drop(self.ff(self.norm2(h)))
        return h * mask, mask


class MeanPool(nn.Module):
    def forward(self, seq: Seq) -> torch.Tensor:
        h, mask = seq
        return (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class MaxPool(nn.Module):
    def forward(self, seq: Seq) -> torch.Tensor:
        h, mask = seq
        pooled = (h + (1.0 - mask) * _MASKED).max(1).values
        return pooled * (mask.sum(1) > 0).to(h.dtype)  # a text of padding only pools to zeros


class AttentionPool(nn.Module):
    """A learned query scores each real token; the output is the softmax-weighted sum."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1))

    def forward(self, seq: Seq) -> torch.Tensor:
        h, mask = seq
        weights = torch.softmax(self.score(h) + (1.0 - mask) * _MASKED, dim=1)
        return (weights * h * mask).sum(1)
