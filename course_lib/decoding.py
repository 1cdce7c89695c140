"""Module 4: a trained encoder-decoder Transformer into output sequences, greedy and beam search.

(The recurrent model of Module 1 decodes with ``course_lib.recurrent.seq2seq.greedy_decode``.)

Both work on any model with the interface of :class:`course_lib.transformer.Transformer`:
``encode(src, src_key_padding_mask) -> memory``, ``decode(tgt_in, memory,
memory_key_padding_mask, cache=...) -> logits`` and ``new_cache()``, plus its ``pad_id``.

With ``use_cache=True`` each step feeds only the newest token and the decoder reuses the
keys and values cached at earlier steps (incremental decoding); with ``use_cache=False``
each step re-runs the decoder over the whole prefix. Both give the same tokens.
Outputs exclude ``<bos>``, include ``<eos>`` and are padded with ``pad_id`` after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from course_lib.data.batching import pad_sequences, padding_mask
from course_lib.data.vocab import Vocab

__all__ = ["beam_search", "length_penalty_factor", "predict_strings", "transformer_greedy_decode"]


def _check_src(src: torch.Tensor, src_key_padding_mask: torch.Tensor | None, max_len: int) -> None:
    if not isinstance(src, torch.Tensor) or src.dim() != 2:
        raise ValueError("src must be a (batch, src_len) tensor of token ids")
    if src_key_padding_mask is not None and src_key_padding_mask.shape != src.shape:
        raise ValueError(
            f"src_key_padding_mask must have src's shape {tuple(src.shape)}, got "
            f"{tuple(src_key_padding_mask.shape)}"
        )
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")


def _step_logits(model, ys, memory, src_key_padding_mask, cache) -> torch.Tensor:
    """Next-token logits ``(batch, vocab)`` after the prefix ``ys`` ``(batch, t)``."""
    step_in = ys[:, -1:] if cache is not None else ys
    return model.decode(step_in, memory, src_key_padding_mask, cache=cache)[:, -1]


@torch.no_grad()
def transformer_greedy_decode(
    model: nn.Module,
    src: torch.Tensor,
    src_key_padding_mask: torch.Tensor | None,
    bos_id: int,
    eos_id: int,
    max_len: int,
    use_cache: bool = True,
) -> torch.Tensor:
    """The most likely next token at every step, until each row has produced ``eos_id``.

    ``src`` ``(batch, src_len)`` -> ids ``(batch, <= max_len)``; a row stops at its own EOS
    and is padded after it; decoding ends when every row has stopped or at ``max_len``.
    """
    _check_src(src, src_key_padding_mask, max_len)
    was_training = model.training
    model.eval()
    memory = model.encode(src, src_key_padding_mask)
    ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    cache = model.new_cache() if use_cache else None
    for _ in range(max_len):
        next_id = _step_logits(model, ys, memory, src_key_padding_mask, cache).argmax(dim=-1)
        next_id = next_id.masked_fill(done, model.pad_id)
        ys = torch.cat([ys, next_id[:, None]], dim=1)
        done |= next_id == eos_id
        if done.all():
            break
    model.train(was_training)
    return ys[:, 1:]


def length_penalty_factor(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT's length penalty ((5 + length) / 6) ** alpha (Wu et al. 2016); scores are divided
    by it, so alpha > 0 favours longer outputs and alpha = 0 compares raw log-probabilities."""
    return ((5.0 + lengths.float()) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model: nn.Module,
    src: torch.Tensor,
    src_key_padding_mask: torch.Tensor | None,
    bos_id: int,
    eos_id: int,
    max_len: int,
    beam_size: int = 4,
    length_penalty: float = 0.6,
    use_cache: bool = True,
) -> torch.Tensor:
    """Keep the ``beam_size`` most likely prefixes of every row at every step.

    A prefix's score is its summed log-probability; a finished hypothesis (it produced
    ``eos_id``) keeps its score and is padded. At the end the hypothesis with the best
    score / :func:`length_penalty_factor` wins. ``src`` ``(batch, src_len)`` -> ids
    ``(batch, <= max_len)``. ``beam_size=1`` is greedy decoding.
    """
    _check_src(src, src_key_padding_mask, max_len)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    was_training = model.training
    model.eval()
    batch, k, device = src.shape[0], beam_size, src.device
    memory = model.encode(src, src_key_padding_mask).repeat_interleave(k, dim=0)
    if src_key_padding_mask is not None:
        src_key_padding_mask = src_key_padding_mask.repeat_interleave(k, dim=0)
    ys = torch.full((batch * k, 1), bos_id, dtype=torch.long, device=device)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive
    finished = torch.zeros(batch * k, dtype=torch.bool, device=device)
    lengths = torch.zeros(batch * k, dtype=torch.long, device=device)
    cache = model.new_cache() if use_cache else None
    for _ in range(max_len):
        logp = _step_logits(model, ys, memory, src_key_padding_mask, cache).float().log_softmax(-1)
        vocab = logp.shape[-1]
        logp[finished] = float("-inf")
        logp[finished, model.pad_id] = 0.0  # a finished hypothesis extends by padding, free
        candidates = (scores.view(-1, 1) + logp).view(batch, k * vocab)
        scores, flat = candidates.topk(k, dim=-1)  # (batch, k)
        rows = (torch.arange(batch, device=device)[:, None] * k + flat // vocab).view(-1)
        tokens = (flat % vocab).view(-1)
        ys = torch.cat([ys[rows], tokens[:, None]], dim=1)
        lengths = lengths[rows] + (~finished[rows]).long()
        finished = finished[rows] | (tokens == eos_id)
        if cache is not None:
            cache.reorder(rows)
        if finished.all():
            break
    normalised = scores / length_penalty_factor(lengths.view(batch, k), length_penalty)
    best = torch.arange(batch, device=device) * k + normalised.argmax(dim=-1)
    model.train(was_training)
    return ys[best, 1 : 1 + int(lengths[best].max())]  # no all-padding columns at the end


@torch.no_grad()
def predict_strings(
    model: nn.Module,
    sources: Sequence[str],
    vocab: Vocab,
    max_len: int,
    beam_size: int = 1,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> list[str]:
    """Decode character-level ``sources`` (greedy, or beam search when ``beam_size > 1``)
    and return the outputs as strings, each read up to its ``<eos>``."""
    outputs = []
    for start in range(0, len(sources), batch_size):
        chunk = [vocab.encode(s) for s in sources[start : start + batch_size]]
        src, lengths = pad_sequences(chunk, vocab.pad_id)
        src, mask = src.to(device), padding_mask(lengths, src.shape[1]).to(device)
        if beam_size > 1:
            ids = beam_search(model, src, mask, vocab.bos_id, vocab.eos_id, max_len, beam_size)
        else:
            ids = transformer_greedy_decode(model, src, mask, vocab.bos_id, vocab.eos_id, max_len)
        outputs.extend("".join(vocab.decode(row.tolist())) for row in ids)
    return outputs
