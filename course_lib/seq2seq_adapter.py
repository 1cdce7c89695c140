"""Module 5: a Hugging Face encoder-decoder seen through the course's decoding interface.

Module 4's :func:`course_lib.decoding.transformer_greedy_decode` and
:func:`~course_lib.decoding.beam_search` drive any model with ``encode(src,
src_key_padding_mask)``, ``decode(tgt_in, memory, memory_key_padding_mask, cache=None)`` and
``pad_id``. :class:`HuggingFaceSeq2Seq` gives a T5 or
Marian model that interface, so your decoding loops run on a library model and can be
compared token for token with its ``generate``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput


class HuggingFaceSeq2Seq(nn.Module):
    """Wraps an ``AutoModelForSeq2SeqLM`` (T5, Marian, BART) without a key/value cache."""

    def __init__(self, model: nn.Module):
        super().__init__()
        if not getattr(model.config, "is_encoder_decoder", False):
            raise TypeError(f"{type(model).__name__} is not an encoder-decoder model.")
        self.model = model
        self.pad_id = model.config.pad_token_id
        self.bos_id = model.config.decoder_start_token_id  # what the decoder starts from
        self.eos_id = model.config.eos_token_id
        self.train(model.training)  # decoding loops restore this mode when they finish

    @staticmethod
    def _attention_mask(key_padding_mask: torch.Tensor | None) -> torch.Tensor | None:
        return None if key_padding_mask is None else (~key_padding_mask).long()

    def encode(self, src: torch.Tensor, src_key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        """``src`` ``(batch, src_len)`` ids -> encoder states ``(batch, src_len, d_model)``."""
        encoder = self.model.get_encoder()
        return encoder(input_ids=src, attention_mask=self._attention_mask(src_key_padding_mask))[0]

    def decode(self, tgt_in, memory, memory_key_padding_mask, cache=None) -> torch.Tensor:
        """Decoder logits ``(batch, tgt_len, vocab)`` for the whole prefix ``tgt_in``."""
        if cache is not None:
            raise ValueError("HuggingFaceSeq2Seq has no cache: decode with use_cache=False.")
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=memory),
            attention_mask=self._attention_mask(memory_key_padding_mask),
            decoder_input_ids=tgt_in,
            use_cache=False,
        )
        return out.logits
