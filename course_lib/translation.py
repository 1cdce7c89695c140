"""Module 4: translation on Multi30k (German -> English): the data pipeline and evaluation.

- :func:`train_tokenizer`: one byte-pair-encoding (BPE) vocabulary shared by German and English,
  learnt with Hugging Face ``tokenizers`` on the training split only. Words are split at spaces
  and punctuation first, and decoding glues the pieces back exactly (``decode(encode(s)) == s``).
- :func:`tokenize_pairs` turns sentence pairs into id lists (targets end with ``<eos>``).
- :class:`TokenBudgetSampler` / :func:`bucketed_loader`: batches of sentences of similar length,
  as many as fit a budget of tokens (about 4,000), instead of a fixed number of sentences: short
  sentences make big batches, long ones small batches, and little of each batch is padding.
- :func:`translation_loss`: the teacher-forced, label-smoothed loss of any model here.
- :func:`translate` decodes sentences (greedy or beam search); :func:`corpus_bleu` scores them
  with sacrebleu (cased, 13a tokenisation), the number papers report.
- :class:`TorchTransformer`: ``torch.nn.Transformer`` with the same embeddings, positional
  encoding and output layer as the course's from-scratch Transformer, so one training loop and
  one decoder serve both.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from functools import partial

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import nn
from torch.utils.data import DataLoader, Sampler

from course_lib.attention import causal_mask
from course_lib.data.batching import collate_pairs, pad_sequences, padding_mask, shift_right
from course_lib.decoding import beam_search, transformer_greedy_decode
from course_lib.losses import label_smoothed_cross_entropy
from course_lib.positional_encoding import SinusoidalPositionalEncoding
from course_lib.recurrent.seq2seq import (
    RecurrentAttentionDecoder,
    RecurrentDecoder,
    RecurrentEncoder,
    Seq2Seq,
)
from course_lib.recurrent.seq2seq import greedy_decode as recurrent_greedy_decode
from course_lib.transformer import transformer_loss

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)  # the ids train_tokenizer gives the special tokens

Pair = tuple[list[int], list[int]]
# Every printable Latin-1 character is in the vocabulary, seen in training or not, so German and
# English text never needs <unk> (a character outside it, e.g. an emoji, still becomes <unk>).
LATIN_1 = [chr(c) for c in range(33, 256) if chr(c).isprintable() and not chr(c).isspace()]


def train_tokenizer(
    texts: Sequence[str], vocab_size: int = 8000, min_frequency: int = 2
) -> Tokenizer:
    """A BPE ``tokenizers.Tokenizer`` learnt on ``texts`` (German and English together).

    The special tokens ``<pad> <unk> <bos> <eos>`` get ids 0-3 (``PAD_ID`` ... ``EOS_ID``);
    every printable Latin-1 character has a token, so Latin-1 text round-trips exactly.
    """
    if len(texts) == 0:
        raise ValueError("train_tokenizer got no texts; pass the training sentences.")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must exceed the {len(SPECIAL_TOKENS)} special tokens.")
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()]
    )
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=LATIN_1,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def tokenizer_for_pairs(pairs: Sequence[tuple[str, str]], vocab_size: int = 8000) -> Tokenizer:
    """The shared BPE tokenizer of (German, English) training ``pairs``."""
    return train_tokenizer([s for pair in pairs for s in pair], vocab_size)


def tokenize_pairs(
    tokenizer: Tokenizer, pairs: Sequence[tuple[str, str]], max_tokens: int | None = None
) -> list[Pair]:
    """``(source, target)`` strings -> ``(source ids, target ids + [EOS_ID])``.

    With ``max_tokens``, pairs with a side longer than that are dropped (training only: never
    drop test sentences).
    """
    src = tokenizer.encode_batch([s for s, _ in pairs])
    tgt = tokenizer.encode_batch([t for _, t in pairs])
    encoded = [(s.ids, t.ids + [EOS_ID]) for s, t in zip(src, tgt, strict=True)]
    if max_tokens is not None:
        encoded = [(s, t) for s, t in encoded if max(len(s), len(t)) <= max_tokens]
    return encoded


def real_tokens(batch: dict) -> int:
    """Source + target tokens of a batch from :func:`bucketed_loader`, padding not counted
    (the ``count_tokens`` of ``course_lib.engine.train``, for tokens/s)."""
    return int((~batch["src_key_padding_mask"]).sum() + (~batch["tgt_key_padding_mask"]).sum())


def token_budget_batches(
    lengths: Sequence[tuple[int, int]], max_tokens: int, shuffle: bool = False, seed: int = 0
) -> list[list[int]]:
    """Group example indices into batches of similar length within a token budget.

    ``lengths[i]`` is ``(source length, target length)`` of example i. Examples are sorted by
    length (ties broken at random when ``shuffle``), cut into consecutive batches whose padded
    size, ``batch size * longest side``, stays <= ``max_tokens`` (an example longer than the
    budget alone forms a batch), and the batch order is shuffled. Every index appears once.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    rng = random.Random(seed)
    keys = [(max(s, t), s, t, rng.random() if shuffle else 0.0) for s, t in lengths]
    order = sorted(range(len(lengths)), key=keys.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        size = max(lengths[i])
        if current and (len(current) + 1) * max(longest, size) > max_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, size)
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches


class TokenBudgetSampler(Sampler[list[int]]):
    """A ``batch_sampler`` for ``DataLoader``: :func:`token_budget_batches`, reshuffled at every
    pass when ``shuffle``, with seed ``seed + epoch`` (``set_epoch`` sets the epoch, as
    ``course_lib.engine.train`` does for an exact resume; else each pass counts one up)."""

    def __init__(
        self, pairs: Sequence[Pair], max_tokens: int = 4096, shuffle: bool = True, seed: int = 0
    ):
        self.lengths = [(len(s), len(t)) for s, t in pairs]
        self.max_tokens, self.shuffle, self.seed, self.epoch = max_tokens, shuffle, seed, 0
        # the cut points depend only on the sorted lengths: every pass has this many batches
        self._count = len(token_budget_batches(self.lengths, max_tokens))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        seed = self.seed + self.epoch
        self.epoch += 1
        return iter(token_budget_batches(self.lengths, self.max_tokens, self.shuffle, seed))

    def __len__(self) -> int:
        return self._count


def bucketed_loader(
    pairs: Sequence[Pair], max_tokens: int = 4096, shuffle: bool = True, seed: int = 0
) -> DataLoader:
    """A DataLoader of length-bucketed batches of ``pairs`` (see :func:`collate_pairs`)."""
    if len(pairs) == 0:
        raise ValueError("bucketed_loader got no pairs; tokenize some with tokenize_pairs.")
    return DataLoader(
        list(pairs),
        batch_sampler=TokenBudgetSampler(pairs, max_tokens, shuffle, seed),
        collate_fn=partial(collate_pairs, pad_id=PAD_ID),
    )


def recurrent_translator(
    vocab_size: int, emb_dim: int, hidden_size: int, attention: bool
) -> Seq2Seq:
    """Module 1's LSTM encoder-decoder (:func:`course_lib.recurrent.seq2seq.build_seq2seq`) over the
    subword ids of :func:`train_tokenizer`, without or with attention."""
    decoder_cls = RecurrentAttentionDecoder if attention else RecurrentDecoder
    return Seq2Seq(
        RecurrentEncoder(vocab_size, emb_dim, hidden_size, PAD_ID),
        decoder_cls(vocab_size, emb_dim, hidden_size, PAD_ID),
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        pad_id=PAD_ID,
    )


def translation_loss(model: nn.Module, batch: dict, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy per target token (padding ignored), the decoder fed the true prefix.

    ``model`` is a Transformer (:func:`course_lib.transformer.transformer_loss`) or a recurrent
    :class:`Seq2Seq`; ``batch`` comes from :func:`bucketed_loader`.
    """
    if not isinstance(model, Seq2Seq):
        return transformer_loss(model, batch, BOS_ID, label_smoothing)
    tgt = batch["tgt"]
    logits, _ = model(batch["src"], batch["src_lengths"], shift_right(tgt, BOS_ID))
    return label_smoothed_cross_entropy(logits, tgt, ignore_index=PAD_ID, smoothing=label_smoothing)


def _cut_at_eos(ids: Sequence[int]) -> list[int]:
    ids = list(ids)
    return ids[: ids.index(EOS_ID)] if EOS_ID in ids else ids


@torch.no_grad()
def _decode_batch(
    model: nn.Module, src: torch.Tensor, lengths: torch.Tensor, max_len: int, beam_size: int | None
) -> list[list[int]]:
    """Output ids (without ``<bos>``/``<eos>``) of one padded batch ``src`` ``(batch, len)``."""
    if isinstance(model, Seq2Seq):
        if beam_size is not None:
            raise ValueError("beam search is implemented for Transformers; use beam_size=None.")
        ids, _ = recurrent_greedy_decode(model, src, lengths, max_len)
        return [_cut_at_eos(row) for row in ids.tolist()]
    mask = padding_mask(lengths, src.shape[1])
    cached = not isinstance(model, TorchTransformer)  # nn.Transformer has no key/value cache
    if beam_size is None:
        ids = transformer_greedy_decode(model, src, mask, BOS_ID, EOS_ID, max_len, use_cache=cached)
    else:
        ids = beam_search(model, src, mask, BOS_ID, EOS_ID, max_len, beam_size, use_cache=cached)
    return [_cut_at_eos(row) for row in ids.tolist()]


@torch.no_grad()
def translate(
    model: nn.Module,
    sentences: Sequence[str],
    tokenizer: Tokenizer,
    beam_size: int | None = None,
    max_extra_tokens: int = 50,
    batch_size: int = 128,
) -> list[str]:
    """Translations of ``sentences``: greedy (``beam_size=None``) or beam search.

    Each output stops at ``<eos>`` or after ``source length + max_extra_tokens`` tokens.
    Sentences are decoded in batches of similar length, on the model's device, and returned
    in the input order.
    """
    model.eval()
    device = next(model.parameters()).device
    ids = [enc.ids for enc in tokenizer.encode_batch(list(sentences))]
    if any(len(x) == 0 for x in ids):
        raise ValueError("translate got an empty sentence; remove it or give it some text.")
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    outputs: list[list[int]] = [[] for _ in ids]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        src, lengths = pad_sequences([ids[i] for i in chunk], PAD_ID)
        max_len = int(lengths.max()) + max_extra_tokens
        decoded = _decode_batch(model, src.to(device), lengths.to(device), max_len, beam_size)
        for i, out in zip(chunk, decoded, strict=True):
            outputs[i] = out[: len(ids[i]) + max_extra_tokens]  # the same limit in any batch
    return tokenizer.decode_batch(outputs)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's corpus BLEU (0-100; cased, ``13a`` tokenisation) of one reference each."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references.")
    if len(hypotheses) == 0:
        raise ValueError("corpus_bleu got no sentences.")
    bleu = sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize="13a")
    return float(bleu.score)


class TorchTransformer(nn.Module):
    """``torch.nn.Transformer`` with the course Transformer's embeddings and output layer.

    Source and target embeddings (scaled by sqrt(d_model), initialised with std
    ``d_model ** -0.5``), sinusoidal positions, ``nn.Transformer``'s stacks, and an output
    layer tied to the target embedding (and, with ``share_embeddings``, to the source
    embedding: one shared vocabulary). Same constructor and ``forward``/``encode``/``decode``
    as :class:`course_lib.transformer.Transformer`, so the same training and (uncached)
    decoding code runs both.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        num_encoder_layers: int,
        num_decoder_layers: int,
        dropout: float = 0.1,
        max_len: int = 512,
        pad_id: int = 0,
        norm_first: bool = False,
        share_embeddings: bool = False,
    ):
        super().__init__()
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError("share_embeddings needs one vocabulary: equal vocab sizes.")
        self.d_model, self.pad_id = d_model, pad_id
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, d_model, padding_idx=pad_id)
        self.src_embedding = (
            self.tgt_embedding
            if share_embeddings
            else nn.Embedding(src_vocab_size, d_model, padding_idx=pad_id)
        )
        for emb in (self.src_embedding, self.tgt_embedding):
            nn.init.normal_(emb.weight, std=d_model**-0.5)
            with torch.no_grad():
                emb.weight[pad_id].zero_()
        self.positional_encoding = SinusoidalPositionalEncoding(d_model, max_len, dropout)
        self.transformer = nn.Transformer(
            d_model,
            num_heads,
            num_encoder_layers,
            num_decoder_layers,
            d_ff,
            dropout,
            batch_first=True,
            norm_first=norm_first,
        )
        # nn.TransformerEncoder's nested-tensor path (eval only, prototype) is switched off: the
        # same computation, without its warning.
        self.transformer.encoder.use_nested_tensor = False
        self.output = nn.Linear(d_model, tgt_vocab_size)  # bias, like the course Transformer
        self.output.weight = self.tgt_embedding.weight
        nn.init.zeros_(self.output.bias)

    def _embed(self, embedding: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be (batch, seq) int64, got {tuple(ids.shape)} {ids.dtype}")
        return self.positional_encoding(embedding(ids) * math.sqrt(self.d_model))

    def encode(
        self, src: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """src ``(batch, src_len)`` -> memory ``(batch, src_len, d_model)``."""
        return self.transformer.encoder(
            self._embed(self.src_embedding, src), src_key_padding_mask=src_key_padding_mask
        )

    def decode(
        self,
        tgt_in: torch.Tensor,
        memory: torch.Tensor,
        memory_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        cache: None = None,
    ) -> torch.Tensor:
        """tgt_in ``(batch, tgt_len)``, memory ``(batch, src_len, d_model)`` -> logits
        ``(batch, tgt_len, tgt_vocab)``; position t sees target positions <= t only."""
        if cache is not None:
            raise ValueError(
                "nn.Transformer keeps no key/value cache: decode with use_cache=False."
            )
        x = self.transformer.decoder(
            self._embed(self.tgt_embedding, tgt_in),
            memory,
            tgt_mask=causal_mask(tgt_in.shape[1], tgt_in.device),
            tgt_is_causal=True,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
        )
        return self.output(x)

    def forward(
        self,
        src: torch.Tensor,
        tgt_in: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """src ``(batch, src_len)``, tgt_in ``(batch, tgt_len)`` -> ``(batch, tgt_len, vocab)``."""
        memory = self.encode(src, src_key_padding_mask)
        return self.decode(tgt_in, memory, src_key_padding_mask, tgt_key_padding_mask)
