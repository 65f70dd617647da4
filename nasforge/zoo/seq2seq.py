"""`Seq2SeqSpace`: encoder-decoder Transformers for translation, whose blocks mix tokens by attention or by
lightweight convolutions, as the Evolved Transformer's and HAT's spaces do (So et al. 2019; Wang et al.
2020), written with nasforge's primitives so that every strategy can search it.

The input is a (N, 2, max_length) float32 tensor of ids (`nasforge.data.translation`): row 0 the source,
row 1 the target between begin (2) and end (3) of sentence, 0 for padding. `forward` is teacher forcing:
the logits (N, max_length - 1, vocab_size) of each next target token; `translate` decodes greedily.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.errors import SpaceError
from nasforge.ops.seq2seq import ConvMixer, DecoderBlock, EncoderBlock, SelfAttention, sinusoids
from nasforge.space import LayerChoice, ModelSpace, Repeat, choice, hparam

__all__ = ["MIXERS", "Seq2SeqSpace"]

MIXERS = ("attention", "conv3", "conv7")
PAD, UNK, BOS, EOS = 0, 1, 2, 3


def _check_ints(owner: str, arg: str, values: Sequence[int], low: int) -> None:
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v < low for v in values):
        raise SpaceError(f"`{arg}` of {owner} must be a non-empty list of ints >= {low}, but got {list(values)!r}.")


class Seq2SeqSpace(ModelSpace):
    """Source and target embeddings (one vocabulary for both), an encoder and a decoder of searched depth,
    a linear map to the vocabulary.

    Decisions: `embed_dim`; `tie` (`all`: one embedding table for source, target and output; `output`: the
    target's table is also the output map; `none`); `dropout`; `encoder` and `decoder` depths, and per
    block `op` (self-attention with `heads`, or a lightweight depthwise convolution of width 3 or 7, causal
    in the decoder) and `ffn` (the feed-forward width over `embed_dim`), a decoder block's cross-attention
    `heads`; and the training hyperparameters `learning_rate`, `batch_size`, `weight_decay` and
    `label_smoothing` (AdamW).

    >>> space = Seq2SeqSpace(vocab_size=100, max_length=12)
    >>> net = space.freeze(space.default_arch())
    >>> net(torch.zeros(3, 2, 12)).shape
    torch.Size([3, 11, 100])
    >>> net.translate(torch.zeros(3, 12), max_steps=5).shape[0]
    3
    """

    def __init__(
        self,
        vocab_size: int = 4000,
        max_length: int = 40,
        embed_dims: Sequence[int] = (128, 64, 96, 192),
        encoder_depths: Sequence[int] = (2, 1, 3, 4),
        decoder_depths: Sequence[int] = (2, 1, 3),
        ops: Sequence[str] = MIXERS,
        ffn_mults: Sequence[int] = (2, 1, 4),
        heads: Sequence[int] = (4, 2, 8),
        ties: Sequence[str] = ("all", "output", "none"),
        dropouts: Sequence[float] = (0.1, 0.0, 0.2),
        learning_rates: Sequence[float] = (2e-3, 1e-3, 3e-3),
        batch_sizes: Sequence[int] = (64, 32, 128),
        weight_decays: Sequence[float] = (0.01, 0.1),
        label_smoothings: Sequence[float] = (0.1, 0.0),
    ) -> None:
        super().__init__()
        owner = "Seq2SeqSpace"
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 5:
            raise SpaceError(
                f"`vocab_size` of {owner} must be an int >= 5 (ids 0-3 are padding, unknown, begin and end), but "
                f"got {vocab_size!r}. A translation dataset's `info['vocab_size']` gives it."
            )
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 3:
            raise SpaceError(f"`max_length` of {owner} must be an int >= 3 (tokens), but got {max_length!r}.")
        _check_ints(owner, "embed_dims", embed_dims, 2)
        if any(d % 2 for d in embed_dims):
            raise SpaceError(f"`embed_dims` of {owner} must be even (sinusoid pairs), but got {list(embed_dims)!r}.")
        _check_ints(owner, "encoder_depths", encoder_depths, 0)
        _check_ints(owner, "decoder_depths", decoder_depths, 1)
        _check_ints(owner, "ffn_mults", ffn_mults, 1)
        _check_ints(owner, "heads", heads, 1)
        for arg, values, valid in (("ops", ops, MIXERS), ("ties", ties, ("all", "output", "none"))):
            if not values or any(v not in valid for v in values):
                raise SpaceError(f"`{arg}` of {owner} must be a non-empty subset of {valid}, but got {list(values)!r}.")
        self.vocab_size = vocab_size
        self.max_length = max_length
        hparam("learning_rate", list(learning_rates))
        hparam("batch_size", list(batch_sizes))
        hparam("weight_decay", list(weight_decays))
        hparam("label_smoothing", list(label_smoothings))
        dim = choice("embed_dim", list(embed_dims))
        self.tie = choice("tie", list(ties))
        p = choice("dropout", list(dropouts))
        self.dim = dim
        self.tgt_embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.src_embed = None if self.tie == "all" else nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.register_buffer("positions", sinusoids(max_length, dim), persistent=False)
        self.drop = nn.Dropout(p)

        def mixer(causal: bool) -> nn.Module:
            makers = {
                "attention": lambda: SelfAttention(dim, choice("heads", list(heads)), p, causal=causal),
                "conv3": lambda: ConvMixer(dim, 3, causal=causal),
                "conv7": lambda: ConvMixer(dim, 7, causal=causal),
            }
            return LayerChoice({name: makers[name] for name in ops}, label="op")

        def enc_block(i: int) -> nn.Module:
            return EncoderBlock(dim, mixer(False), dim * choice("ffn", list(ffn_mults)), p)

        def dec_block(i: int) -> nn.Module:
            mix = mixer(True)
            return DecoderBlock(dim, mix, choice("cross_heads", list(heads)), dim * choice("ffn", list(ffn_mults)), p)

        self.encoder = Repeat(enc_block, tuple(encoder_depths), label="encoder")
        self.enc_norm = nn.LayerNorm(dim)
        self.decoder = Repeat(dec_block, tuple(decoder_depths), label="decoder")
        self.dec_norm = nn.LayerNorm(dim)
        self.output = None if self.tie != "none" else nn.Linear(dim, vocab_size, bias=False)
        for table in (self.tgt_embed, self.src_embed):
            if table is not None:
                nn.init.normal_(table.weight, std=dim**-0.5)
                with torch.no_grad():
                    table.weight[PAD].zero_()

    def _embed(self, table: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        ids = torch.where((ids < 0) | (ids >= self.vocab_size), torch.full_like(ids, UNK), ids)
        positions: torch.Tensor = self.positions  # type: ignore[assignment]
        return self.drop(table(ids) * math.sqrt(self.dim) + positions[: ids.shape[1]])

    def encode_source(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's output (N, S, D) for source ids (N, S), and the padding mask (N, S)."""
        pad = src == PAD
        table = self.tgt_embed if self.src_embed is None else self.src_embed
        h, pad = self.encoder((self._embed(table, src), pad))
        return self.enc_norm(h), pad

    def next_logits(self, memory: torch.Tensor, pad: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """The next-token logits (N, T, V) after each of the target ids `tgt` (N, T)."""
        y, _, _ = self.decoder((self._embed(self.tgt_embed, tgt), memory, pad))
        y = self.dec_norm(y)
        if self.output is not None:
            return self.output(y)
        return F.linear(y, self.tgt_embed.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x.long()
        memory, pad = self.encode_source(ids[:, 0])
        return self.next_logits(memory, pad, ids[:, 1, :-1])

    @torch.no_grad()
    def translate(self, src: torch.Tensor, max_steps: int | None = None) -> torch.Tensor:
        """Greedy decoding: the target ids (N, <= max_steps), without the begin id, 0 after the end id."""
        steps = min(self.max_length - 1, max_steps if max_steps is not None else self.max_length - 1)
        ids = src.long()
        memory, pad = self.encode_source(ids)
        out = torch.full((ids.shape[0], 1), BOS, dtype=torch.long, device=ids.device)
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        for _ in range(steps):
            nxt = self.next_logits(memory, pad, out)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done = done | (nxt == EOS)
            if bool(done.all()):
                break
        return out[:, 1:]

    @torch.no_grad()
    def beam_search(
        self, src: torch.Tensor, beam: int = 4, max_steps: int | None = None, alpha: float = 0.6
    ) -> torch.Tensor:
        """Beam search: for each source, of the `beam` best hypotheses the one with the highest log-probability
        divided by the GNMT length penalty ((5 + length) / 6) ** alpha (Wu et al. 2016); ids as `translate`."""
        if not isinstance(beam, int) or isinstance(beam, bool) or beam < 1:
            raise SpaceError(f"`beam` of beam_search must be an int >= 1, but got {beam!r}.")
        steps = min(self.max_length - 1, max_steps if max_steps is not None else self.max_length - 1)
        ids = src.long()
        n = ids.shape[0]
        memory, pad = self.encode_source(ids)
        memory, pad = memory.repeat_interleave(beam, 0), pad.repeat_interleave(beam, 0)
        seqs = torch.full((n * beam, 1), BOS, dtype=torch.long, device=ids.device)
        scores = torch.full((n, beam), -math.inf, device=ids.device)
        scores[:, 0] = 0.0  # one live hypothesis to start from, so the first step picks distinct tokens
        scores = scores.view(-1)
        done = torch.zeros(n * beam, dtype=torch.bool, device=ids.device)
        for _ in range(steps):
            logp = F.log_softmax(self.next_logits(memory, pad, seqs)[:, -1].float(), dim=-1)
            vocab = logp.shape[-1]
            # a finished hypothesis only grows by padding, at no cost; a live one never by padding
            logp = torch.where(done[:, None], torch.full_like(logp, -math.inf), logp)
            logp[:, PAD] = torch.where(done, torch.zeros_like(scores), torch.full_like(scores, -math.inf))
            top, index = (scores[:, None] + logp).view(n, beam * vocab).topk(beam, dim=1)
            origin = (torch.arange(n, device=ids.device)[:, None] * beam + index // vocab).view(-1)
            token = (index % vocab).view(-1)
            seqs = torch.cat([seqs[origin], token[:, None]], dim=1)
            scores = top.view(-1)
            done = done[origin] | (token == EOS)
            if bool(done.all()):
                break
        lengths = (seqs[:, 1:] != PAD).sum(1).clamp(min=1).to(scores.dtype)
        best = (scores / ((5.0 + lengths) / 6.0) ** alpha).view(n, beam).argmax(1)
        return seqs[torch.arange(n, device=ids.device) * beam + best, 1:]
