"""The full Transformer: stacks equal nn.Transformer (copied weights), parameter count
derived by hand, tying and sharing options, padding safety, and it learns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.attention import causal_mask
from course_lib.data import padding_mask
from course_lib.torch_interop import to_torch_transformer
from course_lib.transformer import Transformer, count_parameters, expected_parameter_count

SRC_V, TGT_V, D, HEADS, D_FF = 17, 13, 32, 4, 48


def make(seed=0, **kwargs) -> Transformer:
    torch.manual_seed(seed)
    options = dict(dropout=0.0, max_len=32)
    options.update(kwargs)
    return Transformer(SRC_V, TGT_V, D, HEADS, D_FF, 2, 3, **options).eval()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_equal_nn_transformer(seed, norm_first):
    model = make(seed, norm_first=norm_first)
    theirs = to_torch_transformer(model).eval()
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(1, SRC_V, (3, 6), generator=gen)
    tgt = torch.randint(1, TGT_V, (3, 5), generator=gen)
    src_pad = padding_mask(torch.tensor([6, 2, 4]), 6)
    tgt_pad = padding_mask(torch.tensor([5, 5, 3]), 5)
    hidden = theirs(
        model.encoder.embed(src), model.decoder.embed(tgt), tgt_mask=causal_mask(5),
        src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
        memory_key_padding_mask=src_pad,
    )
    ours = model(src, tgt, src_pad, tgt_pad)
    torch.testing.assert_close(ours[~tgt_pad], model.output(hidden)[~tgt_pad])
    assert (theirs.encoder.norm is None) == (not norm_first)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"tie_output": False},
        {"norm_first": True},
        {"share_embeddings": True},
        {"share_embeddings": True, "tie_output": False, "norm_first": True},
    ],
)
def test_parameter_count_derived_by_hand(options):
    src_v = TGT_V if options.get("share_embeddings") else SRC_V
    torch.manual_seed(0)
    model = Transformer(src_v, TGT_V, D, HEADS, D_FF, 2, 3, **options)
    expected = expected_parameter_count(src_v, TGT_V, D, D_FF, 2, 3, **options)
    assert count_parameters(model) == expected
    if options.get("share_embeddings"):
        assert model.decoder.embedding is model.encoder.embedding
    if options.get("tie_output", True):
        assert model.output.weight is model.decoder.embedding.weight


def test_share_embeddings_needs_one_vocabulary():
    with pytest.raises(ValueError, match="joint vocabulary"):
        Transformer(SRC_V, TGT_V, D, HEADS, D_FF, 1, 1, share_embeddings=True)


def test_embeddings_are_scaled_by_sqrt_d_model():
    model, plain = make(), make(scale_embeddings=False)
    ids = torch.randint(1, TGT_V, (2, 4))
    torch.testing.assert_close(
        model.encoder.embed(ids) - model.encoder.positional_encoding.pe[:4],
        model.encoder.embedding(ids) * D**0.5,
    )
    torch.testing.assert_close(
        plain.encoder.embed(ids) - plain.encoder.positional_encoding.pe[:4],
        plain.encoder.embedding(ids),
    )
    no_positions = make(positions=False)
    torch.testing.assert_close(
        no_positions.decoder.embed(ids), model.decoder.embedding(ids) * D**0.5
    )


def test_padding_never_changes_real_positions():
    model = make()
    src, tgt = torch.randint(1, SRC_V, (1, 4)), torch.randint(1, TGT_V, (1, 3))
    src_padded = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    tgt_padded = torch.cat([tgt, torch.zeros(1, 2, dtype=torch.long)], dim=1)
    out = model(src_padded, tgt_padded, padding_mask(torch.tensor([4]), 7),
                padding_mask(torch.tensor([3]), 5))
    torch.testing.assert_close(out[:, :3], model(src, tgt))


def test_bad_inputs_have_clear_errors():
    model = make()
    with pytest.raises(ValueError, match="batch size"):
        model(torch.ones(2, 3, dtype=torch.long), torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer token ids"):
        model(torch.ones(2, 3), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="src_key_padding_mask must have shape"):
        model(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long),
              torch.zeros(2, 4, dtype=torch.bool))


def test_learns_to_copy_a_batch():
    torch.manual_seed(0)
    model = Transformer(SRC_V, TGT_V, D, HEADS, D_FF, 1, 1, dropout=0.0, norm_first=True)
    gen = torch.Generator().manual_seed(0)
    src = torch.randint(3, TGT_V, (16, 6), generator=gen)
    tgt_in = torch.cat([torch.ones(16, 1, dtype=torch.long), src[:, :-1]], dim=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(120):
        loss = F.cross_entropy(model(src, tgt_in).reshape(-1, TGT_V), src.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 2.0 and losses[-1] < 0.2


def test_transformer_loss_ignores_padding_and_smooths():
    from course_lib.data import collate_pairs
    from course_lib.transformer import transformer_loss

    model = make()
    pairs = [([3, 4, 5], [6, 7, 2]), ([3, 4], [8, 2])]
    batch = collate_pairs(pairs)
    loss = transformer_loss(model, batch, bos_id=1)
    one = transformer_loss(model, collate_pairs(pairs[1:]), bos_id=1)
    first = transformer_loss(model, collate_pairs(pairs[:1]), bos_id=1)
    torch.testing.assert_close(loss, (3 * first + 2 * one) / 5)
    assert transformer_loss(model, batch, bos_id=1, label_smoothing=0.1) != loss
