"""A hand-written encoder-decoder for testing decoding loops: it reverses its source.

It has :class:`course_lib.recurrent.seq2seq.Seq2Seq`'s interface (``encode``, ``decoder``,
the special ids) but no learned weights, so what a correct greedy loop must produce is known
exactly: each row's source reversed, then ``<eos>`` -- at a different step for rows of different
lengths. Its decoder state counts the steps taken, and it only continues the reversal when
it is fed its own previous prediction; fed any other token (``<bos>`` again, a stale token)
at step t, it predicts the source's t-th token counted from the front instead. So a loop that
resets the state, feeds the wrong token or stops the whole batch at the first ``<eos>``
gives visibly different tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.data.batching import padding_mask
from course_lib.data.vocab import Vocab
from course_lib.recurrent.seq2seq import EncoderOutput, State


class ReverserDecoder(nn.Module):
    """``decoder(tgt_in, state, memory, memory_mask) -> (logits, state, None)``.

    tgt_in ``(batch, tgt_len)`` int64; state ``(steps, steps)``, each ``(1, batch, 1)``;
    memory ``(batch, src_len, 1)`` (the source ids); memory_mask ``(batch, src_len)``, True
    at padding. Logits ``(batch, tgt_len, vocab)``.
    """

    def __init__(self, vocab: Vocab):
        super().__init__()
        self.vocab_size = len(vocab)
        self.bos_id, self.eos_id = vocab.bos_id, vocab.eos_id
        self.scale = nn.Parameter(torch.tensor(5.0))  # the logits' size (a model has parameters)

    def _script(self, src: torch.Tensor, lengths: torch.Tensor, step: torch.Tensor):
        """The token each row should output at 1-based ``step`` (batch,): reversal, then eos."""
        index = (lengths - step).clamp(0, src.shape[1] - 1)[:, None]
        letter = src.gather(1, index)[:, 0]
        return torch.where(step <= lengths, letter, torch.full_like(letter, self.eos_id))

    def forward(
        self,
        tgt_in: torch.Tensor,
        state: State,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, State, None]:
        if not isinstance(tgt_in, torch.Tensor) or tgt_in.dim() != 2 or tgt_in.dtype != torch.long:
            raise ValueError(
                "the decoder's input must be token ids of shape (batch, tgt_len), int64; got "
                f"{getattr(tgt_in, 'shape', type(tgt_in).__name__)}"
                f"{' ' + str(tgt_in.dtype) if isinstance(tgt_in, torch.Tensor) else ''}"
            )
        src = memory[..., 0].long()
        lengths = (
            torch.full_like(src[:, 0], src.shape[1])
            if memory_mask is None
            else (~memory_mask).sum(dim=1)
        )
        steps = state[0][0, :, 0].long()
        tokens = []
        for t in range(tgt_in.shape[1]):
            step = steps + t + 1
            previous = self._script(src, lengths, step - 1)
            expected_prev = torch.where(step == 1, torch.full_like(previous, self.bos_id), previous)
            follows = tgt_in[:, t] == expected_prev
            index = torch.minimum(step - 1, lengths - 1).clamp(0, src.shape[1] - 1)[:, None]
            forward_copy = src.gather(1, index)[:, 0]  # what it says when fed the wrong token
            tokens.append(torch.where(follows, self._script(src, lengths, step), forward_copy))
        logits = self.scale * F.one_hot(torch.stack(tokens, dim=1), self.vocab_size).float()
        new_steps = (steps + tgt_in.shape[1]).float()[None, :, None]
        return logits, (new_steps, new_steps.clone()), None


class ScriptedReverser(nn.Module):
    """``encode(src, src_lengths)`` and ``decoder`` as in Seq2Seq; reverses each source."""

    def __init__(self, vocab: Vocab):
        super().__init__()
        self.decoder = ReverserDecoder(vocab)
        self.bos_id, self.eos_id, self.pad_id = vocab.bos_id, vocab.eos_id, vocab.pad_id

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> EncoderOutput:
        """src ``(batch, src_len)`` ids -> memory ``(batch, src_len, 1)``, mask, zero steps."""
        steps = torch.zeros(1, src.shape[0], 1)
        memory = src.float()[..., None]
        mask = padding_mask(src_lengths, src.shape[1])
        return EncoderOutput(memory, mask, (steps, steps.clone()))
