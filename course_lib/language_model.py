"""Module 4: a decoder-only (GPT-style) language model: a decoder without cross-attention.

Each layer is masked self-attention and a feed-forward network, each in an :class:`AddNorm`
(a :class:`~course_lib.encoder.TransformerBlock`, the encoder's block, given the causal mask)::

    h = token_embedding(ids) (* sqrt(d_model) if scale_embeddings) + positions
    h = layer_N(... layer_1(h, causal mask) ...)
    logits = lm_head(final_norm(h))        # lm_head shares the token embedding's weights

GPT-2 is this model with ``norm_first=True``, ``positional="learned"``,
``activation="gelu_tanh"``, tied weights, a final LayerNorm and no embedding scaling.
The model predicts token t+1 from tokens 0..t: :func:`language_model_loss` shifts by one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import causal_mask
from course_lib.embedding import check_padding_mask, check_token_ids
from course_lib.encoder import TransformerBlock
from course_lib.positional_encoding import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from course_lib.recurrent.char_model import CharRNN
from course_lib.sampling import sample_next
from course_lib.schedules import linear_warmup_schedule
from course_lib.training import fit

__all__ = [
    "DecoderOnlyLM",
    "LSTMLanguageModel",
    "language_model_loss",
    "perplexity",
    "random_windows",
    "train_language_model",
]


class DecoderOnlyLM(nn.Module):
    """Token embedding + positions, ``num_layers`` causal layers, final norm, tied LM head.

    ``positional``: "learned" (GPT-2) or "sinusoidal"; ``activation``: "gelu", "gelu_tanh"
    (GPT-2) or "relu"; ``scale_embeddings`` multiplies the token embeddings by sqrt(d_model)
    (the original Transformer; off for GPT-2). ``pad_id`` only sets the embedding's
    ``padding_idx``; pass ``padding_mask`` to ``forward`` to hide padding. ``causal=False``
    drops the causal mask (only to show, in Module 4, why a decoder needs it).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        num_layers: int,
        max_len: int,
        dropout: float = 0.1,
        norm_first: bool = True,
        positional: str = "learned",
        activation: str = "gelu",
        tie_weights: bool = True,
        final_norm: bool = True,
        pad_id: int | None = None,
        scale_embeddings: bool = False,
        eps: float = 1e-5,
        fused: bool = True,
        causal: bool = True,
    ):
        super().__init__()
        if positional not in ("learned", "sinusoidal"):
            raise ValueError(f'positional must be "learned" or "sinusoidal", got {positional!r}')
        self.d_model, self.max_len = d_model, max_len
        self.scale_embeddings, self.causal = scale_embeddings, causal
        self.token_embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        std = d_model**-0.5 if scale_embeddings else 0.02  # unit scale after sqrt(d_model)
        nn.init.normal_(self.token_embedding.weight, std=std)
        if positional == "learned":
            self.positional = LearnedPositionalEmbedding(max_len, d_model, dropout)
        else:
            self.positional = SinusoidalPositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList(
            TransformerBlock(d_model, num_heads, d_ff, dropout, norm_first, eps, fused, activation)
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(d_model, eps=eps) if final_norm else nn.Identity()
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_weights:
            self.lm_head.weight = self.token_embedding.weight

    def forward(self, ids: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``ids`` ``(batch, seq)`` -> next-token logits ``(batch, seq, vocab)``.

        ``padding_mask`` ``(batch, seq)`` bool, True at padding; the logits at padded
        positions are meaningless, those at real positions do not depend on padding.
        """
        check_token_ids(ids)
        if ids.shape[1] > self.max_len:
            raise ValueError(
                f"sequence of {ids.shape[1]} tokens exceeds max_len={self.max_len}: crop the "
                "input to its last max_len tokens"
            )
        check_padding_mask(padding_mask, *ids.shape)
        x = self.token_embedding(ids)
        if self.scale_embeddings:
            x = x * math.sqrt(self.d_model)
        x = self.positional(x)
        mask = causal_mask(ids.shape[1], device=ids.device) if self.causal else None
        for layer in self.layers:
            x = layer(x, key_padding_mask=padding_mask, attn_mask=mask)
        return self.lm_head(self.final_norm(x))

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``ids`` ``(batch, seq)``.

        Each step samples from softmax(logits / temperature), restricted by ``top_k`` /
        ``top_p`` (:func:`course_lib.sampling.sample_next`); ``temperature=0`` takes the most
        likely token. The context is cropped to the last ``max_len`` tokens. Returns
        ``(batch, seq + max_new_tokens)``.
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        was_training = self.training
        self.eval()
        for _ in range(max_new_tokens):
            logits = self(ids[:, -self.max_len :])[:, -1, :]
            if temperature == 0:
                next_id = logits.argmax(dim=-1, keepdim=True)
            else:
                next_id = sample_next(logits, temperature, top_k, top_p, generator)[:, None]
            ids = torch.cat([ids, next_id], dim=1)
        self.train(was_training)
        return ids


def language_model_loss(model: nn.Module, batch: dict) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) of ``batch["ids"]`` ``(batch, seq + 1)``.

    The model reads tokens ``0..seq-1`` and is scored on tokens ``1..seq``; with
    ``batch["padding_mask"]`` (True = padding) padded targets are ignored.
    """
    ids = batch["ids"]
    mask = batch.get("padding_mask")
    inputs, targets = ids[:, :-1], ids[:, 1:]
    logits = model(inputs, None if mask is None else mask[:, :-1])
    if mask is not None:
        targets = targets.masked_fill(mask[:, 1:], -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def random_windows(
    data: torch.Tensor, batch_size: int, window: int, generator: torch.Generator
) -> torch.Tensor:
    """``batch_size`` random slices of ``window + 1`` consecutive ids of ``data`` ``(n,)``:
    ``(batch_size, window + 1)``, the inputs and (shifted by one) the targets."""
    if data.dim() != 1 or len(data) <= window + 1:
        raise ValueError(
            f"data must be 1-D and longer than window + 1 = {window + 1}, got shape "
            f"{tuple(data.shape)}"
        )
    starts = torch.randint(0, len(data) - window - 1, (batch_size,), generator=generator)
    return torch.stack([data[s : s + window + 1] for s in starts.tolist()])


@torch.no_grad()
def perplexity(
    logits_fn,
    data: torch.Tensor,
    window: int,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    token_lengths: torch.Tensor | None = None,
) -> float:
    """exp(mean next-token cross-entropy) over ``data`` ``(n,)`` cut into consecutive windows.

    ``logits_fn(ids (batch, window)) -> (batch, window, vocab)``; every window starts fresh
    (no context from the previous one), for any model alike. With ``token_lengths``
    ``(vocab,)``, the characters (or bytes) each token id stands for, the summed cross-entropy
    is divided by the characters predicted instead of the tokens: a **per-character**
    perplexity, comparable across tokenizers (characters vs subwords) on the same text.
    """
    n = (len(data) - 1) // window
    if n < 1:
        raise ValueError(f"data of {len(data)} ids is shorter than one window of {window} + 1")
    inputs = data[: n * window].view(n, window)
    targets = data[1 : n * window + 1].view(n, window)
    total = 0.0
    for start in range(0, n, batch_size):
        x, y = inputs[start : start + batch_size].to(device), targets[start : start + batch_size]
        logits = logits_fn(x).float().cpu()
        if token_lengths is not None and token_lengths.shape != (logits.shape[-1],):
            raise ValueError(
                f"token_lengths must have one entry per token id: shape ({logits.shape[-1]},), "
                f"got {tuple(token_lengths.shape)}"
            )
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
    predicted = n * window if token_lengths is None else int(token_lengths.cpu()[targets].sum())
    if predicted < 1:
        raise ValueError("token_lengths gives the predicted tokens no characters at all")
    return math.exp(total / predicted)


class LSTMLanguageModel(nn.Module):
    """Module 1's :class:`~course_lib.recurrent.char_model.CharRNN` (embedding -> LSTM ->
    linear) with the interface of :class:`DecoderOnlyLM`:
    ``ids (batch, seq) -> logits (batch, seq, vocab)``.

    ``pad_id`` only sets the embedding's ``padding_idx`` (a row kept at zero); leave it None
    when every id is a real token, as in a byte-level BPE without special tokens.
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int, pad_id: int | None = None):
        super().__init__()
        self.rnn = CharRNN(vocab_size, emb_dim, hidden_size, pad_id=pad_id)

    def forward(self, ids: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``ids`` ``(batch, seq)`` -> next-token logits ``(batch, seq, vocab)``. The LSTM reads
        left to right, so it never sees the future; ``padding_mask`` is accepted and unused
        (padding comes after the real tokens)."""
        check_token_ids(ids)
        return self.rnn(ids)[0]


def train_language_model(
    model: nn.Module,
    data: torch.Tensor,
    steps: int,
    window: int,
    batch_size: int,
    lr: float,
    device: torch.device | str = "cpu",
    seed: int = 0,
    mixed_precision: str = "no",
) -> float:
    """Train ``model`` on random windows of ``data`` ``(n,)``; returns a held-out loss.

    Draws ``steps`` batches of ``batch_size`` windows (:func:`random_windows`, seeded), trains
    on all but the last 20 with AdamW (weight decay 0.01, gradients clipped to norm 1) and a
    linear warm-up over the first 10% of ``steps`` then linear decay, and returns the mean
    :func:`language_model_loss` of the last 20 batches in eval mode (the model never trained
    on them). Leaves the model in eval mode. ``mixed_precision`` ("no", "bf16", "fp16") is
    :func:`~course_lib.training.fit`'s: autocast, and a grad scaler for fp16.
    """
    if steps <= 20:
        raise ValueError(f"steps must exceed the 20 held-out batches, got {steps}")
    gen = torch.Generator().manual_seed(seed)
    batches = [{"ids": random_windows(data, batch_size, window, gen)} for _ in range(steps)]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = linear_warmup_schedule(opt, max(1, steps // 10), steps)
    fit(
        model,
        batches[:-20],
        language_model_loss,
        opt,
        1,
        device,
        scheduler=sched,
        clip_grad_norm=1.0,
        progress=False,
        mixed_precision=mixed_precision,
    )
    model.eval()
    with torch.no_grad():
        tail = [
            language_model_loss(model, {"ids": b["ids"].to(device)}).item() for b in batches[-20:]
        ]
    return sum(tail) / len(tail)
