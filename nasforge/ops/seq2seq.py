"""Encoder and decoder blocks for the `seq2seq` space: pre-norm Transformer layers whose token-mixing part
is self-attention or a lightweight depthwise convolution (as the Evolved Transformer mixes both, So et al.
2019; lightweight convolutions: Wu et al. 2019).

Encoder blocks map `(h, pad)` to `(h, pad)`, where `h` is (N, S, D) and `pad` (N, S) is True at padding;
decoder blocks map `(y, memory, pad)` to the same triple, `y` being (N, T, D). Every block takes and
returns one tuple, so a `Repeat` of them is a plain `nn.Sequential` once frozen.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvMixer", "DecoderBlock", "EncoderBlock", "FeedForward", "SelfAttention", "sinusoids"]

EncSeq = tuple[torch.Tensor, torch.Tensor]
DecSeq = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def sinusoids(length: int, dim: int) -> torch.Tensor:
    """The (length, dim) sinusoidal position encodings of Vaswani et al. (2017)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    out = torch.zeros(length, dim)
    out[:, 0::2] = torch.sin(pos * rate)
    out[:, 1::2] = torch.cos(pos * rate[: dim // 2])
    return out


def _heads(dim: int, heads: int) -> int:
    return heads if dim % heads == 0 else math.gcd(dim, heads)


class SelfAttention(nn.Module):
    """Multi-head attention of `x` over `context` (itself when None); `pad` masks context positions and
    `causal` hides later positions (the decoder's own)."""

    def __init__(self, dim: int, heads: int, dropout: float, causal: bool = False) -> None:
        super().__init__()
        self.heads = _heads(dim, heads)
        self.causal = causal
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.p = dropout

    def forward(self, x: torch.Tensor, pad: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        src = x if context is None else context
        n, t, d = x.shape
        s = src.shape[1]
        hd = d // self.heads
        q = self.q(x).reshape(n, t, self.heads, hd).transpose(1, 2)
        k, v = self.kv(src).reshape(n, s, 2, self.heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
        mask = pad[:, None, None, :].expand(n, 1, t, s)  # True where a key must be ignored
        if self.causal:
            later = torch.ones(t, s, dtype=torch.bool, device=x.device).triu(1)
            mask = mask | later
        # a finite bias rather than -inf: a query whose keys are all padding gets uniform weights, not NaN
        bias = mask.to(x.dtype) * -1e4
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.p if self.training else 0.0)
        return self.out(att.transpose(1, 2).reshape(n, t, d))


class ConvMixer(nn.Module):
    """A gated lightweight convolution: a linear map to twice the width and a GLU, then a depthwise 1-D
    convolution of width `kernel` over the positions (causal in the decoder: it sees only earlier ones),
    then a linear map back. Padded positions are zeroed before mixing."""

    def __init__(self, dim: int, kernel: int, causal: bool = False) -> None:
        super().__init__()
        self.kernel = kernel
        self.causal = causal
        self.inp = nn.Linear(dim, 2 * dim)
        self.conv = nn.Conv1d(dim, dim, kernel, groups=dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        h = F.glu(self.inp(x), dim=-1) * (~pad).unsqueeze(-1).to(x.dtype)
        h = h.transpose(1, 2)
        left = self.kernel - 1 if self.causal else (self.kernel - 1) // 2
        h = F.pad(h, (left, self.kernel - 1 - left))
        return self.out(self.conv(h).transpose(1, 2))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class EncoderBlock(nn.Module):
    """Pre-norm: `x + mix(norm(x))`, then `x + ffn(norm(x))`; `mix` is `SelfAttention` or `ConvMixer`."""

    def __init__(self, dim: int, mixer: nn.Module, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.mix = mixer
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, hidden, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, seq: EncSeq) -> EncSeq:
        h, pad = seq
        h = h + self.drop(self.mix(self.norm1(h), pad))
        h = h + self.drop(self.ffn(self.norm2(h)))
        return h, pad


class DecoderBlock(nn.Module):
    """Pre-norm: causal `mix` of the target so far, attention to the encoder's output (`memory`), then the
    feed-forward part, each residual."""

    def __init__(self, dim: int, mixer: nn.Module, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.mix = mixer
        self.norm2 = nn.LayerNorm(dim)
        self.cross = SelfAttention(dim, heads, dropout)
        self.norm3 = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, hidden, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, seq: DecSeq) -> DecSeq:
        y, memory, pad = seq
        no_pad = torch.zeros(y.shape[0], y.shape[1], dtype=torch.bool, device=y.device)
        y = y + self.drop(self.mix(self.norm1(y), no_pad))  # target padding only follows its end: causal hides it
        y = y + self.drop(self.cross(self.norm2(y), pad, memory))
        y = y + self.drop(self.ffn(self.norm3(y)))
        return y, memory, pad
