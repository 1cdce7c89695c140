"""The decoder layer and stack equal PyTorch's (copied weights, dropout off), are causal,
respect padding, and decode incrementally with a key/value cache."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.attention import KeyValueCache, MultiHeadAttention, causal_mask
from course_lib.data import padding_mask
from course_lib.decoder import Decoder, DecoderCache, DecoderLayer
from course_lib.torch_interop import to_torch_decoder_layer

D, HEADS, D_FF, VOCAB = 32, 4, 64, 19


def random_batch(seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 7, D, generator=gen)
    memory = torch.randn(3, 5, D, generator=gen)
    tgt_pad = padding_mask(torch.tensor([7, 4, 6]), 7)
    mem_pad = padding_mask(torch.tensor([5, 2, 3]), 5)
    return x, memory, tgt_pad, mem_pad


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_equals_torch_with_all_masks(seed, norm_first):
    torch.manual_seed(seed)
    layer = DecoderLayer(D, HEADS, D_FF, dropout=0.1, norm_first=norm_first, eps=1e-6).eval()
    for p in layer.parameters():  # LayerNorm weights away from 1 and 0 too
        nn.init.normal_(p, std=0.3)
    theirs = to_torch_decoder_layer(layer).eval()
    assert theirs.norm1.eps == 1e-6 and theirs.norm_first == norm_first
    x, memory, tgt_pad, mem_pad = random_batch(seed)
    tgt_pad = tgt_pad.flip(1)  # left padding: with the causal mask, right padding is unseen
    mask = causal_mask(7)
    ours = layer(x, memory, mask, tgt_pad, mem_pad)
    expected = theirs(x, memory, tgt_mask=mask, tgt_key_padding_mask=tgt_pad,
                      memory_key_padding_mask=mem_pad)
    torch.testing.assert_close(ours[~tgt_pad], expected[~tgt_pad])
    # every mask matters: dropping any one changes the result
    assert not torch.allclose(layer(x, memory, None, tgt_pad, mem_pad)[~tgt_pad], ours[~tgt_pad])
    assert not torch.allclose(layer(x, memory, mask, None, mem_pad)[~tgt_pad], ours[~tgt_pad])
    assert not torch.allclose(layer(x, memory, mask, tgt_pad, None)[~tgt_pad], ours[~tgt_pad])


def test_cross_attention_equals_torch_with_different_lengths():
    torch.manual_seed(0)
    mha = MultiHeadAttention(D, HEADS)
    theirs = mha.to_torch()
    x, memory, _, mem_pad = random_batch(3)
    ours, w = mha(x, memory, memory, key_padding_mask=mem_pad)
    expected, w_theirs = theirs(x, memory, memory, key_padding_mask=mem_pad)
    assert ours.shape == (3, 7, D) and w.shape == (3, 7, 5)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(w, w_theirs)
    assert (w[mem_pad[:, None, :].expand_as(w)] == 0).all()


def test_decoder_layer_returns_weights_per_head():
    layer = DecoderLayer(D, HEADS, D_FF, dropout=0.0).eval()
    x, memory, tgt_pad, mem_pad = random_batch(1)
    out, w_self, w_cross = layer(x, memory, causal_mask(7), tgt_pad, mem_pad, need_weights=True)
    assert w_self.shape == (3, HEADS, 7, 7) and w_cross.shape == (3, HEADS, 7, 5)
    assert (w_self.triu(diagonal=1) == 0).all()
    torch.testing.assert_close(out, layer(x, memory, causal_mask(7), tgt_pad, mem_pad))


def make_decoder(norm_first=False, seed=0):
    torch.manual_seed(seed)
    return Decoder(VOCAB, D, HEADS, D_FF, num_layers=2, dropout=0.0, max_len=32,
                   norm_first=norm_first).eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decoder_is_causal(seed):
    decoder = make_decoder(seed=seed)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (2, 9), generator=gen)
    memory = torch.randn(2, 4, D, generator=gen)
    t = int(torch.randint(0, 9, (1,), generator=gen))
    changed = ids.clone()
    changed[:, t] = changed[:, t] % (VOCAB - 1) + 1
    before, after = decoder(ids, memory), decoder(changed, memory)
    torch.testing.assert_close(before[:, :t], after[:, :t])
    assert not torch.allclose(before[:, t:], after[:, t:])


@pytest.mark.parametrize("norm_first", [False, True])
def test_padding_never_changes_real_positions(norm_first):
    decoder = make_decoder(norm_first)
    ids, memory = torch.randint(1, VOCAB, (1, 5)), torch.randn(1, 4, D)
    mem_padded = torch.cat([memory, torch.randn(1, 3, D)], dim=1)
    ids_padded = torch.cat([ids, torch.zeros(1, 2, dtype=torch.long)], dim=1)
    out = decoder(ids_padded, mem_padded, padding_mask(torch.tensor([4]), 7),
                  padding_mask(torch.tensor([5]), 7))
    torch.testing.assert_close(out[:, :5], decoder(ids, memory))


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_steps_equal_the_full_pass(norm_first):
    decoder = make_decoder(norm_first)
    ids, memory = torch.randint(1, VOCAB, (3, 8)), torch.randn(3, 6, D)
    mem_pad = padding_mask(torch.tensor([6, 3, 5]), 6)
    full = decoder(ids, memory, mem_pad)
    cache = DecoderCache.for_decoder(decoder)
    steps = [decoder(ids[:, t : t + 1], memory, mem_pad, cache=cache) for t in range(8)]
    assert len(cache) == 8
    torch.testing.assert_close(torch.cat(steps, dim=1), full)
    # several new tokens at once after a cached prefix
    cache = DecoderCache.for_decoder(decoder)
    first = decoder(ids[:, :3], memory, mem_pad, cache=cache)
    rest = decoder(ids[:, 3:], memory, mem_pad, cache=cache)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), full)


def test_cross_attention_cache_projects_memory_once():
    mha = MultiHeadAttention(D, HEADS).eval()
    cache = KeyValueCache(static=True)
    memory = torch.randn(2, 5, D)
    calls = []
    mha.k_proj.register_forward_hook(lambda *args: calls.append(1))
    for _ in range(3):
        mha(torch.randn(2, 1, D), memory, memory, cache=cache)
    assert len(calls) == 1 and len(cache) == 5


def test_bad_inputs_have_clear_errors():
    decoder = make_decoder()
    with pytest.raises(ValueError, match="batch, seq"):
        decoder(torch.zeros(4, dtype=torch.long), torch.randn(1, 3, D))
    with pytest.raises(TypeError, match="bool"):
        decoder(torch.zeros(1, 4, dtype=torch.long), torch.randn(1, 3, D),
                memory_key_padding_mask=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="tgt_key_padding_mask must have shape"):
        decoder(torch.zeros(1, 4, dtype=torch.long), torch.randn(1, 3, D),
                tgt_key_padding_mask=torch.zeros(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="memory_key_padding_mask must have shape"):
        decoder(torch.zeros(1, 4, dtype=torch.long), torch.randn(1, 3, D),
                memory_key_padding_mask=torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="batch, seq"):
        DecoderLayer(D, HEADS, D_FF)(torch.randn(4, D), torch.randn(1, 3, D))
    with pytest.raises(ValueError, match="max_len"):
        decoder(torch.zeros(1, 40, dtype=torch.long), torch.randn(1, 3, D))
