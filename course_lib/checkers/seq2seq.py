"""Checkers for exercises 1.6 (teacher forcing, greedy decoding) and 1.7 (attention in NumPy)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.attention import scaled_dot_product_attention
from course_lib.checkers.core import checker
from course_lib.checkers.mistakes import expect_close_or_explain, own_rng
from course_lib.data import Vocab, collate_pairs, reversal_task
from course_lib.seq2seq import (
    build_seq2seq,
    encode_pairs,
    greedy_decode,
    shift_right,
    teacher_forcing_loss,
)


def _toy_model_and_batch(attention: bool, seed: int):
    """A small untrained model and a padded batch of reversal pairs (lengths differ)."""
    torch.manual_seed(seed)
    pairs = reversal_task(6, min_len=2, max_len=7, seed=seed)
    vocab = Vocab.build([s for s, _ in pairs] + [t for _, t in pairs])
    model = build_seq2seq(vocab, emb_dim=8, hidden_size=12, attention=attention).eval()
    batch = collate_pairs(encode_pairs(pairs, vocab), pad_id=vocab.pad_id)
    return model, batch


@checker
@own_rng
def check_teacher_forcing_loss(loss_fn) -> None:
    """``loss_fn(model, batch)`` must be the teacher-forced cross-entropy, padding ignored."""
    model, batch = _toy_model_and_batch(attention=True, seed=7)
    src, lengths, tgt = batch["src"], batch["src_lengths"], batch["tgt"]
    ours = loss_fn(model, batch)
    if not isinstance(ours, torch.Tensor) or ours.dim() != 0:
        raise AssertionError("the loss must be a scalar tensor (0-dim), the mean over tokens.")
    if not ours.requires_grad:
        raise AssertionError("the loss does not require grad: compute it from model(...) outputs.")
    expected = teacher_forcing_loss(model, batch)

    def ce(logits, target, **kw):
        return F.cross_entropy(logits.flatten(0, 1), target.flatten(), **kw)

    pad = model.pad_id
    shifted = shift_right(tgt, model.bos_id)
    logits_ok, _ = model(src, lengths, shifted)
    logits_unshifted, _ = model(src, lengths, tgt)
    logits_no_bos, _ = model(src, lengths, tgt[:, :-1])
    mistakes = [
        (ce(logits_unshifted, tgt, ignore_index=pad),
         "the decoder was fed the target itself, so it can copy the answer: feed it the target "
         "shifted right, <bos> first (shift_right), and predict the unshifted target."),
        (ce(logits_ok, tgt),
         "padding counts in the loss: pass ignore_index=model.pad_id to F.cross_entropy."),
        (ce(logits_no_bos, tgt[:, 1:], ignore_index=pad),
         "the first target token is never predicted: start the decoder input with <bos> "
         "(model.bos_id) and keep every target token as a label."),
        (ce(logits_ok, tgt, ignore_index=pad, reduction="sum"),
         "the loss is summed: average over the real (non-padding) tokens (reduction='mean')."),
    ]
    expect_close_or_explain(
        ours, expected, "the teacher-forcing loss", mistakes,
        hint="logits = model(src, src_lengths, shift_right(tgt, bos)); cross-entropy against "
        "tgt with ignore_index=pad.",
    )


def _first_eos_prefix(row: list[int], eos_id: int) -> list[int]:
    return row[: row.index(eos_id) + 1] if eos_id in row else row


@torch.no_grad()
def _wrong_decode(model, src, lengths, max_len, feed_bos=False, reset_state=False):
    enc = model.encode(src, lengths)
    prev = torch.full((src.shape[0], 1), model.bos_id, dtype=torch.long)
    state, out = enc.state, []
    for _ in range(max_len):
        logits, new_state, _ = model.decoder(prev, state, enc.memory, enc.mask)
        token = logits[:, -1].argmax(dim=-1, keepdim=True)
        out.append(token)
        prev = prev if feed_bos else token
        state = state if reset_state else new_state
    return torch.cat(out, dim=1)


@checker
@own_rng
def check_greedy_decode(decode) -> None:
    """``decode(model, src, src_lengths, max_len)`` must give the reference's greedy tokens."""
    model, batch = _toy_model_and_batch(attention=True, seed=11)
    # sharpen the untrained model so the greedy choice is unambiguous
    with torch.no_grad():
        model.decoder.out.weight.mul_(8.0)
    src, lengths, max_len = batch["src"], batch["src_lengths"], 9
    ours = decode(model, src, lengths, max_len)
    if isinstance(ours, tuple):
        ours = ours[0]
    if not isinstance(ours, torch.Tensor) or ours.dim() != 2 or ours.shape[0] != src.shape[0]:
        raise AssertionError(
            f"decode should return a tensor of token ids (batch, <= max_len) = "
            f"({src.shape[0]}, <= {max_len}), got {getattr(ours, 'shape', type(ours).__name__)}."
        )
    if ours.shape[1] > max_len:
        raise AssertionError(f"decode produced {ours.shape[1]} tokens; stop at max_len={max_len}.")
    expected, _ = greedy_decode(model, src, lengths, max_len)
    eos = model.eos_id
    mistakes = [
        (_wrong_decode(model, src, lengths, max_len, feed_bos=True),
         "every step was fed <bos>: feed back the token just predicted (argmax) as the next "
         "input."),
        (_wrong_decode(model, src, lengths, max_len, reset_state=True),
         "the decoder state is reset each step: keep the state returned by model.decoder and "
         "pass it to the next step."),
    ]
    for row, (got, want) in enumerate(zip(ours.tolist(), expected.tolist(), strict=True)):
        got, want = _first_eos_prefix(got, eos), _first_eos_prefix(want, eos)
        if got == want:
            continue
        for wrong, why in mistakes:
            if _first_eos_prefix(wrong[row].tolist(), eos) == got:
                raise AssertionError(
                    f"row {row}: tokens {got} differ from the reference {want}.\nHint: {why}"
                )
        raise AssertionError(
            f"row {row}: tokens {got} differ from the reference {want} (compared up to the first "
            "<eos>).\nHint: encode once (model.encode), start from <bos> and the encoder's state, "
            "then at each step call model.decoder(prev, state, enc.memory, enc.mask), take the "
            "argmax of the last logits and feed it back."
        )


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@checker
def check_dot_product_attention(attention) -> None:
    """NumPy ``attention(query, keys, values)`` -> ``(context, weights)``, unscaled dot product."""
    rng = np.random.default_rng(99)
    for shape in ((4, 3, 6, 5), (2, 3, 3, 3)):
        lead, n_q, n_k, d = shape
        q, k, v = (rng.normal(size=(lead, n, d)) for n in (n_q, n_k, n_k))
        cases = (("2-D inputs (no batch)", (q[0], k[0], v[0])), ("batched inputs", (q, k, v)))
        for name, args in cases:
            out = attention(*args)
            if not isinstance(out, tuple) or len(out) != 2:
                raise AssertionError("attention must return the pair (context, weights).")
            context, weights = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in out)
            tq, tk, tv = (torch.from_numpy(a) for a in args)
            ref_context, ref_weights = scaled_dot_product_attention(tq, tk, tv, scale=1.0)
            scores = args[0] @ np.swapaxes(args[1], -1, -2)
            mistakes = [
                (torch.from_numpy(_softmax(scores, axis=-2)),
                 "the softmax runs over the queries: normalise each query's row of scores over "
                 "the keys (axis=-1), so every row of weights sums to 1."),
                (torch.from_numpy(scores),
                 "the weights are the raw scores: turn them into probabilities with a softmax "
                 "over the keys."),
                (torch.from_numpy(_softmax(scores / np.sqrt(d), axis=-1)),
                 "the scores are scaled by 1/sqrt(d): this exercise is plain dot-product "
                 "attention (the scaled version comes in Module 2)."),
            ]
            expect_close_or_explain(
                weights, ref_weights, f"the weights ({name})", mistakes,
                hint="weights = softmax(query @ keys^T) over the keys axis (-1); use "
                "np.swapaxes(keys, -1, -2) rather than keys.T so batched inputs work.",
            )
            expect_close_or_explain(
                context, ref_context, f"the context ({name})",
                hint="context = weights @ values: one weighted average of the values per query.",
            )
    big = (np.full((1, 4), 30.0), np.eye(4) * 30.0, np.eye(4))
    _, weights = attention(*big)
    if not np.isfinite(np.asarray(weights)).all():
        raise AssertionError(
            "scores of about 900 gave inf or NaN: exp overflows. Subtract each row's maximum "
            "score before exponentiating (the softmax is unchanged)."
        )
