"""The `seq2seq` space: shapes, causality of every decoder block, tied embeddings, greedy decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasforge.cost import count_params
from nasforge.errors import SpaceError
from nasforge.zoo import SPACES, Seq2SeqSpace

SPACE = Seq2SeqSpace(vocab_size=50, max_length=10, embed_dims=(16, 8), encoder_depths=(1, 0, 2), decoder_depths=(1, 2))


def batch(n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, 50, (n, 2, 10), generator=g)
    x[:, 1, 0] = 2
    x[:, 0, 7:] = 0  # padded source tail
    return x.float()


def test_registered_with_its_decisions() -> None:
    assert SPACES.get("seq2seq") is Seq2SeqSpace
    labels = SPACE.labels
    for label in ("embed_dim", "tie", "dropout", "encoder", "decoder", "decoder/0/op", "decoder/0/cross_heads"):
        assert label in labels
    assert "encoder/1/op" in labels and SPACE.decision("encoder/1/op").conditional


def test_random_archs_run_teacher_forcing_and_greedy_decoding() -> None:
    rng = np.random.default_rng(0)
    for _ in range(6):
        net = SPACE.freeze(SPACE.random(rng)).eval()
        assert net(batch()).shape == (3, 9, 50)
        out = net.translate(batch()[:, 0], max_steps=6)
        assert out.shape[0] == 3 and out.shape[1] <= 6
        for row in out.tolist():  # nothing but padding after the end of sentence
            if 3 in row:
                assert all(t == 0 for t in row[row.index(3) + 1 :])


@pytest.mark.parametrize("op", ["attention", "conv3", "conv7"])
def test_decoder_never_sees_later_target_tokens(op: str) -> None:
    arch = dict(SPACE.default_arch())
    arch.update({"decoder": 2, "decoder/0/op": op, "decoder/1/op": op, "dropout": 0.0})
    arch.update({"decoder/1/cross_heads": 2, "decoder/1/ffn": 2, "decoder/0/heads": 2, "decoder/1/heads": 2})
    arch = {
        k: v for k, v in arch.items() if op == "attention" or not k.startswith("decoder/") or not k.endswith("/heads")
    }
    net = SPACE.freeze(SPACE.validate(arch)).eval()
    x = batch()
    changed = x.clone()
    changed[:, 1, 6:] = 7.0  # later target tokens differ
    with torch.no_grad():
        a, b = net(x), net(changed)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-5)  # positions 0-4 read target tokens 0-4 only
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_padding_of_the_source_changes_nothing() -> None:
    net = SPACE.freeze(SPACE.default_arch()).eval()
    x = batch()
    longer = torch.zeros(3, 2, 10)
    longer[:, :, :] = x
    with torch.no_grad():
        assert torch.allclose(net(x)[:, :4], net(longer)[:, :4])


def test_tied_embeddings_share_parameters() -> None:
    sizes = {}
    for tie in ("all", "output", "none"):
        arch = dict(SPACE.default_arch())
        arch["tie"] = tie
        sizes[tie] = count_params(SPACE.freeze(SPACE.validate(arch)))
    width = SPACE.default_arch()["embed_dim"]
    assert sizes["output"] - sizes["all"] == 50 * width
    assert sizes["none"] - sizes["output"] == 50 * width


def test_bad_arguments_name_what_must_hold() -> None:
    with pytest.raises(SpaceError, match="`vocab_size` of Seq2SeqSpace"):
        Seq2SeqSpace(vocab_size=3)
    with pytest.raises(SpaceError, match="`ops` of Seq2SeqSpace"):
        Seq2SeqSpace(ops=("lstm",))
    with pytest.raises(SpaceError, match="`decoder_depths`"):
        Seq2SeqSpace(decoder_depths=(0,))


def test_beam_search_of_one_is_greedy_and_a_wider_one_returns_whole_hypotheses() -> None:
    torch.manual_seed(0)
    net = SPACE.freeze(SPACE.default_arch()).eval()
    src = batch(4)[:, 0]
    greedy = net.translate(src, max_steps=6)
    assert torch.equal(net.beam_search(src, beam=1, max_steps=6, alpha=0.0)[:, : greedy.shape[1]], greedy)

    def logprob(out: torch.Tensor) -> torch.Tensor:  # of each whole hypothesis, up to its end id
        tgt = torch.cat([torch.full((len(out), 1), 2), out], dim=1)
        with torch.no_grad():
            memory, pad = net.encode_source(src.long())
            logp = torch.log_softmax(net.next_logits(memory, pad, tgt[:, :-1]), -1)
        picked = logp.gather(2, tgt[:, 1:, None])[..., 0]
        return (picked * (tgt[:, 1:] != 0)).sum(1)

    wide = net.beam_search(src, beam=4, max_steps=6, alpha=0.0)
    assert wide.shape[0] == 4 and bool(torch.isfinite(logprob(wide)).all())
    for row in wide.tolist():  # nothing but padding after the end of sentence
        if 3 in row:
            assert all(t == 0 for t in row[row.index(3) + 1 :])
    with pytest.raises(SpaceError, match="`beam`"):
        net.beam_search(src, beam=0)
