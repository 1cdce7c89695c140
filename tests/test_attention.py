"""course_lib.attention computes what PyTorch computes: ``F.scaled_dot_product_attention`` and
``nn.MultiheadAttention`` (weights copied, batch first), with and without masks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import (
    MultiHeadAttention,
    SelfAttention,
    causal_mask,
    combine_masks,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.data import padding_mask
from course_lib.torch_interop import load_torch_mha

D_MODEL, HEADS = 32, 4


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def randn(gen, *shape):
    return torch.randn(*shape, generator=gen)


# -- scaled dot-product attention --------------------------------------------------------------


def test_causal_mask_blocks_the_future():
    mask = causal_mask(4)
    assert mask.dtype == torch.bool
    assert torch.equal(
        mask, torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]).bool()
    )


@pytest.mark.parametrize("shape", [(5, 8), (3, 5, 8), (2, 3, 5, 8)])
def test_attention_equals_torch_sdpa_without_mask(gen, shape):
    q = randn(gen, *shape)
    k = randn(gen, *shape[:-2], 7, shape[-1])
    v = randn(gen, *shape[:-2], 7, 6)  # d_v != d_k, k_len != q_len
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert weights.shape == (*shape[:-1], 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(shape[:-1]))


def test_attention_equals_torch_sdpa_with_masks(gen):
    q, k, v = randn(gen, 2, 3, 5, 8), randn(gen, 2, 3, 7, 8), randn(gen, 2, 3, 7, 4)
    mask = torch.rand(2, 1, 5, 7, generator=gen) < 0.5
    mask[..., 2] = False  # no fully masked row here
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=~mask))
    assert (weights[mask.expand_as(weights)] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))
    x = randn(gen, 2, 6, 8)
    out, _ = scaled_dot_product_attention(x, x, x, mask=causal_mask(6))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(x, x, x, is_causal=True))


def test_attention_custom_scale_and_default_scale(gen):
    q, k, v = randn(gen, 4, 16), randn(gen, 6, 16), randn(gen, 6, 3)
    out, _ = scaled_dot_product_attention(q, k, v, scale=0.3)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=0.3))
    _, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(weights, (q @ k.T / math.sqrt(16)).softmax(-1))


def test_fully_masked_row_gives_zero_weights_zero_output_and_finite_gradients(gen):
    q, k, v = (randn(gen, 2, 4, 8).requires_grad_() for _ in range(3))
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[1] = True  # the second sequence is all padding
    mask[0, 2] = True  # one query of the first sees nothing
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    assert (weights[1] == 0).all() and (out[1] == 0).all()
    assert (weights[0, 2] == 0).all() and (out[0, 2] == 0).all()
    torch.testing.assert_close(weights[0, [0, 1, 3]].sum(-1), torch.ones(3))
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_attention_rejects_bad_input_with_clear_errors(gen):
    q = randn(gen, 2, 4, 8)
    with pytest.raises(TypeError, match="bool tensor"):
        scaled_dot_product_attention(q, q, q, mask=torch.zeros(4, 4))
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, q, q, mask=torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="share d_k"):
        scaled_dot_product_attention(q, randn(gen, 2, 4, 7), q)
    with pytest.raises(ValueError, match="same length"):
        scaled_dot_product_attention(q, q, randn(gen, 2, 5, 8))
    with pytest.raises(TypeError, match="float tensor"):
        scaled_dot_product_attention(q.long(), q.long(), q.long())


def test_attention_dropout_is_applied_to_the_weights(gen):
    q = randn(gen, 2, 16, 8)
    torch.manual_seed(0)
    out, weights = scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert (weights == 0).float().mean() > 0.3
    torch.testing.assert_close(out, weights @ q)


# -- heads and masks ----------------------------------------------------------------------------


def test_split_and_merge_heads_round_trip(gen):
    x = randn(gen, 2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:8])  # head h sees features h*d .. (h+1)*d
    torch.testing.assert_close(merge_heads(heads), x)
    with pytest.raises(ValueError, match="not divisible"):
        split_heads(x, 5)
    with pytest.raises(ValueError, match="batch, heads, seq, d_head"):
        merge_heads(x)


def test_combine_masks_broadcasts_to_batch_heads_queries_keys():
    kpm = padding_mask(torch.tensor([3, 2]), 3)
    mask = combine_masks(kpm, causal_mask(3))
    assert mask.shape == (2, 1, 3, 3)
    assert mask[1, 0, 2].tolist() == [False, False, True]
    assert combine_masks(None, None) is None
    with pytest.raises(TypeError, match="isinf"):
        combine_masks(None, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="batch, k_len"):
        combine_masks(torch.zeros(3, dtype=torch.bool), None)


# -- multi-head attention vs nn.MultiheadAttention -----------------------------------------------


def pair(bias=True, dropout=0.0, seed=0):
    """A course layer and an nn.MultiheadAttention with the same weights (eval mode)."""
    torch.manual_seed(seed)
    reference = nn.MultiheadAttention(D_MODEL, HEADS, dropout=dropout, bias=bias, batch_first=True)
    if bias:  # nn initialises biases to zero; make them count
        with torch.no_grad():
            reference.in_proj_bias.normal_()
            reference.out_proj.bias.normal_()
    return MultiHeadAttention.from_torch(reference).eval(), reference.eval()


def masks_for(kind, batch, q_len, k_len, gen):
    lengths = torch.tensor([k_len, max(1, k_len - 3)] + [k_len - 1] * (batch - 2))
    kpm = padding_mask(lengths, k_len)
    return {
        "none": {},
        "padding": {"key_padding_mask": kpm},
        "causal": {"attn_mask": causal_mask(q_len)},
        "padding+causal": {"key_padding_mask": kpm, "attn_mask": causal_mask(q_len)},
        "per-head 3-D": {
            "attn_mask": (torch.rand(batch * HEADS, q_len, k_len, generator=gen) < 0.3)
            & ~torch.eye(q_len, k_len, dtype=torch.bool)
        },
    }[kind]


@pytest.mark.parametrize("kind", ["none", "padding", "causal", "padding+causal", "per-head 3-D"])
@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("fused", [False, True])
def test_mha_equals_torch_self_attention(gen, kind, average, fused):
    ours, reference = pair()
    ours.fused = fused
    x = randn(gen, 3, 6, D_MODEL)
    masks = masks_for(kind, 3, 6, 6, gen)
    out, weights = ours(x, x, x, average_attn_weights=average, **masks)
    expected_out, expected_weights = reference(x, x, x, average_attn_weights=average, **masks)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(weights, expected_weights)
    fast_out, none = ours(x, x, x, need_weights=False, **masks)
    assert none is None
    torch.testing.assert_close(fast_out, expected_out)


@pytest.mark.parametrize("kind", ["none", "padding"])
@pytest.mark.parametrize("fused", [False, True])
def test_mha_equals_torch_cross_attention_and_without_bias(gen, kind, fused):
    ours, reference = pair(bias=False)
    ours.fused = fused
    query, memory = randn(gen, 3, 4, D_MODEL), randn(gen, 3, 9, D_MODEL)
    masks = masks_for(kind, 3, 4, 9, gen)
    for need_weights in (True, False):
        out, weights = ours(query, memory, memory, need_weights=need_weights, **masks)
        expected_out, expected_weights = reference(
            query, memory, memory, need_weights=need_weights, **masks
        )
        torch.testing.assert_close(out, expected_out)
        if need_weights:
            torch.testing.assert_close(weights, expected_weights)


@pytest.mark.parametrize("fused", [False, True])
def test_mha_gradients_equal_torch_and_reach_every_parameter(gen, fused):
    ours, reference = pair()
    ours.fused = fused
    ours.train(), reference.train()
    x = randn(gen, 2, 5, D_MODEL)
    masks = {"key_padding_mask": padding_mask(torch.tensor([5, 3]))}
    ours(x, x, x, need_weights=False, **masks)[0].pow(2).sum().backward()
    reference(x, x, x, need_weights=False, **masks)[0].pow(2).sum().backward()
    for name, param in ours.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    grad_in = torch.cat([ours.q_proj.weight.grad, ours.k_proj.weight.grad, ours.v_proj.weight.grad])
    torch.testing.assert_close(grad_in, reference.in_proj_weight.grad)
    torch.testing.assert_close(ours.out_proj.weight.grad, reference.out_proj.weight.grad)


def test_explicit_and_fused_paths_agree_including_a_fully_padded_row(gen):
    explicit, _ = pair()
    fused = MultiHeadAttention(D_MODEL, HEADS, fused=True)
    fused.load_state_dict(explicit.state_dict())
    x = randn(gen, 3, 7, D_MODEL).requires_grad_()
    kpm = padding_mask(torch.tensor([7, 4, 0]), 7)  # the last sequence is all padding
    masks = {"key_padding_mask": kpm, "attn_mask": causal_mask(7)}
    out_e, weights = explicit(x, x, x, **masks)
    out_f, _ = fused(x, x, x, need_weights=False, **masks)
    torch.testing.assert_close(out_f, out_e)
    # Documented behaviour: a fully masked row has zero weights, and the layer returns the
    # output projection's bias there (attention output 0); never NaN.
    assert torch.isfinite(out_e).all() and (weights[2] == 0).all()
    torch.testing.assert_close(out_e[2], explicit.out_proj.bias.expand(7, -1))
    grads = [torch.autograd.grad(o.sum(), x, retain_graph=True)[0] for o in (out_e, out_f)]
    assert all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(grads[1], grads[0])


def test_torch_mha_gives_nan_on_a_fully_padded_row_where_ours_does_not(gen):
    ours, reference = pair()
    x = randn(gen, 2, 4, D_MODEL)
    kpm = padding_mask(torch.tensor([4, 0]), 4)
    expected, _ = reference(x, x, x, key_padding_mask=kpm)
    out, _ = ours(x, x, x, key_padding_mask=kpm)
    assert torch.isnan(expected[1]).all()  # why the comparisons above skip such rows
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0], expected[0])


def test_mha_handles_variable_sequence_lengths(gen):
    ours, reference = pair()
    for length in (1, 3, 17, 64):
        x = randn(gen, 2, length, D_MODEL)
        out, weights = ours(x, x, x)
        assert out.shape == (2, length, D_MODEL) and weights.shape == (2, length, length)
        torch.testing.assert_close(out, reference(x, x, x)[0])


def test_padding_does_not_change_the_real_positions(gen):
    ours, _ = pair()
    x = randn(gen, 1, 4, D_MODEL)
    padded = torch.cat([x, randn(gen, 1, 3, D_MODEL)], dim=1)
    out, _ = ours(x, x, x)
    out_padded, _ = ours(
        padded, padded, padded, key_padding_mask=padding_mask(torch.tensor([4]), 7)
    )
    torch.testing.assert_close(out_padded[:, :4], out)


def test_dropout_is_active_in_training_only(gen):
    torch.manual_seed(0)
    layer = MultiHeadAttention(D_MODEL, HEADS, dropout=0.5)
    x = randn(gen, 2, 8, D_MODEL)
    layer.train()
    assert not torch.allclose(layer(x, x, x)[0], layer(x, x, x)[0])
    layer.eval()
    torch.testing.assert_close(layer(x, x, x)[0], layer(x, x, x)[0])


def test_weight_copies_round_trip_and_refuse_what_they_cannot_copy():
    ours, reference = pair(dropout=0.1)
    back = ours.to_torch()
    assert back.batch_first and back.dropout == 0.1
    for a, b in zip(back.state_dict().values(), reference.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="kdim/vdim"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(D_MODEL, HEADS, kdim=8, vdim=8))
    with pytest.raises(ValueError, match="num_heads"):
        load_torch_mha(MultiHeadAttention(D_MODEL, 2), reference)
    with pytest.raises(TypeError, match="nn.MultiheadAttention"):
        load_torch_mha(ours, nn.Linear(2, 2))


def test_mha_parameter_count_matches_torch():
    ours, reference = pair()
    expected = 4 * D_MODEL * D_MODEL + 4 * D_MODEL
    assert sum(p.numel() for p in ours.parameters()) == expected
    assert sum(p.numel() for p in reference.parameters()) == expected


def test_mha_rejects_bad_input_with_clear_errors(gen):
    layer = MultiHeadAttention(D_MODEL, HEADS)
    x = randn(gen, 2, 5, D_MODEL)
    with pytest.raises(ValueError, match="not divisible"):
        MultiHeadAttention(30, 4)
    with pytest.raises(ValueError, match="batch first"):
        layer(x[0], x[0], x[0])
    with pytest.raises(ValueError, match="key_padding_mask must be"):
        layer(x, x, x, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool tensor"):
        layer(x, x, x, attn_mask=nn.Transformer.generate_square_subsequent_mask(5))
    with pytest.raises(ValueError, match="batch \\* heads"):
        layer(x, x, x, attn_mask=torch.zeros(3, 5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="same length"):
        layer(x, x, x[:, :3])


def test_mha_with_a_wrapped_projection_uses_the_wrapper(gen):
    """Each projection runs through its module, so a replaced one (LoRA, a hook) is used."""
    layer = MultiHeadAttention(D_MODEL, HEADS)
    x = randn(gen, 2, 5, D_MODEL)
    expected, _ = layer(x, x, x.clone())  # three separate projections
    torch.testing.assert_close(layer(x, x, x)[0], expected)
    calls = []
    layer.v_proj.register_forward_hook(lambda *args: calls.append(1))
    layer(x, x, x)
    assert calls == [1]


# -- single-head self-attention -----------------------------------------------------------------


def test_self_attention_is_attention_over_its_own_projections(gen):
    torch.manual_seed(0)
    layer = SelfAttention(12, 4, d_v=6)
    x = randn(gen, 2, 5, 12)
    out, weights = layer(x, mask=causal_mask(5))
    expected_out, expected_weights = scaled_dot_product_attention(
        layer.q_proj(x), layer.k_proj(x), layer.v_proj(x), causal_mask(5)
    )
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(weights, expected_weights)
    assert out.shape == (2, 5, 6)
    torch.testing.assert_close(
        out,
        F.scaled_dot_product_attention(
            layer.q_proj(x), layer.k_proj(x), layer.v_proj(x), is_causal=True
        ),
    )
    with pytest.raises(ValueError, match="batch, seq, 12"):
        layer(x[..., :4])
