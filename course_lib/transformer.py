"""Module 4: the full encoder-decoder Transformer of "Attention Is All You Need".

::

    memory = Encoder(src)                               # (batch, src_len, d_model)
    h      = Decoder(tgt_in, memory)                    # (batch, tgt_len, d_model)
    logits = output(h)                                  # (batch, tgt_len, tgt_vocab)

Both stacks embed tokens, scale by sqrt(d_model) and add the sinusoidal positional encoding.
``tie_output`` shares the target embedding matrix with the output projection (the paper
does); ``share_embeddings`` uses one embedding for source and target (one joint vocabulary,
as with a shared BPE). ``tgt_in`` is the target shifted right (``<bos> y1 ... y_{n-1}``);
the model is trained to predict ``y1 ... y_n <eos>`` (teacher forcing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.data.batching import shift_right
from course_lib.decoder import Decoder, DecoderCache
from course_lib.embedding import check_padding_mask, check_token_ids
from course_lib.encoder import Encoder

__all__ = ["Transformer", "transformer_loss", "count_parameters", "expected_parameter_count"]


class Transformer(nn.Module):
    """Encoder, decoder and output projection; see the module docstring.

    ``scale_embeddings`` and ``positions`` (both True in the paper) exist for ablations.
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
        tie_output: bool = True,
        share_embeddings: bool = False,
        fused: bool = True,
        scale_embeddings: bool = True,
        positions: bool = True,
    ):
        super().__init__()
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError(
                "share_embeddings needs one joint vocabulary: src_vocab_size and "
                f"tgt_vocab_size differ ({src_vocab_size} vs {tgt_vocab_size})"
            )
        self.pad_id = pad_id
        options = dict(
            dropout=dropout,
            max_len=max_len,
            pad_id=pad_id,
            norm_first=norm_first,
            fused=fused,
            scale_embeddings=scale_embeddings,
            positions=positions,
        )
        self.encoder = Encoder(
            src_vocab_size, d_model, num_heads, d_ff, num_encoder_layers, **options
        )
        self.decoder = Decoder(
            tgt_vocab_size, d_model, num_heads, d_ff, num_decoder_layers, **options
        )
        if share_embeddings:
            self.decoder.embedding = self.encoder.embedding
        self.output = nn.Linear(d_model, tgt_vocab_size)
        if tie_output:
            self.output.weight = self.decoder.embedding.weight
        nn.init.zeros_(self.output.bias)

    def encode(
        self, src: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``src`` ``(batch, src_len)`` -> memory ``(batch, src_len, d_model)``."""
        return self.encoder(src, src_key_padding_mask)

    def decode(
        self,
        tgt_in: torch.Tensor,
        memory: torch.Tensor,
        memory_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        cache: DecoderCache | None = None,
    ) -> torch.Tensor:
        """``tgt_in`` ``(batch, tgt_len)`` and memory -> logits ``(batch, tgt_len, tgt_vocab)``.

        With a ``cache`` (``self.new_cache()``), ``tgt_in`` holds only the new tokens.
        """
        hidden = self.decoder(tgt_in, memory, memory_key_padding_mask, tgt_key_padding_mask, cache)
        return self.output(hidden)  # (batch, tgt_len, d_model) -> (batch, tgt_len, tgt_vocab)

    def new_cache(self) -> DecoderCache:
        """An empty key/value cache for incremental decoding with :meth:`decode`."""
        return DecoderCache.for_decoder(self.decoder)

    def forward(
        self,
        src: torch.Tensor,
        tgt_in: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``src`` ``(batch, src_len)``, ``tgt_in`` ``(batch, tgt_len)`` -> logits
        ``(batch, tgt_len, tgt_vocab)``; padding masks bool, True at padding."""
        check_token_ids(src)
        check_token_ids(tgt_in)
        if src.shape[0] != tgt_in.shape[0]:
            raise ValueError(
                f"src and tgt_in must share the batch size, got {src.shape[0]} and "
                f"{tgt_in.shape[0]}"
            )
        check_padding_mask(src_key_padding_mask, *src.shape, name="src_key_padding_mask")
        check_padding_mask(tgt_key_padding_mask, *tgt_in.shape, name="tgt_key_padding_mask")
        memory = self.encode(src, src_key_padding_mask)  # (batch, src_len, d_model)
        return self.decode(tgt_in, memory, src_key_padding_mask, tgt_key_padding_mask)


def transformer_loss(
    model: Transformer, batch: dict, bos_id: int, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Teacher-forced cross-entropy of ``batch["tgt"]`` (padding ignored), optionally with
    label smoothing; ``batch`` from :func:`course_lib.data.collate_pairs` (targets end in
    ``<eos>``). The decoder reads ``<bos>`` + the target without its last token."""
    tgt = batch["tgt"]
    tgt_in = shift_right(tgt, bos_id).masked_fill(batch["tgt_key_padding_mask"], model.pad_id)
    logits = model(
        batch["src"], tgt_in, batch["src_key_padding_mask"], batch["tgt_key_padding_mask"]
    )
    return F.cross_entropy(
        logits.flatten(0, 1),
        tgt.flatten(),
        ignore_index=model.pad_id,
        label_smoothing=label_smoothing,
    )


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, each shared tensor (tied weights) counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def expected_parameter_count(
    src_vocab_size: int,
    tgt_vocab_size: int,
    d_model: int,
    d_ff: int,
    num_encoder_layers: int,
    num_decoder_layers: int,
    norm_first: bool = False,
    tie_output: bool = True,
    share_embeddings: bool = False,
) -> int:
    """The parameter count of :class:`Transformer`, derived by hand.

    Attention: 4 (d^2 + d); feed-forward: 2 d d_ff + d_ff + d; LayerNorm: 2 d. An encoder
    layer has one attention and two norms, a decoder layer two attentions and three norms.
    """
    d = d_model
    attention, ffn, norm = 4 * (d * d + d), 2 * d * d_ff + d_ff + d, 2 * d
    encoder_layer, decoder_layer = attention + ffn + 2 * norm, 2 * attention + ffn + 3 * norm
    embeddings = tgt_vocab_size * d + (0 if share_embeddings else src_vocab_size * d)
    output = tgt_vocab_size + (0 if tie_output else tgt_vocab_size * d)
    final_norms = 2 * norm if norm_first else 0
    return (
        embeddings
        + num_encoder_layers * encoder_layer
        + num_decoder_layers * decoder_layer
        + final_norms
        + output
    )
