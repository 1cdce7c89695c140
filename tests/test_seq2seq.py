"""Encoder-decoder models, the attention they use, and the checkers of exercises 1.6 and 1.7."""

from __future__ import annotations

import string

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.checkers import STUB_MARKER, CheckFailed
from course_lib.checkers.seq2seq import (
    check_dot_product_attention,
    check_greedy_decode,
    check_teacher_forcing_loss,
)
from course_lib.data import Vocab, collate_pairs, reversal_task, shift_right
from course_lib.recurrent.seq2seq import (
    RecurrentAttentionDecoder,
    RecurrentDecoder,
    build_seq2seq,
    char_accuracy,
    encode_pairs,
    exact_match_by_length,
    greedy_decode,
    recurrent_predict_strings,
    teacher_forcing_loss,
)

VOCAB = Vocab.build(string.ascii_lowercase)

ACROSS_SEEDS = [{}] + [{"seed": seed} for seed in range(20)]


def _batch(n=5, seed=0):
    pairs = reversal_task(n, min_len=2, max_len=8, seed=seed)
    return pairs, collate_pairs(encode_pairs(pairs, VOCAB))


@pytest.mark.parametrize("attention", [False, True])
def test_shapes_and_decoder_type(attention):
    torch.manual_seed(0)
    model = build_seq2seq(VOCAB, emb_dim=8, hidden_size=16, attention=attention)
    assert isinstance(model.decoder, RecurrentAttentionDecoder if attention else RecurrentDecoder)
    _, batch = _batch()
    tgt_in = shift_right(batch["tgt"], VOCAB.bos_id)
    logits, weights = model(batch["src"], batch["src_lengths"], tgt_in)
    (n, tgt_len), src_len = batch["tgt"].shape, batch["src"].shape[1]
    assert logits.shape == (n, tgt_len, len(VOCAB))
    if attention:
        assert weights.shape == (n, tgt_len, src_len)
    else:
        assert weights is None


def test_attention_weights_are_a_distribution_over_real_positions():
    torch.manual_seed(1)
    model = build_seq2seq(VOCAB, emb_dim=8, hidden_size=16, attention=True).eval()
    _, batch = _batch(n=8)
    _, weights = greedy_decode(model, batch["src"], batch["src_lengths"], max_len=6)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(weights.shape[:2]))
    masked = batch["src_key_padding_mask"][:, None, :].expand_as(weights)
    assert masked.any(), "the batch should contain padding"
    assert (weights[masked] == 0).all()


def test_encoder_final_state_ignores_padding():
    torch.manual_seed(2)
    model = build_seq2seq(VOCAB, emb_dim=8, hidden_size=16).eval()
    src = torch.tensor([VOCAB.encode("abc")])
    padded = torch.tensor([VOCAB.encode("abc") + [VOCAB.pad_id] * 4])
    a = model.encode(src, torch.tensor([3]))
    b = model.encode(padded, torch.tensor([3]))
    torch.testing.assert_close(a.state[0], b.state[0])
    torch.testing.assert_close(a.memory, b.memory[:, :3])
    assert (b.memory[:, 3:] == 0).all()


def test_shift_right():
    tgt = torch.tensor([[5, 6, 2], [7, 2, 0]])
    assert shift_right(tgt, bos_id=1).tolist() == [[1, 5, 6], [1, 7, 2]]


def test_teacher_forcing_matches_greedy_steps():
    """Feeding the greedy output back as teacher input reproduces the greedy logits."""
    torch.manual_seed(3)
    model = build_seq2seq(VOCAB, emb_dim=8, hidden_size=16, attention=True).eval()
    _, batch = _batch()
    ids, weights = greedy_decode(model, batch["src"], batch["src_lengths"], max_len=5)
    with torch.no_grad():
        tgt_in = shift_right(ids, VOCAB.bos_id)
        logits, tf_weights = model(batch["src"], batch["src_lengths"], tgt_in)
    assert (logits.argmax(-1) == ids).all()
    torch.testing.assert_close(tf_weights, weights)


def test_training_learns_short_reversal():
    torch.manual_seed(4)
    pairs = reversal_task(200, 2, 4, alphabet="abcde", seed=5)
    vocab = Vocab.build("abcde")
    model = build_seq2seq(vocab, emb_dim=8, hidden_size=24, attention=True)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    batch = collate_pairs(encode_pairs(pairs, vocab))
    for _ in range(60):
        loss = teacher_forcing_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    preds = recurrent_predict_strings(model, [s for s, _ in pairs[:100]], vocab, max_len=6)
    assert char_accuracy(pairs[:100], preds) > 0.9


def test_exact_match_by_length_and_char_accuracy():
    pairs = [("ab", "ba"), ("cd", "dc"), ("abc", "cba")]
    preds = ["ba", "cc", "cbx"]
    assert exact_match_by_length(pairs, preds) == {2: 0.5, 3: 0.0}
    assert char_accuracy(pairs, preds) == pytest.approx(5 / 7)
    with pytest.raises(ValueError, match="predictions"):
        exact_match_by_length(pairs, preds[:2])


def test_encoder_rejects_float_ids():
    model = build_seq2seq(VOCAB, emb_dim=4, hidden_size=4)
    with pytest.raises(ValueError, match="int64"):
        model.encode(torch.zeros(2, 3), torch.tensor([3, 3]))


# --- checkers ---------------------------------------------------------------------------


def _raise(*args, **kwargs):
    raise NotImplementedError(STUB_MARKER)


def test_checkers_accept_references_and_report_stubs():
    from course_lib.attention import scaled_dot_product_attention

    def numpy_attention(q, k, v):
        out, w = scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)), scale=1.0)
        return out.numpy(), w.numpy()

    assert check_teacher_forcing_loss(teacher_forcing_loss)  # truthy: passed
    assert check_greedy_decode(greedy_decode)  # truthy: passed
    assert check_greedy_decode(lambda *a: greedy_decode(*a)[0])  # truthy: passed
    assert check_dot_product_attention(numpy_attention)  # truthy: passed
    for check in (check_teacher_forcing_loss, check_greedy_decode, check_dot_product_attention):
        assert not check(_raise)  # falsy: not attempted


def _loss_unshifted(model, batch):
    logits, _ = model(batch["src"], batch["src_lengths"], batch["tgt"])
    return F.cross_entropy(logits.flatten(0, 1), batch["tgt"].flatten(), ignore_index=model.pad_id)


def _loss_with_padding(model, batch):
    logits, _ = model(batch["src"], batch["src_lengths"], shift_right(batch["tgt"], model.bos_id))
    return F.cross_entropy(logits.flatten(0, 1), batch["tgt"].flatten())


def _loss_no_bos(model, batch):
    tgt = batch["tgt"]
    logits, _ = model(batch["src"], batch["src_lengths"], tgt[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=model.pad_id)


def _loss_ignoring_lengths(model, batch):
    src, tgt = batch["src"], batch["tgt"]
    full = torch.full_like(batch["src_lengths"], src.shape[1])
    logits, _ = model(src, full, shift_right(tgt, model.bos_id))
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=model.pad_id)


def _loss_per_sequence_mean(model, batch):
    tgt = batch["tgt"]
    logits, _ = model(batch["src"], batch["src_lengths"], shift_right(tgt, model.bos_id))
    per_token = F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none")
    real = (tgt != model.pad_id).float()
    return ((per_token * real).sum(1) / real.sum(1)).mean()


def _loss_detached(model, batch):
    return teacher_forcing_loss(model, batch).detach()


def _loss_by_gather(model, batch):
    """Correct, written differently: log_softmax, gather, a boolean mask."""
    tgt = batch["tgt"]
    tgt_in = torch.cat([torch.full_like(tgt[:, :1], model.bos_id), tgt[:, :-1]], dim=1)
    logits, _ = model(batch["src"], batch["src_lengths"], tgt_in)
    log_p = logits.log_softmax(-1).gather(-1, tgt[..., None])[..., 0]
    real = tgt != model.pad_id
    return -log_p[real].sum() / real.sum()


def test_teacher_forcing_checker_accepts_a_different_formula():
    assert check_teacher_forcing_loss(_loss_by_gather)


@pytest.mark.parametrize(
    "loss_fn, hint",
    [
        (_loss_ignoring_lengths, "source lengths were not used"),
        (_loss_per_sequence_mean, "mean of per-sequence means"),
        (_loss_detached, "does not require grad"),
        (_loss_unshifted, "fed the target itself"),
        (_loss_with_padding, "padding counts"),
        (_loss_no_bos, "never predicted"),
    ],
)
def test_check_teacher_forcing_loss_names_mistakes(loss_fn, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_teacher_forcing_loss(loss_fn, **kwargs)


def _decode_feeding_bos(model, src, lengths, max_len):
    enc = model.encode(src, lengths)
    bos = torch.full((src.shape[0], 1), model.bos_id)
    state, out = enc.state, []
    for _ in range(max_len):
        logits, state, _ = model.decoder(bos, state, enc.memory, enc.mask)
        out.append(logits[:, -1].argmax(-1, keepdim=True))
    return torch.cat(out, 1)


def _decode_resetting_state(model, src, lengths, max_len):
    enc = model.encode(src, lengths)
    prev = torch.full((src.shape[0], 1), model.bos_id)
    out = []
    for _ in range(max_len):
        logits, _, _ = model.decoder(prev, enc.state, enc.memory, enc.mask)
        prev = logits[:, -1].argmax(-1, keepdim=True)
        out.append(prev)
    return torch.cat(out, 1)


def _decode_until_first_eos(model, src, lengths, max_len):
    enc = model.encode(src, lengths)
    prev = torch.full((src.shape[0], 1), model.bos_id)
    state, out = enc.state, []
    for _ in range(max_len):
        logits, state, _ = model.decoder(prev, state, enc.memory, enc.mask)
        prev = logits[:, -1].argmax(-1, keepdim=True)
        out.append(prev)
        if (prev == model.eos_id).any():
            break
    return torch.cat(out, 1)


def _decode_without_mask(model, src, lengths, max_len):
    enc = model.encode(src, lengths)
    prev = torch.full((src.shape[0], 1), model.bos_id)
    state, out = enc.state, []
    for _ in range(max_len):
        logits, state, _ = model.decoder(prev, state, enc.memory, None)
        prev = logits[:, -1].argmax(-1, keepdim=True)
        out.append(prev)
    return torch.cat(out, 1)


def _decode_stopping_rows(model, src, lengths, max_len):
    """Correct, written differently: finished rows get padding; stops when all are done."""
    enc = model.encode(src, lengths)
    prev = torch.full((src.shape[0], 1), model.bos_id)
    state, out = enc.state, []
    done = torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(max_len):
        logits, state, _ = model.decoder(prev, state, enc.memory, enc.mask)
        token = logits[:, -1].argmax(-1, keepdim=True).masked_fill(done[:, None], model.pad_id)
        out.append(token)
        done |= token[:, 0] == model.eos_id
        prev = token
        if done.all():
            break
    return torch.cat(out, 1)


def _decode_refeeding_prefix(model, src, lengths, max_len):
    """Correct, written differently: re-runs the decoder over the whole prefix each step."""
    enc = model.encode(src, lengths)
    tokens = torch.full((src.shape[0], 1), model.bos_id)
    for _ in range(max_len):
        logits, _, _ = model.decoder(tokens, enc.state, enc.memory, enc.mask)
        tokens = torch.cat([tokens, logits[:, -1:].argmax(-1)], dim=1)
    return tokens[:, 1:]


@pytest.mark.parametrize("decode", [_decode_stopping_rows, _decode_refeeding_prefix])
def test_greedy_checker_accepts_other_loops(decode):
    assert check_greedy_decode(decode)


@pytest.mark.parametrize(
    "decode, hint",
    [
        (_decode_feeding_bos, "fed <bos>"),
        (_decode_resetting_state, "state is reset"),
        (_decode_until_first_eos, "whole batch stopped when one row produced <eos>"),
        (_decode_without_mask, "differ from the reference"),
    ],
)
def test_check_greedy_decode_names_mistakes(decode, hint):
    for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
        with pytest.raises(CheckFailed, match=hint):
            check_greedy_decode(decode, **kwargs)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _attention_wrong_axis(q, k, v):
    w = _softmax(q @ np.swapaxes(k, -1, -2), axis=-2)
    return w @ v, w


def _attention_no_softmax(q, k, v):
    w = q @ np.swapaxes(k, -1, -2)
    return w @ v, w


def _attention_scaled(q, k, v):
    w = _softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]), axis=-1)
    return w @ v, w


def _attention_unstable(q, k, v):
    e = np.exp(q @ np.swapaxes(k, -1, -2))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ v, w


def _attention_global_max(q, k, v):
    scores = q @ np.swapaxes(k, -1, -2)
    e = np.exp(scores - scores.max())
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ v, w


def _attention_min_shift(q, k, v):
    scores = q @ np.swapaxes(k, -1, -2)
    e = np.exp(scores - scores.min(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ v, w


def _attention_clipped(q, k, v):
    e = np.exp(np.clip(q @ np.swapaxes(k, -1, -2), -500, 500))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ v, w


def _attention_by_logsumexp(q, k, v):
    """Correct, written differently: einsum and log-sum-exp."""
    scores = np.einsum("...qd,...kd->...qk", q, k)
    top = scores.max(axis=-1, keepdims=True)
    log_z = top + np.log(np.exp(scores - top).sum(axis=-1, keepdims=True))
    w = np.exp(scores - log_z)
    return np.einsum("...qk,...kd->...qd", w, v), w


def test_dot_product_attention_checker_accepts_logsumexp():
    assert check_dot_product_attention(_attention_by_logsumexp)


@pytest.mark.parametrize(
    "attention, hint",
    [
        (_attention_global_max, r"(?s)gave inf or NaN.*each row's own maximum"),
        (_attention_min_shift, r"(?s)rows \[3\] gave inf or NaN.*each row's own maximum"),
        (_attention_clipped, "scores were clipped"),
        (_attention_wrong_axis, "over the queries"),
        (_attention_no_softmax, "raw scores"),
        (_attention_scaled, "scaled by 1/sqrt"),
        (_attention_unstable, "overflows"),
    ],
)
def test_check_dot_product_attention_names_mistakes(attention, hint):
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for kwargs in ACROSS_SEEDS:  # the default seed, then 20 others
            with pytest.raises(CheckFailed, match=hint):
                check_dot_product_attention(attention, **kwargs)


def test_accuracy_by_length_is_drawn_with_plot_history():
    from course_lib.plots import plot_history

    by_length = {3: 1.0, 4: 0.5, 6: 0.25}
    curves = {"exact match": list(by_length.values())}
    fig = plot_history(curves, "source length", x=list(by_length))
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [3, 4, 6]
    with pytest.raises(ValueError, match="x has 2"):
        plot_history({"exact match": [1.0, 0.5, 0.2]}, x=[3, 4])
