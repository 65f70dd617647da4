"""FLOPs pinned against hand counts, so that a change of the counting rule (nasforge.cost.flops) is a choice."""

from __future__ import annotations

import doctest

import pytest
import torch
from torch import nn

import nasforge.cost.flops
import nasforge.cost.latency
from nasforge.cost import count_flops, count_params
from nasforge.zoo.text import TextClassifierSpace


def test_small_text_model_matches_hand_count() -> None:
    space = TextClassifierSpace(
        input_shape=(4,), num_classes=2, vocab_size=20, embed_dims=(4,), depths=(1,), ops=("conv3",), poolings=("mean",)
    )
    net = space.freeze(space.default_arch())  # no bigrams, no n-gram term, one conv3 block, mean pooling
    length, dim, classes = 4, 4, 2
    embedding = length * dim  # one value read per token and width
    conv = 2 * (length * dim) * dim * 3  # each output: dim inputs x kernel 3, a multiply-add each
    relu, residual, mask = length * dim, length * dim, length * dim
    layer_norm = 5 * length * dim  # statistics, normalise, scale and shift
    pool = length * dim + length * dim + length + 1 + dim  # h * mask, sum over tokens, mask.sum, clamp, divide
    head = 2 * dim * classes
    hand = embedding + conv + relu + residual + layer_norm + mask + pool + head
    assert hand == 585
    assert count_flops(net, (length,)) == hand


def test_small_cnn_matches_hand_count() -> None:
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),  # out 2x8x8 = 128 values, 9 multiply-adds each
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.MaxPool2d(2),  # out 2x4x4
        nn.AvgPool2d(2),  # out 2x2x2
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2, 3),
    )
    hand = 2 * 128 * 9 + 2 * 128 + 128 + 32 * 4 + 8 * 4 + 8 + 2 * 2 * 3
    assert count_flops(net, (1, 8, 8)) == hand == 2868


def test_residual_addition_and_activations_count() -> None:
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(6, 6)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + torch.sigmoid(self.fc(x))

    assert count_flops(Residual(), (6,)) == 2 * 6 * 6 + 6 + 6


@pytest.mark.parametrize(("layer", "hand"), [
    # per step and direction: input and hidden products (2*4*4H + 2*3*4H for H = 3), then 13H in the LSTM cell
    (nn.LSTM(4, 3, batch_first=True, bidirectional=True), 2 * 5 * (2 * 4 * 12 + 2 * 3 * 12 + 13 * 3)),
    (nn.GRU(4, 3, batch_first=True), 5 * (2 * 4 * 9 + 2 * 3 * 9 + 10 * 3)),
])  # fmt: skip
def test_recurrent_layers_count_their_cells(layer: nn.Module, hand: int) -> None:
    assert count_flops(layer, (5, 4)) == hand
    assert torch.backends.mkldnn.enabled  # switched off for the count only


def test_fused_cells_count_as_their_decomposition() -> None:
    # CUDA without cuDNN runs recurrent layers as fused cells; their formulas must match the cells counted on
    # the CPU above (no GPU here: the formulas are called directly)
    from nasforge.cost.flops import _FORMULAS

    n, hidden = 2, 3
    lstm = _FORMULAS[torch.ops.aten._thnn_fused_lstm_cell]
    gru = _FORMULAS[torch.ops.aten._thnn_fused_gru_cell]
    gates = torch.zeros(n, 4 * hidden)
    assert lstm(gates, gates, torch.zeros(n, hidden), out_val=None) == 13 * n * hidden
    assert gru(gates[:, : 3 * hidden], gates[:, : 3 * hidden], torch.zeros(n, hidden), out_val=None) == 10 * n * hidden


def test_integer_work_on_ids_counts_nothing() -> None:
    class Hashing(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            ids = x.long()
            return ((ids * 31 + 7) % 5 != 0).float()

    assert count_flops(Hashing(), (10,)) == 0


def test_default_text_model_measures_more_than_its_head() -> None:
    # the case: a text model of over a million parameters once recorded 256 FLOPs (its head only)
    space = TextClassifierSpace(input_shape=(64,), num_classes=2, vocab_size=5000)
    net = space.freeze(space.default_arch())
    assert count_params(net) > 600_000
    assert count_flops(net, (64,)) > 64 * 128 * 10


def test_mode_is_restored() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net.train()
    count_flops(net, (2,))
    assert net.training


@pytest.mark.parametrize("module", [nasforge.cost.flops, nasforge.cost.latency])
def test_docstring_examples(module: object) -> None:
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0  # type: ignore[arg-type]
