"""The text space: every block and pooling runs on real tokenised snippets and on padding only, traces,
and a tiny search runs through a YAML-style config."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest
import torch

from nasforge import config as configs
from nasforge.data.text import RottenTomatoes
from nasforge.data.tokenizer import tokenizer_from_dict
from nasforge.errors import SpaceError
from nasforge.export import export_model, load_model
from nasforge.zoo import SPACES
from nasforge.zoo.text import BLOCKS, POOLINGS, TextClassifierSpace

LENGTH = 24


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, int]:
    """Eight real validation snippets as token ids, and the vocabulary size."""
    splits = RottenTomatoes(max_length=LENGTH).load()
    return splits.valid.x[:8], int(splits.info["vocab_size"])


def arch_with(space: TextClassifierSpace, **values: object) -> dict[str, object]:
    arch = dict(space.default_arch())
    arch.update(values)
    return dict(space.validate(arch))


@pytest.mark.parametrize("op", BLOCKS)
def test_every_block_runs_on_snippets_and_padding_and_traces(op: str, batch: tuple[torch.Tensor, int]) -> None:
    x, vocab = batch
    space = TextClassifierSpace(input_shape=(LENGTH,), num_classes=2, vocab_size=vocab, embed_dims=(16,))
    extra: dict[str, object] = {}
    if op == "transformer":
        extra = {"blocks/0/heads": 8, "blocks/0/ff_mult": 2, "blocks/1/heads": 2, "blocks/1/ff_mult": 4}
    net = space.freeze(arch_with(space, blocks=2, **{"blocks/0/op": op, "blocks/1/op": op}, **extra)).eval()
    zeros = torch.zeros(2, LENGTH)
    with torch.no_grad():
        out = net(x)
        assert out.shape == (8, 2) and torch.isfinite(out).all()
        assert torch.isfinite(net(zeros)).all()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript deprecation and RNN tracer notes
            traced = torch.jit.trace(net, zeros)
        torch.testing.assert_close(traced(x), out)
    net.train()
    loss = torch.nn.functional.cross_entropy(net(x), torch.zeros(8, dtype=torch.long))
    loss.backward()
    assert net.head.weight.grad is not None


@pytest.mark.parametrize("pool", POOLINGS)
def test_pooling_ignores_padding(pool: str) -> None:
    space = TextClassifierSpace(input_shape=(10,), vocab_size=50, embed_dims=(8,), bigram_buckets=(16,))
    net = space.freeze(arch_with(space, pool=pool, blocks=0)).eval()
    short = torch.tensor([[5.0, 6.0, 7.0] + [0.0] * 7])
    with torch.no_grad():
        # the same text padded to another length pools the same (no positions with blocks=0)
        wide = TextClassifierSpace(input_shape=(20,), vocab_size=50, embed_dims=(8,), bigram_buckets=(16,))
        other = wide.freeze(arch_with(wide, pool=pool, blocks=0)).eval()
        other.load_state_dict(net.state_dict())
        torch.testing.assert_close(net(short), other(torch.cat([short, torch.zeros(1, 10)], 1)))
        assert torch.isfinite(net(torch.zeros(1, 10))).all()


def test_space_decisions_and_argument_checks() -> None:
    space = TextClassifierSpace(vocab_size=100)
    for label in ("embed_dim", "embed_dropout", "blocks", "blocks/0/op", "blocks/0/heads", "pool", "dropout"):
        assert label in space.labels
    for label in ("learning_rate", "batch_size", "weight_decay", "optimizer"):
        assert space.decision(label).kind == "hparam"
    assert space.decision("blocks/0/heads").conditional
    assert "text" in SPACES.names()
    net = space.freeze(space.default_arch()).eval()
    with torch.no_grad():  # ids outside the vocabulary count as unknown rather than failing
        assert net(torch.tensor([[-3.0, 5.0, 500.0] + [0.0] * 61])).shape == (1, 2)
    with pytest.raises(SpaceError, match="vocab_size"):
        TextClassifierSpace(vocab_size=1)
    with pytest.raises(SpaceError, match="ops"):
        TextClassifierSpace(ops=("conv3", "rnn"))
    with pytest.raises(SpaceError, match="embed_dims"):
        TextClassifierSpace(embed_dims=(15,))


@pytest.mark.slow
def test_tiny_search_through_a_config_exports_the_tokenizer(tmp_path: Path) -> None:
    parts = RottenTomatoes().parts()
    assert parts.groups is not None
    path = tmp_path / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["sentence", "sentiment", "movie"])
        for t, y, g in list(zip(parts.texts["train"], parts.labels["train"], parts.groups["train"]))[:1200]:
            writer.writerow([t, ("neg", "pos")[int(y)], g])
    cfg = {
        "name": "tiny-text",
        "storage": str(tmp_path / "nas.db"),
        "space": {"name": "text", "embed_dims": [32], "depths": [0, 1], "ops": ["conv3", "gru"]},
        "dataset": {
            "name": "text_csv",
            "path": str(path),
            "text_column": "sentence",
            "label_column": "sentiment",
            "group_column": "movie",
            "max_length": 32,
        },
        "strategy": {"name": "random"},
        "evaluator": {"epochs": 2},
        "executor": {"name": "sequential"},
    }
    experiment = configs.build_experiment(cfg)
    assert experiment.space.decision("embed_dim").values == (32,)
    experiment.run(max_trials=3)
    assert len(experiment.trials) == 3
    best = experiment.best_trial
    assert best is not None and best.metrics["val_acc"] > 0.5
    folder, metrics = experiment.export(str(tmp_path / "out"), epochs=2)
    assert 0.0 <= metrics["test_acc"] <= 1.0
    prep = json.loads((folder / "preprocessing.json").read_text())
    assert prep["classes"] == ["neg", "pos"] and prep["max_length"] == 32 and prep["tokenizer"]["vocab"]
    loaded = torch.jit.load(str(folder / "model.torchscript.pt"))
    assert loaded(torch.zeros(1, 32)).shape == (1, 2)
    # the exported model was retrained with the tokenizer refitted on train + valid, and says so everywhere
    searched = experiment.evaluator.dataset.load().info["vocab_size"]  # type: ignore[attr-defined]
    refitted = tokenizer_from_dict(prep["tokenizer"])
    assert refitted.vocab_size > searched
    assert json.loads((folder / "space.json").read_text())["kwargs"]["vocab_size"] == refitted.vocab_size
    model = load_model(folder)
    assert model.embed.tokens.weight.shape[0] == refitted.vocab_size
    ids = refitted.encode_batch(["a wholly new word for the search: " + parts.texts["valid"][0]], 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(torch.from_numpy(ids).float()), model(torch.from_numpy(ids).float()))


def test_ngram_linear_term_is_a_bag_of_words_and_pairs() -> None:
    space = TextClassifierSpace(input_shape=(12,), vocab_size=50, embed_dims=(8,), ngram_buckets=(1000,))
    net = space.freeze(arch_with(space, blocks=0)).eval()
    assert net.wide is not None and float(net.wide.weight.weight.abs().sum()) == 0.0  # starts silent
    with torch.no_grad():
        net.wide.weight.weight.normal_()
        a = torch.tensor([[5.0, 6.0, 7.0] + [0.0] * 9])
        b = torch.tensor([[7.0, 6.0, 5.0] + [0.0] * 9])
        wide_a, wide_b = net.wide(a.long()), net.wide(b.long())
        assert not torch.allclose(wide_a, wide_b)  # the same words in another order: other pairs
        # 3 words and 2 pairs, summed and scaled by 1/sqrt(5); padding adds nothing
        assert torch.isfinite(net(torch.zeros(1, 12))).all()
        longer = torch.tensor([[5.0, 6.0, 7.0] + [0.0] * 9 + [0.0] * 4])
        wide_space = TextClassifierSpace(input_shape=(16,), vocab_size=50, embed_dims=(8,), ngram_buckets=(1000,))
        other = wide_space.freeze(arch_with(wide_space, blocks=0)).eval()
        other.load_state_dict(net.state_dict())
        torch.testing.assert_close(net(a), other(longer))
    with pytest.raises(SpaceError, match="ngram_buckets"):
        TextClassifierSpace(vocab_size=50, ngram_buckets=(-1,))


def test_ngram_linear_term_exports_as_plain_pytorch_and_onnx(tmp_path: Path) -> None:
    from nasforge.export import load_standalone, standalone_source

    space = TextClassifierSpace(input_shape=(12,), vocab_size=50, embed_dims=(8,), ngram_buckets=(64,))
    net = space.freeze(arch_with(space, blocks=0, pool="max")).eval()
    with torch.no_grad():
        net.wide.weight.weight.normal_()  # type: ignore[union-attr]
    x = torch.randint(0, 60, (4, 12)).float()  # ids past the vocabulary count as unknown
    x[:, 8:] = 0
    source = standalone_source(net, x)
    again = load_standalone(source, net.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again(x), net(x))
        torch.onnx.export(net, (x,), str(tmp_path / "m.onnx"), dynamo=False)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    out = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(out[0]), net(x).detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_the_rotten_tomatoes_preset_searches_with_the_wide_term_and_the_lexicon_over_every_training_word(
    tmp_path: Path,
) -> None:
    cfg = configs.apply_overrides(
        configs.load_preset("rotten_tomatoes"),
        [f"storage={tmp_path / 'rt.db'}", "evaluator.epochs=1", "executor={name: sequential}"],
    )
    # the export averages the best arch retrained with five seeds
    assert cfg["export"]["ensemble_seeds"] == 5 and cfg["export"].get("ensemble", 1) == 1
    experiment = configs.build_experiment(cfg)
    space = experiment.space
    assert space.decision("ngram_buckets").values == (262144,)
    assert set(space.decision("learning_rate").values) == {0.01, 0.003}
    # no sequence blocks; the VADER lexicon's scores of the training words, which the search may add
    assert space.decision("blocks").values == (0,) and space.decision("lexicon").values == ("on", "off")
    info = experiment.evaluator.dataset.load().info  # type: ignore[attr-defined]
    assert info["lexicon_found"] > 2000 and space.freeze(space.default_arch()).lexicon is not None
    splits = experiment.evaluator.dataset.load()  # type: ignore[attr-defined]
    # min_freq 1: every word of the training movies has its own id, none of them is unknown (1)
    assert not (splits.train.x == 1).any() and (splits.valid.x == 1).any()
    experiment.run(max_trials=1)
    (trial,) = experiment.trials
    assert trial.metrics["val_acc"] > 0.6  # one epoch on the training movies is well past the majority class


def test_vectors_start_the_token_embedding_and_frozen_ones_stay(tmp_path: Path) -> None:
    from nasforge.export import load_standalone, standalone_source

    vectors = torch.randn(50, 6)
    vectors[0] = 0.0
    space = TextClassifierSpace(input_shape=(12,), vocab_size=50, embed_dims=(8,), vectors=vectors)
    x = torch.randint(2, 50, (16, 12)).float()
    y = torch.randint(0, 2, (16,))
    for mode in ("finetune", "frozen"):
        net = space.freeze(arch_with(space, blocks=0, vectors=mode))
        torch.testing.assert_close(net.embed.tokens.weight.detach(), vectors)
        opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1.0)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        moved = not torch.equal(net.embed.tokens.weight.detach(), vectors)
        assert moved == (mode == "finetune")
    source = standalone_source(net.eval(), x)
    with torch.no_grad():
        torch.testing.assert_close(load_standalone(source, net.state_dict())(x), net(x))
    # space.json holds the vectors' shape (not 300 numbers per word): load_model rebuilds the space with zeros,
    # and the weights bring the vectors back
    frozen = space.validate(arch_with(space, blocks=0, vectors="frozen"))
    folder = export_model(net, space, frozen, str(tmp_path / "out"), {}, (12,))
    assert json.loads((folder / "space.json").read_text())["kwargs"]["vectors"] == {
        "__tensor__": {"shape": [50, 6], "dtype": "float32"}
    }
    with torch.no_grad():
        torch.testing.assert_close(load_model(folder)(x), net(x))
    with pytest.raises(SpaceError, match=r"\(vocab_size, dim\) = \(50, d\) tensor .* got \(40, 6\)"):
        TextClassifierSpace(vocab_size=50, vectors=torch.zeros(40, 6))
    plain = TextClassifierSpace(vocab_size=50)
    assert "vectors" not in {d.label for d in plain.decisions}
