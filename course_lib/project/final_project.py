"""Module 6: the final project's two worked examples: their data files and their models.

- ``gpu`` (online): summarise CNN/DailyMail news with ``t5-small`` plus a LoRA adapter (peft).
- ``cpu`` / ``ci`` (offline): translate German to English from a JSONL file the course writes
  from its Multi30k copy, with a stand-in for the pre-trained model: a small T5 built from a
  config, with a BPE vocabulary learnt on the training pairs, trained from scratch.

Both are one sequence-to-sequence Hugging Face model and one tokenizer, so every later step
(training, evaluation, optimisation, shipping) is the same code for either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from course_lib.project.project_data import Pair, write_jsonl

APPROACHES = ("from scratch", "full fine-tuning", "LoRA")
OPTIMIZERS = ("adamw", "adafactor")  # project_optimizer
FULL_FINE_TUNING_FROM = 100_000  # examples: below this, or without a GPU, LoRA


def choose_approach(num_examples: int, gpu: bool, pretrained_fits: bool) -> str:
    """The course's rule of thumb: ``"from scratch"``, ``"full fine-tuning"`` or ``"LoRA"``.

    No pre-trained model fits the language and domain: train from scratch (nothing to
    adapt). Otherwise full fine-tuning with a GPU and at least ``FULL_FINE_TUNING_FROM``
    examples, and LoRA in every other case (less memory and time, a small adapter to ship).
    """
    if not pretrained_fits:
        return "from scratch"
    if gpu and num_examples >= FULL_FINE_TUNING_FROM:
        return "full fine-tuning"
    return "LoRA"


def estimate_epoch_minutes(
    source_lengths: Sequence[int], target_lengths: Sequence[int], tokens_per_second: float
) -> float:
    """Minutes one epoch takes: every source and target token, at the measured speed."""
    return (sum(source_lengths) + sum(target_lengths)) / tokens_per_second / 60


@dataclass(frozen=True)
class Seq2SeqBatches:
    """Collate ``(source, target)`` string pairs into a batch a Hugging Face seq2seq model
    takes: ``input_ids``, ``attention_mask`` ``(batch, src)`` and ``labels`` ``(batch, tgt)``
    with -100 at padding (ignored by the loss). ``prefix`` goes before every source."""

    tokenizer: object
    prefix: str = ""
    max_source_tokens: int = 512
    max_target_tokens: int = 128

    def __call__(self, pairs: Sequence[Pair]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(
            [self.prefix + s for s, _ in pairs],
            padding=True,
            truncation=True,
            max_length=self.max_source_tokens,
            return_tensors="pt",
        )
        labels = self.tokenizer(
            text_target=[t for _, t in pairs],
            padding=True,
            truncation=True,
            max_length=self.max_target_tokens,
            return_tensors="pt",
        )["input_ids"]
        return {
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
            "labels": labels.masked_fill(labels == self.tokenizer.pad_token_id, -100),
        }

    def encode(self, pairs: Sequence[Pair]) -> tuple[list[list[int]], list[list[int]]]:
        """``(source_ids, target_ids)``: the token ids of each pair the model reads, after the
        prefix and the truncation to ``max_source_tokens`` / ``max_target_tokens``."""
        sources = self.tokenizer(
            [self.prefix + s for s, _ in pairs], truncation=True, max_length=self.max_source_tokens
        )["input_ids"]
        targets = self.tokenizer(
            text_target=[t for _, t in pairs], truncation=True, max_length=self.max_target_tokens
        )["input_ids"]
        return sources, targets

    def token_lengths(self, pairs: Sequence[Pair]) -> tuple[list[int], list[int]]:
        """``(source_lengths, target_lengths)``: the tokens of each pair the model reads
        (:meth:`encode`: what an epoch costs, not the raw lengths)."""
        sources, targets = self.encode(pairs)
        return [len(ids) for ids in sources], [len(ids) for ids in targets]


def token_budget_loader(
    pairs: Sequence[Pair], collate: Seq2SeqBatches, max_tokens: int, seed: int = 0
) -> DataLoader:
    """A DataLoader of ``pairs`` in batches of similar length within ``max_tokens`` (sentences x
    longest side, counted in the tokens ``collate`` gives): Module 4's
    ``course_lib.translation.TokenBudgetSampler``, reshuffled at every pass."""
    from course_lib.translation import TokenBudgetSampler

    if len(pairs) == 0:
        raise ValueError("token_budget_loader got no pairs; pass the training pairs.")
    ids = list(zip(*collate.encode(pairs), strict=True))
    sampler = TokenBudgetSampler(ids, max_tokens, shuffle=True, seed=seed)
    return DataLoader(list(pairs), batch_sampler=sampler, collate_fn=collate)


def seq2seq_loss(model, batch: dict, label_smoothing: float = 0.0) -> torch.Tensor:
    """Token-level cross-entropy on ``batch["labels"]`` (a scalar, -100 ignored): the model's
    own loss, or with ``label_smoothing`` that share of the target spread over the vocabulary
    (Module 4's recipe)."""
    output = model(**batch)
    if not label_smoothing:
        return output.loss
    logits = output.logits  # (batch, tgt_len, vocab)
    return F.cross_entropy(
        logits.flatten(0, 1).float(),
        batch["labels"].flatten(),
        ignore_index=-100,
        label_smoothing=label_smoothing,
    )


def project_optimizer(model, name: str, lr: float) -> torch.optim.Optimizer:
    """The optimizer of ``model``'s trainable weights at peak rate ``lr``.

    - ``"adamw"``: Module 4's AdamW (betas 0.9 / 0.98, no weight decay): every weight moves by
      about ``lr`` per step, whatever its size. Right for weights initialised at one scale,
      and for fine-tuning (a LoRA adapter, a pre-trained model).
    - ``"adafactor"``: T5's own optimizer (``transformers``' ``Adafactor``, with momentum
      0.9 and the rate set from outside, by the schedule): each step is ``lr`` times the
      root-mean-square of the weight it changes. A T5 built from a config starts its
      embeddings at std 1 and folds attention's 1/sqrt(d_k) into its query weights (std
      ``(d_model * d_kv) ** -0.5``), so one AdamW rate moves its embeddings far too little
      and its queries far too much; Adafactor moves each weight by the same share of itself.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("project_optimizer: the model has no trainable weights.")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.0)
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(
            params, lr=lr, beta1=0.9, scale_parameter=True, relative_step=False, warmup_init=False
        )
    raise ValueError(f"Unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}.")


def count_tokens(batch: dict) -> int:
    """Real (non-padding) source and target tokens in a batch from :class:`Seq2SeqBatches`."""
    return int(batch["attention_mask"].sum() + (batch["labels"] != -100).sum())


# ------------------------------------------------------------------------------ data files


def write_multi30k_jsonl(path: str | Path, split: str = "train") -> Path:
    """Write the course's Multi30k ``split`` as a JSONL file of ``{"source": German,
    "target": English}`` lines: a custom-format file like the one a learner brings."""
    from course_lib.data import load_multi30k

    return write_jsonl(load_multi30k(split), path)


def write_cnn_dailymail_jsonl(path: str | Path, count: int, dataset=None) -> Path:
    """Write ``count`` CNN/DailyMail (article, highlights) pairs as ``{"source", "target"}``
    JSONL lines. ``dataset`` (rows with ``article`` and ``highlights``) defaults to the first
    ``count`` rows of the training split on the Hugging Face Hub (online only), streamed: only
    the training files are read, and only as far as needed (``split="train[:N]"`` would
    download and prepare every split to keep N rows)."""
    if dataset is None:
        from datasets import load_dataset

        stream = load_dataset("abisee/cnn_dailymail", "3.0.0", split="train", streaming=True)
        rows = list(stream.take(count))
    else:
        rows = [dataset[i] for i in range(min(count, len(dataset)))]
    return write_jsonl(((r["article"], r["highlights"].replace("\n", " ")) for r in rows), path)


# ---------------------------------------------------------------------------------- models


def stand_in_tokenizer(pairs: Sequence[Pair], vocab_size: int):
    """A BPE tokenizer learnt on both sides of ``pairs`` (``course_lib.translation``), wrapped
    for ``transformers``: ``<pad>`` id 0, ``<eos>`` appended to every encoded text."""
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    from course_lib.translation import BOS, EOS, EOS_ID, PAD, UNK, tokenizer_for_pairs

    tokenizer = tokenizer_for_pairs(pairs, vocab_size)
    tokenizer.post_processor = TemplateProcessing(
        single=f"$A {EOS}", special_tokens=[(EOS, EOS_ID)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS
    )


def stand_in_t5(
    tokenizer, d_model: int, num_layers: int, num_heads: int, d_ff: int, dropout: float = 0.1
):
    """A T5 built from a config (random weights) for ``tokenizer``'s vocabulary: the offline
    stand-in for ``t5-small``, with the same architecture and interface, trained from
    scratch."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=d_model,
        d_kv=d_model // num_heads,
        d_ff=d_ff,
        num_layers=num_layers,
        num_heads=num_heads,
        dropout_rate=dropout,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return T5ForConditionalGeneration(config)


def pretrained_seq2seq(
    name: str, lora_r: int | None = None, alpha: int = 16, dropout: float = 0.05
):
    """``(model, tokenizer)``: a pre-trained sequence-to-sequence model (a Hub name such as
    ``t5-small``, or a local folder). With ``lora_r``, a LoRA adapter of that rank (peft) on
    T5's attention query and value projections, and only the adapter trains; without it,
    every weight trains (full fine-tuning)."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name)
    model = AutoModelForSeq2SeqLM.from_pretrained(name)
    if lora_r is None:
        return model, tokenizer
    config = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM,
        r=lora_r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=["q", "v"],
    )
    return get_peft_model(model, config), tokenizer
