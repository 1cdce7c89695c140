"""The decoder-only language model: causal, equal to PyTorch's layers, padding-safe, learns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import causal_mask
from course_lib.data import padding_mask
from course_lib.feed_forward import PositionwiseFeedForward
from course_lib.language_model import (
    DecoderOnlyLM,
    LSTMLanguageModel,
    language_model_loss,
    perplexity,
    random_windows,
    train_language_model,
)
from course_lib.sampling import filter_logits
from course_lib.torch_interop import to_torch_encoder_layer

VOCAB, D, HEADS, D_FF = 23, 32, 4, 64


def make_lm(**kwargs) -> DecoderOnlyLM:
    torch.manual_seed(0)
    options = dict(dropout=0.0, max_len=16)
    options.update(kwargs)
    return DecoderOnlyLM(VOCAB, D, HEADS, D_FF, num_layers=2, **options).eval()


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh"])
def test_feed_forward_activations(activation):
    torch.manual_seed(0)
    ffn = PositionwiseFeedForward(D, D_FF, dropout=0.0, activation=activation)
    x = torch.randn(2, 3, D)
    hidden = x @ ffn.linear1.weight.T + ffn.linear1.bias
    cube = hidden + 0.044715 * hidden**3
    act = {
        "relu": F.relu(hidden),
        "gelu": F.gelu(hidden),
        "gelu_tanh": 0.5 * hidden * (1 + torch.tanh((2 / torch.pi) ** 0.5 * cube)),
    }[activation]
    torch.testing.assert_close(ffn(x), act @ ffn.linear2.weight.T + ffn.linear2.bias)
    with pytest.raises(ValueError, match="activation must be one of"):
        PositionwiseFeedForward(D, D_FF, activation="swish")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_changing_token_t_never_changes_logits_before_t(seed, positional):
    lm = make_lm(positional=positional)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (3, 12), generator=gen)
    t = int(torch.randint(1, 12, (1,), generator=gen))
    changed = ids.clone()
    changed[:, t] = (changed[:, t] + 1) % VOCAB
    before, after = lm(ids), lm(changed)
    torch.testing.assert_close(before[:, :t], after[:, :t])
    assert not torch.allclose(before[:, t:], after[:, t:])


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh"])
def test_layers_equal_torch_encoder_layer_with_causal_mask(norm_first, activation):
    lm = make_lm(norm_first=norm_first, activation=activation, positional="sinusoidal")
    ids = torch.randint(0, VOCAB, (2, 10))
    pad = padding_mask(torch.tensor([10, 6]), 10)
    x = lm.positional(lm.token_embedding(ids))
    for layer in lm.layers:
        theirs = to_torch_encoder_layer(layer).eval()
        expected = theirs(x, src_mask=causal_mask(10), src_key_padding_mask=pad)
        x = layer(x, key_padding_mask=pad, attn_mask=causal_mask(10))
        torch.testing.assert_close(x[~pad], expected[~pad])
    torch.testing.assert_close(lm(ids, pad)[~pad], lm.lm_head(lm.final_norm(x))[~pad])


def test_tied_head_and_parameter_count():
    lm = make_lm()
    assert lm.lm_head.weight is lm.token_embedding.weight
    per_layer = 4 * (D * D + D) + (D * D_FF + D_FF) + (D_FF * D + D) + 2 * 2 * D
    expected = VOCAB * D + 16 * D + 2 * per_layer + 2 * D
    assert sum(p.numel() for p in lm.parameters()) == expected
    untied = make_lm(tie_weights=False, final_norm=False)
    assert sum(p.numel() for p in untied.parameters()) == expected + VOCAB * D - 2 * D


def test_embedding_scale_option():
    lm = make_lm(scale_embeddings=True, positional="sinusoidal", tie_weights=False)
    plain = make_lm(scale_embeddings=False, positional="sinusoidal", tie_weights=False)
    plain.load_state_dict(lm.state_dict())
    ids = torch.randint(0, VOCAB, (2, 5))
    assert not torch.allclose(lm(ids), plain(ids))
    with torch.no_grad():
        plain.token_embedding.weight.mul_(D**0.5)
    torch.testing.assert_close(lm(ids), plain(ids))


def test_right_padding_never_changes_real_positions():
    lm = make_lm()
    ids = torch.randint(1, VOCAB, (1, 7))
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    mask = padding_mask(torch.tensor([7]), 11)
    torch.testing.assert_close(lm(padded, mask)[:, :7], lm(ids))


def test_bad_inputs_have_clear_errors():
    lm = make_lm()
    with pytest.raises(ValueError, match="max_len=16"):
        lm(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(TypeError, match="integer token ids"):
        lm(torch.zeros(1, 5))
    with pytest.raises(ValueError, match="batch, seq"):
        lm(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="positional"):
        DecoderOnlyLM(VOCAB, D, HEADS, D_FF, 1, 8, positional="rotary")


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = filter_logits(logits, top_k=2).isfinite()
    assert kept.tolist() == [[True, True, False, False]]
    assert filter_logits(logits, top_p=0.8).isfinite().tolist() == [[True, True, False, False]]
    assert filter_logits(logits, top_p=0.81).isfinite().tolist() == [[True, True, True, False]]
    assert filter_logits(logits, top_p=0.1).isfinite().tolist() == [[True, False, False, False]]
    shuffled = logits[:, [2, 0, 3, 1]]
    assert filter_logits(shuffled, top_p=0.8).isfinite().tolist() == [[False, True, False, True]]
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(logits, top_p=0.0)


def test_generate_greedy_equals_argmax_loop_and_sampling_is_seeded():
    lm = make_lm()
    prompt = torch.randint(0, VOCAB, (2, 3))
    out = lm.generate(prompt, 20, temperature=0)
    assert out.shape == (2, 23) and torch.equal(out[:, :3], prompt)
    ids = prompt
    for _ in range(20):
        ids = torch.cat([ids, lm(ids[:, -16:])[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids)
    assert torch.equal(lm.generate(prompt, 20, top_k=1), out)
    one = lm.generate(prompt, 10, generator=torch.Generator().manual_seed(3))
    two = lm.generate(prompt, 10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(one, two)


def test_learns_a_repeating_sequence():
    lm = make_lm(max_len=32)
    lm.train()
    pattern = torch.arange(1, 9).repeat(5)[None, :33].repeat(4, 1)
    opt = torch.optim.AdamW(lm.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss = language_model_loss(lm, {"ids": pattern})
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 2.5 and loss.item() < 0.1
    lm.eval()
    continuation = lm.generate(pattern[:1, :4], 8, temperature=0)[0, 4:]
    assert continuation.tolist() == [5, 6, 7, 8, 1, 2, 3, 4]


def test_loss_ignores_padded_targets():
    lm = make_lm()
    ids = torch.randint(1, VOCAB, (1, 6))
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    mask = padding_mask(torch.tensor([6]), 9)
    torch.testing.assert_close(
        language_model_loss(lm, {"ids": padded, "padding_mask": mask}),
        language_model_loss(lm, {"ids": ids}),
    )


def test_nn_embedding_padding_idx():
    lm = make_lm(pad_id=0)
    assert isinstance(lm.token_embedding, nn.Embedding) and lm.token_embedding.padding_idx == 0


def test_without_causal_mask_the_future_leaks():
    lm = make_lm(causal=False)
    ids = torch.randint(0, VOCAB, (2, 8))
    changed = ids.clone()
    changed[:, 5] = (changed[:, 5] + 1) % VOCAB
    assert not torch.allclose(lm(ids)[:, :5], lm(changed)[:, :5])


def test_random_windows_and_perplexity():
    data = torch.arange(100) % VOCAB
    windows = random_windows(data, 5, 9, torch.Generator().manual_seed(0))
    assert windows.shape == (5, 10)
    assert ((windows[:, 1:] - windows[:, :-1]) % VOCAB == 1).all()  # consecutive slices
    uniform = perplexity(lambda x: torch.zeros(*x.shape, VOCAB), data, window=8)
    assert abs(uniform - VOCAB) < 1e-3
    perfect = perplexity(lambda x: F.one_hot((x + 1) % VOCAB, VOCAB).float() * 50, data, 8)
    assert perfect < 1.001
    with pytest.raises(ValueError, match="longer than window"):
        random_windows(data[:5], 2, 8, torch.Generator())


def test_per_character_perplexity_divides_by_the_characters_predicted():
    data = torch.arange(1, 41) % VOCAB  # 40 ids: 4 windows of 9 predict ids 1..36
    lengths = torch.arange(VOCAB) % 3  # a token stands for 0, 1 or 2 characters
    uniform = lambda x: torch.zeros(*x.shape, VOCAB)  # noqa: E731
    predicted_chars = lengths[data[1:37]].sum().item()
    expected = torch.exp(36 * torch.log(torch.tensor(float(VOCAB))) / predicted_chars).item()
    got = perplexity(uniform, data, window=9, batch_size=3, token_lengths=lengths)
    assert got == pytest.approx(expected, rel=1e-5)
    # one character per token: the per-token perplexity
    ones = torch.ones(VOCAB, dtype=torch.long)
    lm = make_lm(max_len=9)
    assert perplexity(lm, data, 9, token_lengths=ones) == pytest.approx(perplexity(lm, data, 9))
    with pytest.raises(ValueError, match="one entry per token id"):
        perplexity(uniform, data, 9, token_lengths=torch.ones(VOCAB + 1))
    with pytest.raises(ValueError, match="no characters"):
        perplexity(uniform, data, 9, token_lengths=torch.zeros(VOCAB, dtype=torch.long))


def test_lstm_language_model_has_the_decoder_only_interface_and_is_causal():
    torch.manual_seed(0)
    lstm = LSTMLanguageModel(VOCAB, 8, 16).eval()
    ids = torch.randint(0, VOCAB, (3, 7))
    logits = lstm(ids)
    assert logits.shape == (3, 7, VOCAB)
    changed = ids.clone()
    changed[:, 4] = (changed[:, 4] + 1) % VOCAB
    torch.testing.assert_close(lstm(changed)[:, :4], logits[:, :4])
    assert not torch.allclose(lstm(changed)[:, 4:], logits[:, 4:])
    assert lstm.rnn.embedding.padding_idx is None  # every id a real token by default
    assert LSTMLanguageModel(VOCAB, 8, 16, pad_id=0).rnn.embedding.padding_idx == 0
    with pytest.raises(TypeError, match="integer token ids"):
        lstm(ids.float())
    with pytest.raises(ValueError, match="batch, seq"):
        lstm(ids[0])


@pytest.mark.parametrize("model_kind", ["transformer", "lstm"])
def test_train_language_model_learns_and_is_reproducible(model_kind):
    data = torch.arange(1, 9).repeat(60)  # a cycle of 8 tokens: learnable to near 0 loss

    def trained(seed):
        torch.manual_seed(seed)
        model = make_lm(max_len=16).train() if model_kind == "transformer" else LSTMLanguageModel(
            VOCAB, 8, 32)
        return model, train_language_model(model, data, 120, 16, 8, 1e-2, seed=seed)

    model, held_out = trained(0)
    assert held_out < 0.3 < language_model_loss(make_lm(max_len=16), {"ids": data[None, :17]})
    assert not model.training
    assert trained(0)[1] == held_out  # same seed, same batches and weights
    with pytest.raises(ValueError, match="exceed the 20 held-out"):
        train_language_model(model, data, 20, 16, 8, 1e-2)


def test_the_gpt_is_built_from_the_encoders_block():
    from course_lib.encoder import EncoderLayer, TransformerBlock

    assert EncoderLayer is TransformerBlock  # Module 3's name for the same class
    assert all(type(layer) is TransformerBlock for layer in make_lm().layers)
