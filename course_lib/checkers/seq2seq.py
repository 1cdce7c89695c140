"""Checkers for exercises 1.6 (teacher forcing, greedy decoding) and 1.7 (attention in NumPy)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.attention import scaled_dot_product_attention
from course_lib.checkers.core import case, checker
from course_lib.checkers.mistakes import close, expect_close_or_explain, own_rng, seed_cpu
from course_lib.checkers.scripted_reverser import ScriptedReverser
from course_lib.checkers.softmax import stress_rows
from course_lib.data import Vocab, collate_pairs, reversal_task, shift_right
from course_lib.recurrent.seq2seq import (
    build_seq2seq,
    encode_pairs,
    greedy_decode,
    teacher_forcing_loss,
)


def _toy_model_and_batch(attention: bool, seed: int, sharpen: float = 8.0):
    """A small untrained model and a padded batch of six reversal pairs of lengths 2 to 7.

    The output layer (and the encoder) are scaled up by ``sharpen`` so per-token losses and
    greedy choices differ clearly from position to position.
    """
    seed_cpu(seed)
    pairs = [reversal_task(1, n, n, seed=10 * seed + n)[0] for n in (4, 2, 7, 3, 6, 5)]
    vocab = Vocab.build([s for s, _ in pairs] + [t for _, t in pairs])
    model = build_seq2seq(vocab, emb_dim=8, hidden_size=12, attention=attention).eval()
    with torch.no_grad():
        model.decoder.out.weight.mul_(sharpen)
        for p in model.encoder.parameters():
            p.mul_(sharpen**0.5)
    batch = collate_pairs(encode_pairs(pairs, vocab), pad_id=vocab.pad_id)
    return model, batch


def _loss_mistakes(model, batch) -> list[tuple[torch.Tensor, str]]:
    """What the usual wrong teacher-forcing losses return on ``batch``."""
    src, lengths, tgt = batch["src"], batch["src_lengths"], batch["tgt"]
    pad = model.pad_id

    def ce(logits, target, **kw):
        return F.cross_entropy(logits.flatten(0, 1), target.flatten(), **kw)

    with torch.no_grad():
        shifted = shift_right(tgt, model.bos_id)
        logits_ok, _ = model(src, lengths, shifted)
        logits_unshifted, _ = model(src, lengths, tgt)
        logits_no_bos, _ = model(src, lengths, tgt[:, :-1])
        logits_full_length, _ = model(src, torch.full_like(lengths, src.shape[1]), shifted)
        per_token = F.cross_entropy(
            logits_ok.transpose(1, 2), tgt, ignore_index=pad, reduction="none"
        )
        real = (tgt != pad).float()
        per_sequence = ((per_token * real).sum(1) / real.sum(1)).mean()
        return [
            (
                ce(logits_unshifted, tgt, ignore_index=pad),
                "the decoder was fed the target itself, so it can copy the answer: feed it the "
                "target shifted right, <bos> first (shift_right), and predict the unshifted "
                "target.",
            ),
            (
                ce(logits_ok, tgt),
                "padding counts in the loss: pass ignore_index=model.pad_id to F.cross_entropy.",
            ),
            (
                ce(logits_no_bos, tgt[:, 1:], ignore_index=pad),
                "the first target token is never predicted: start the decoder input with <bos> "
                "(model.bos_id) and keep every target token as a label.",
            ),
            (
                ce(logits_ok, tgt, ignore_index=pad, reduction="sum"),
                "the loss is summed: average over the real (non-padding) tokens "
                "(reduction='mean').",
            ),
            (
                ce(logits_full_length, tgt, ignore_index=pad),
                "the source lengths were not used: pass batch['src_lengths'] to the model, so "
                "the encoder stops at each row's last real token and attention skips padding.",
            ),
            (
                per_sequence,
                "the loss is a mean of per-sequence means: average over all real target tokens "
                "of the batch at once (a long target counts more), as F.cross_entropy(..., "
                "ignore_index=pad) does on the flattened logits.",
            ),
        ]


@checker
@own_rng
def check_teacher_forcing_loss(loss_fn, seed: int = 7) -> None:
    """``loss_fn(model, batch)`` must be the teacher-forced cross-entropy, padding ignored.

    Two batches (sources and targets of lengths 2 to 7), compared to within 1e-5 relative.
    """
    for attempt in range(2):
        model, batch = _toy_model_and_batch(attention=True, seed=seed + 1000 * attempt)
        shapes = (
            f"src {tuple(batch['src'].shape)} (lengths {batch['src_lengths'].tolist()}), "
            f"tgt {tuple(batch['tgt'].shape)}"
        )
        what = f"the teacher-forcing loss on a batch with {shapes}"
        with case(what):
            ours = loss_fn(model, batch)
        if not isinstance(ours, torch.Tensor) or ours.dim() != 0:
            raise AssertionError(
                f"{what}: the loss must be a scalar tensor (0-dim), the mean over tokens; got "
                f"{getattr(ours, 'shape', type(ours).__name__)}."
            )
        if not ours.requires_grad:
            raise AssertionError(
                f"{what}: the loss does not require grad: compute it from model(...) outputs "
                "(no torch.no_grad(), .detach() or .item())."
            )
        expected = teacher_forcing_loss(model, batch)
        if close(ours, expected, atol=1e-6, rtol=1e-5):
            continue
        expect_close_or_explain(
            ours,
            expected,
            what,
            _loss_mistakes(model, batch),
            hint="logits = model(src, src_lengths, shift_right(tgt, bos)); cross-entropy "
            "against tgt with ignore_index=pad, averaged over all real tokens.",
            atol=1e-6,
            rtol=1e-5,
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


def _compare_decodes(model, src, lengths, max_len: int, ours, what: str) -> None:
    """Fail naming the first row whose tokens (up to its first <eos>) differ from greedy's."""
    if isinstance(ours, tuple):
        ours = ours[0]
    if not isinstance(ours, torch.Tensor) or ours.dim() != 2 or ours.shape[0] != src.shape[0]:
        raise AssertionError(
            f"{what}: decode should return a tensor of token ids (batch, <= max_len) = "
            f"({src.shape[0]}, <= {max_len}), got {getattr(ours, 'shape', type(ours).__name__)}."
        )
    if ours.shape[1] > max_len:
        raise AssertionError(
            f"{what}: decode produced {ours.shape[1]} tokens; stop at max_len={max_len}."
        )
    expected, _ = greedy_decode(model, src, lengths, max_len)
    eos = model.eos_id
    mistakes = [
        (
            {"feed_bos": True},
            "every step was fed <bos>: feed back the token just predicted (argmax) as the next "
            "input.",
        ),
        (
            {"reset_state": True},
            "the decoder state is reset each step: keep the state returned by model.decoder and "
            "pass it to the next step.",
        ),
    ]
    for row, (got, want) in enumerate(zip(ours.tolist(), expected.tolist(), strict=True)):
        got, want = _first_eos_prefix(got, eos), _first_eos_prefix(want, eos)
        if got == want:
            continue
        where = f"{what}, row {row}: tokens {got} differ from the reference {want}"
        if ours.shape[1] < max_len and eos not in got and want[: len(got)] == got:
            raise AssertionError(
                f"{where}: it was cut off after {ours.shape[1]} tokens.\nHint: the whole batch "
                "stopped when one row produced <eos>. Rows finish at different steps: keep "
                "decoding until every row has produced <eos> (or max_len is reached)."
            )
        prefixes = [_first_eos_prefix(r, eos) for r in ours.tolist()]
        matching = [
            why
            for mistake, why in mistakes
            if [
                _first_eos_prefix(r, eos)
                for r in _wrong_decode(model, src, lengths, max_len, **mistake).tolist()
            ]
            == prefixes
        ]
        if matching:
            raise AssertionError(f"{where}.\nHint: " + "\nOr: ".join(matching))
        raise AssertionError(
            f"{where} (compared up to the first <eos>).\nHint: encode once (model.encode), "
            "start from <bos> and the encoder's state, then at each step call "
            "model.decoder(prev, state, enc.memory, enc.mask), take the argmax of the last "
            "logits and feed it back."
        )


@checker
@own_rng
def check_greedy_decode(decode, seed: int = 11) -> None:
    """``decode(model, src, src_lengths, max_len)`` must give the reference's greedy tokens.

    Run on a scripted model that reverses its source then emits <eos>, at a different step
    in every row, and on an untrained recurrent model with attention.
    """
    gen = torch.Generator().manual_seed(seed)
    sizes = (torch.randperm(6, generator=gen) + 1).tolist()
    pairs = [reversal_task(1, n, n, seed=10 * seed + n)[0] for n in sizes]
    vocab = Vocab.build([s for s, _ in pairs])
    scripted = ScriptedReverser(vocab)
    batch = collate_pairs(encode_pairs(pairs, vocab), pad_id=vocab.pad_id)
    src, lengths = batch["src"], batch["src_lengths"]
    what = (
        f"a model that reverses its source then emits <eos> (source lengths "
        f"{lengths.tolist()}, so <eos> comes at a different step in each row; max_len 6)"
    )
    with case(what):
        ours = decode(scripted, src, lengths, 6)
    _compare_decodes(scripted, src, lengths, 6, ours, what)

    model, batch = _toy_model_and_batch(attention=True, seed=seed)
    src, lengths = batch["src"], batch["src_lengths"]
    what = f"an untrained model, src {tuple(src.shape)}, max_len 9"
    with case(what):
        ours = decode(model, src, lengths, 9)
    _compare_decodes(model, src, lengths, 9, ours, what)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@checker
def check_dot_product_attention(attention, seed: int = 99) -> None:
    """NumPy ``attention(query, keys, values)`` -> ``(context, weights)``, unscaled dot product."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    for shape in ((4, 3, 6, 5), (2, 3, 3, 3)):
        lead, n_q, n_k, d = shape
        q, k, v = (rng.normal(size=(lead, n, d)) for n in (n_q, n_k, n_k))
        cases = (("2-D inputs (no batch)", (q[0], k[0], v[0])), ("batched inputs", (q, k, v)))
        for name, args in cases:
            with case(
                f"attention on {name}: query {args[0].shape}, keys {args[1].shape}, "
                f"values {args[2].shape}"
            ):
                out = attention(*args)
            if not isinstance(out, tuple) or len(out) != 2:
                raise AssertionError("attention must return the pair (context, weights).")
            context, weights = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in out)
            tq, tk, tv = (torch.from_numpy(a) for a in args)
            ref_context, ref_weights = scaled_dot_product_attention(tq, tk, tv, scale=1.0)
            scores = args[0] @ np.swapaxes(args[1], -1, -2)
            mistakes = [
                (
                    torch.from_numpy(_softmax(scores, axis=-2)),
                    "the softmax runs over the queries: normalise each query's row of scores over "
                    "the keys (axis=-1), so every row of weights sums to 1.",
                ),
                (
                    torch.from_numpy(scores),
                    "the weights are the raw scores: turn them into probabilities with a softmax "
                    "over the keys.",
                ),
                (
                    torch.from_numpy(_softmax(scores / np.sqrt(d), axis=-1)),
                    "the scores are scaled by 1/sqrt(d): this exercise is plain dot-product "
                    "attention (the scaled version comes in Module 2).",
                ),
            ]
            expect_close_or_explain(
                weights,
                ref_weights,
                f"the weights ({name})",
                mistakes,
                hint="weights = softmax(query @ keys^T) over the keys axis (-1); use "
                "np.swapaxes(keys, -1, -2) rather than keys.T so batched inputs work.",
            )
            expect_close_or_explain(
                context,
                ref_context,
                f"the context ({name})",
                hint="context = weights @ values: one weighted average of the values per query.",
            )
    # Stability: rows of scores around 0, 1000, -1000 and 300, one spanning 1000 (float64's
    # exp overflows past 709): only subtracting each row's own maximum gets all of them.
    centres = (0.0, 1000.0, -1000.0, 300.0)
    scores = stress_rows(gen, 5, centres, (2.0, 3.0, 1.0, 500.0)).numpy()
    args = (scores, np.eye(5), rng.normal(size=(5, 3)))  # query @ keys^T = scores
    what = f"the weights for scores of shape (4, 5), rows around {list(centres)}"
    with case(what), np.errstate(over="ignore", invalid="ignore", under="ignore"):
        _, weights = attention(*args)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape == scores.shape and not np.isfinite(weights).all():
        rows = np.flatnonzero(~np.isfinite(weights).all(axis=-1)).tolist()
        raise AssertionError(
            f"{what}: rows {rows} gave inf or NaN (scores around "
            f"{[centres[r] for r in rows]}): exp overflows or every term underflows to 0.\n"
            "Hint: subtract each row's own maximum score (max over axis=-1, keepdims=True) "
            "before exponentiating; the softmax is unchanged."
        )
    expect_close_or_explain(
        torch.from_numpy(weights),
        torch.from_numpy(_softmax(scores, axis=-1)),
        what,
        [
            (
                torch.from_numpy(_softmax(np.clip(scores, -500, 500), axis=-1)),
                "the scores were clipped: that changes the weights. Subtract each row's maximum "
                "instead (exact).",
            )
        ],
        hint="subtract each row's own maximum, exponentiate, divide by the row's sum.",
    )
