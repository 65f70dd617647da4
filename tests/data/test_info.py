"""`DataSplits.info`: what the data tells a space built from a config, and what an export writes beside the
model so that raw input can be encoded for it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from torch import nn

from nasforge import config as configs
from nasforge.data import DATASETS, ArrayData, BaseDataset, DataSplits, cached_load
from nasforge.space import ModelSpace, choice
from nasforge.zoo import SPACES

VOCAB = ["<pad>", "<unk>", "good", "bad", "film"]


class TinyTokens(BaseDataset):
    """Two-word "sentences" as float-coded token ids: label 1 when `good` comes first."""

    name = "tiny_tokens"

    def load(self) -> DataSplits:
        return cached_load(("tiny_tokens",), self._build)

    def _build(self) -> DataSplits:
        gen = torch.Generator().manual_seed(0)
        ids = torch.randint(2, len(VOCAB), (200, 2), generator=gen)
        part = ArrayData(ids.float(), (ids[:, 0] == 2).long())
        return DataSplits(
            train=part.subset(torch.arange(0, 120)),
            valid=part.subset(torch.arange(120, 160)),
            test=part.subset(torch.arange(160, 200)),
            num_classes=2,
            input_shape=(2,),
            name=self.name,
            info={"vocab_size": len(VOCAB), "preprocessing": {"vocab": VOCAB, "max_length": 2}},
        )


class BagOfWords(ModelSpace):
    def __init__(self, input_shape: Any, num_classes: int, vocab_size: int = 3) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.EmbeddingBag(vocab_size, choice("dim", [4, 8]))
        self.head = nn.Linear(self.embed.embedding_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x.long()))


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DATASETS._factories, "tiny_tokens", TinyTokens)
    monkeypatch.setitem(SPACES._factories, "bag_of_words", BagOfWords)


def test_info_defaults_to_empty() -> None:
    part = ArrayData(torch.zeros(2, 3), torch.tensor([0, 1]))
    assert DataSplits(part, part, None, 2, (3,), "x").info == {}


def test_config_fills_space_arguments_from_info_and_export_writes_preprocessing(registered: None, tmp_path) -> None:
    cfg = {
        "name": "tokens",
        "storage": str(tmp_path / "t.db"),
        "space": {"name": "bag_of_words"},
        "dataset": {"name": "tiny_tokens"},
        "strategy": {"name": "random"},
        "evaluator": {"epochs": 2, "optimizer": "adamw", "learning_rate": 0.05, "batch_size": 20},
    }
    experiment = configs.build_experiment(cfg)
    assert experiment.space.vocab_size == len(VOCAB)  # from info, not the default 3
    experiment.run(max_trials=2)
    folder, metrics = experiment.export(str(tmp_path / "out"), epochs=2)
    assert json.loads((folder / "preprocessing.json").read_text()) == {"vocab": VOCAB, "max_length": 2}
    assert "test_acc" in metrics


def test_an_explicit_space_argument_wins_over_info(registered: None, tmp_path) -> None:
    cfg = {
        "storage": str(tmp_path / "t.db"),
        "space": {"name": "bag_of_words", "vocab_size": 50},
        "dataset": {"name": "tiny_tokens"},
    }
    assert configs.build_experiment(cfg).space.vocab_size == 50
