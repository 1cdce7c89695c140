"""Module 1: a character-level language model of surnames, optionally conditioned on the language.

Each name is read as ``<bos> S m i t h`` and must predict ``S m i t h <eos>``, one character
at a time. Conditioning on the language concatenates a learned language vector to every
character embedding, so the model can learn that "-ov" is Russian and "-ez" Spanish.
``sample`` then generates new names, with a temperature that sharpens (T < 1) or flattens
(T > 1) the predicted distribution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.data.batching import pad_sequences
from course_lib.data.vocab import Vocab
from course_lib.recurrent.lstm import LSTM

State = tuple[torch.Tensor, torch.Tensor]


class CharRNN(nn.Module):
    """Embedding (+ language embedding) -> LSTM -> logits over the next character.

    ``num_languages=0`` gives an unconditioned model. ``from_scratch=True`` uses the course's
    :class:`course_lib.recurrent.lstm.LSTM` instead of ``nn.LSTM`` (same numbers, slower).
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_size: int,
        num_languages: int = 0,
        lang_dim: int = 16,
        pad_id: int | None = 0,
        from_scratch: bool = False,
    ):
        super().__init__()
        self.num_languages = num_languages
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.language = nn.Embedding(num_languages, lang_dim) if num_languages else None
        rnn_in = emb_dim + (lang_dim if num_languages else 0)
        self.rnn = (
            LSTM(rnn_in, hidden_size)
            if from_scratch
            else nn.LSTM(rnn_in, hidden_size, batch_first=True)
        )
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(
        self, ids: torch.Tensor, languages: torch.Tensor | None = None, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        """ids ``(batch, seq)``; languages ``(batch,)`` language ids when conditioned.

        Returns logits ``(batch, seq, vocab)`` and the LSTM state ``(h, c)``.
        """
        x = self.embedding(ids)
        if self.language is not None:
            if languages is None:
                raise ValueError("this CharRNN is conditioned on the language: pass languages")
            lang = self.language(languages)[:, None, :].expand(-1, ids.shape[1], -1)
            x = torch.cat([x, lang], dim=-1)
        output, state = self.rnn(x, state)
        return self.out(output), state


def encode_names(
    names_by_language: Mapping[str, Sequence[str]], vocab: Vocab, languages: Sequence[str]
) -> list[tuple[list[int], list[int], int]]:
    """``(input_ids, target_ids, language_id)`` per name: ``<bos> name`` -> ``name <eos>``."""
    items = []
    for lang_id, lang in enumerate(languages):
        for name in names_by_language[lang]:
            ids = vocab.encode(name)
            items.append(([vocab.bos_id, *ids], [*ids, vocab.eos_id], lang_id))
    return items


def collate_names(batch: Sequence[tuple], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Batch :func:`encode_names` items: ``inputs``/``targets`` ``(batch, len)``, ``languages``."""
    inputs, _ = pad_sequences([item[0] for item in batch], pad_id)
    targets, _ = pad_sequences([item[1] for item in batch], pad_id)
    languages = torch.tensor([int(item[2]) for item in batch], dtype=torch.long)
    return {"inputs": inputs, "targets": targets, "languages": languages}


def char_lm_loss(model: CharRNN, batch: dict, pad_id: int = 0) -> torch.Tensor:
    """Mean cross-entropy (nats per character, ``<eos>`` included, padding ignored)."""
    languages = batch["languages"] if model.num_languages else None
    logits, _ = model(batch["inputs"], languages)
    return F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=pad_id)


@torch.no_grad()
def sample(
    model: CharRNN,
    vocab: Vocab,
    n: int = 10,
    temperature: float = 1.0,
    language: int | None = None,
    max_len: int = 20,
    generator: torch.Generator | None = None,
) -> list[str]:
    """``n`` names drawn from ``softmax(logits / temperature)``, one character at a time.

    ``language`` is a language id (required when the model is conditioned). Low temperatures
    give safe, common-looking names; high ones give varied, stranger ones.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if model.num_languages and language is None:
        raise ValueError("this CharRNN is conditioned on the language: pass language=<id>")
    model.eval()
    device = next(model.parameters()).device
    prev = torch.full((n, 1), vocab.bos_id, dtype=torch.long, device=device)
    languages = None if language is None else torch.full((n,), language, device=device)
    state, chars = None, []
    for _ in range(max_len):
        logits, state = model(prev, languages, state)
        logits = logits[:, -1] / temperature
        logits[:, [vocab.pad_id, vocab.bos_id, vocab.unk_id]] = float("-inf")
        probs = logits.softmax(dim=-1).cpu()
        prev = torch.multinomial(probs, 1, generator=generator).to(device)
        chars.append(prev)
    rows = torch.cat(chars, dim=1).tolist()
    return ["".join(vocab.decode(row)) for row in rows]
