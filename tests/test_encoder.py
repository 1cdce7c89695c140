"""The encoder's pieces equal PyTorch's (copied weights, dropout off), respect padding, train."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.add_norm import AddNorm, layer_norm
from course_lib.data import padding_mask
from course_lib.encoder import Encoder, EncoderLayer
from course_lib.feed_forward import PositionwiseFeedForward
from course_lib.positional_encoding import sinusoidal_encoding
from course_lib.torch_interop import to_torch_encoder_layer

D, HEADS, D_FF = 32, 4, 64


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 9, D, generator=gen)
    mask = padding_mask(torch.tensor([9, 5, 1, 7]), 9)
    return x, mask


def test_feed_forward_is_two_linears_with_relu_between():
    torch.manual_seed(0)
    ffn = PositionwiseFeedForward(D, D_FF, dropout=0.0)
    x = torch.randn(2, 5, D)
    expected = F.relu(x @ ffn.linear1.weight.T + ffn.linear1.bias) @ ffn.linear2.weight.T
    torch.testing.assert_close(ffn(x), expected + ffn.linear2.bias)
    assert sum(p.numel() for p in ffn.parameters()) == 2 * D * D_FF + D_FF + D


def test_feed_forward_rejects_wrong_width():
    with pytest.raises(ValueError, match="d_model=32"):
        PositionwiseFeedForward(D, D_FF)(torch.randn(2, 5, D + 1))


def test_layer_norm_from_scratch_equals_nn_layer_norm():
    torch.manual_seed(0)
    norm = nn.LayerNorm(D)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    x = torch.randn(3, 7, D) * 4 + 2
    torch.testing.assert_close(layer_norm(x, norm.weight, norm.bias, norm.eps), norm(x))
    with pytest.raises(ValueError, match="weight and bias"):
        layer_norm(x, norm.weight[:-1], norm.bias)


@pytest.mark.parametrize("norm_first", [False, True])
def test_add_norm_post_and_pre(norm_first):
    torch.manual_seed(0)
    block = AddNorm(D, dropout=0.0, norm_first=norm_first)
    sub = nn.Linear(D, D)
    x = torch.randn(2, 5, D)
    expected = x + sub(block.norm(x)) if norm_first else block.norm(x + sub(x))
    torch.testing.assert_close(block(x, sub), expected)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_encoder_layer_equals_torch(batch, norm_first, fused, train):
    x, mask = batch
    torch.manual_seed(1)
    ours = EncoderLayer(D, HEADS, D_FF, dropout=0.0, norm_first=norm_first, fused=fused)
    theirs = to_torch_encoder_layer(ours)
    assert theirs.norm_first == norm_first and theirs.self_attn.batch_first
    ours.train(train)
    theirs.train(train)
    with torch.no_grad():
        expected = theirs(x, src_key_padding_mask=mask)
        torch.testing.assert_close(ours(x, key_padding_mask=mask), expected)
        torch.testing.assert_close(ours(x), theirs(x))


def test_encoder_layer_gradients_equal_torch(batch):
    x, mask = batch
    torch.manual_seed(2)
    ours = EncoderLayer(D, HEADS, D_FF, dropout=0.0)
    theirs = to_torch_encoder_layer(ours)
    ours(x, key_padding_mask=mask)[~mask].sum().backward()
    theirs(x, src_key_padding_mask=mask)[~mask].sum().backward()
    in_proj = torch.cat([ours.self_attn.q_proj.weight.grad, ours.self_attn.k_proj.weight.grad,
                         ours.self_attn.v_proj.weight.grad])
    torch.testing.assert_close(in_proj, theirs.self_attn.in_proj_weight.grad)
    torch.testing.assert_close(ours.feed_forward.linear1.weight.grad, theirs.linear1.weight.grad)
    torch.testing.assert_close(ours.add_norm2.norm.weight.grad, theirs.norm2.weight.grad)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradients_reach_every_parameter(batch, norm_first):
    x, mask = batch
    layer = EncoderLayer(D, HEADS, D_FF, dropout=0.1, norm_first=norm_first)
    layer(x, key_padding_mask=mask)[~mask].pow(2).sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("norm_first", [False, True])
def test_padding_never_changes_real_positions(batch, norm_first):
    x, mask = batch
    torch.manual_seed(3)
    enc = Encoder(100, D, HEADS, D_FF, num_layers=2, dropout=0.1, norm_first=norm_first).eval()
    ids = torch.randint(1, 100, mask.shape).masked_fill(mask, 0)
    longer_ids = torch.cat([ids, torch.randint(1, 100, (4, 5))], dim=1)  # junk, masked
    longer_mask = torch.cat([mask, torch.ones(4, 5, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        a = enc(ids, mask)
        b = enc(longer_ids, longer_mask)[:, : ids.shape[1]]
        alone = enc(ids[1:2, :5], mask[1:2, :5])  # row 1 has 5 real tokens, batched alone
    torch.testing.assert_close(b[~mask], a[~mask])
    torch.testing.assert_close(alone[0], a[1, :5])


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_equals_torch_transformer_encoder(batch, norm_first):
    _, mask = batch
    torch.manual_seed(4)
    ours = Encoder(100, D, HEADS, D_FF, num_layers=3, dropout=0.0, norm_first=norm_first)
    theirs = nn.TransformerEncoder(
        to_torch_encoder_layer(ours.layers[0]), num_layers=3,
        norm=nn.LayerNorm(D) if norm_first else None, enable_nested_tensor=False,
    )
    for i, layer in enumerate(ours.layers):
        theirs.layers[i] = to_torch_encoder_layer(layer)
    if norm_first:
        theirs.norm.load_state_dict(ours.norm.state_dict())
    ids = torch.randint(1, 100, mask.shape).masked_fill(mask, 0)
    embedded = F.embedding(ids, ours.embedding.weight) * math.sqrt(D)
    embedded = embedded + sinusoidal_encoding(64, D)[: ids.shape[1]]
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            ours(ids, mask)[~mask], theirs(embedded, src_key_padding_mask=mask)[~mask]
        )


def test_encoder_returns_attention_weights_per_layer(batch):
    _, mask = batch
    enc = Encoder(100, D, HEADS, D_FF, num_layers=2, dropout=0.0).eval()
    ids = torch.randint(1, 100, mask.shape).masked_fill(mask, 0)
    with torch.no_grad():
        out, weights = enc(ids, mask, need_weights=True)
        torch.testing.assert_close(out, enc(ids, mask))
    assert weights.shape == (2, 4, HEADS, 9, 9)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, HEADS, 9))
    assert (weights.masked_select(mask[None, :, None, None, :]) == 0).all()


def test_encoder_scales_embeddings_and_adds_positions():
    enc = Encoder(20, 16, 2, 32, num_layers=0, dropout=0.0)
    ids = torch.tensor([[3, 3, 3]])
    expected = enc.embedding.weight[3] * 4.0 + sinusoidal_encoding(3, 16)
    torch.testing.assert_close(enc(ids)[0], expected)
    assert enc.embedding.weight[0].abs().sum() == 0  # the padding row


def test_encoder_rejects_bad_inputs():
    enc = Encoder(20, 16, 2, 32, num_layers=1)
    with pytest.raises(TypeError, match="integer token ids"):
        enc(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"\(batch, seq\)"):
        enc(torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="bool"):
        enc(torch.ones(2, 3, dtype=torch.long), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="src_key_padding_mask must have shape"):
        enc(torch.ones(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.bool))


def test_to_torch_encoder_layer_names_missing_parts():
    class Broken(nn.Module):
        pass

    with pytest.raises(AttributeError, match="self_attn"):
        to_torch_encoder_layer(Broken())


