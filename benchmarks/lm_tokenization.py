"""Tiny Shakespeare: characters or subwords, LSTM or Transformer, per-character perplexity.

Notebook 4.7 trains a decoder-only Transformer and Module 1's LSTM on characters for the same
steps and finds them level. This script asks whether the tokens are what holds the
Transformer back: it trains the four combinations of

- tokens: characters (4.7's), or byte-level BPE (GPT-2's kind, ``bpe_vocab`` tokens,
  learned on the training split);
- model: 4.7's LSTM, or 4.7's Transformer (same sizes);

with 4.7's recipe (Module 4's ``lm`` sizes: ``steps`` batches of ``batch`` windows of
``window`` tokens, AdamW, warm-up) on the same split, and scores each on the same first
``val_chars`` characters of the validation split with **per-character** perplexity (summed
cross-entropy divided by the characters predicted), so a model that reads subwords and one
that reads characters are judged on the same text. A subword window covers more characters,
so the subword rows also see more text per step: that is part of what subwords buy. It writes
``benchmarks/results/lm_tokenization.md``::

    python benchmarks/lm_tokenization.py --profile cpu --seeds 0 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from translation_table import machine  # noqa: E402

from course_lib.bpe import byte_level_bpe, token_byte_lengths  # noqa: E402
from course_lib.data import Vocab, load_tinyshakespeare  # noqa: E402
from course_lib.data.vocab import SPECIALS  # noqa: E402
from course_lib.language_model import (  # noqa: E402
    DecoderOnlyLM,
    LSTMLanguageModel,
    perplexity,
    train_language_model,
)
from course_lib.machinery.profiles import PROFILES, sizes_for  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CHARACTERS, SUBWORDS = "characters", "byte-level BPE"
LSTM, TRANSFORMER = "LSTM (Module 1)", "Transformer (decoder-only)"


def tokenized_splits(s: dict) -> dict[str, dict]:
    """Both tokenizations of tiny Shakespeare, split 90/10 at the same character.

    Per tokenization: ``train`` and ``val`` ids ``(n,)`` (``val``: the first ``val_chars``
    characters of the validation split), ``lengths`` ``(vocab,)`` characters per id, and
    ``chars_per_token`` on ``val``.
    """
    text = load_tinyshakespeare()
    split = int(0.9 * len(text))
    train_text, val_text = text[:split], text[split:][: s["val_chars"]]
    chars = Vocab.build([text])
    bpe = byte_level_bpe([train_text], s["bpe_vocab"])
    splits = {
        CHARACTERS: (
            lambda t: chars.encode(t),
            torch.tensor([0 if tok in SPECIALS else 1 for tok in chars.itos]),
        ),
        SUBWORDS: (lambda t: bpe.encode(t).ids, token_byte_lengths(bpe)),
    }
    result = {}
    for name, (encode, lengths) in splits.items():
        val = torch.tensor(encode(val_text))
        result[name] = {
            "train": torch.tensor(encode(train_text)), "val": val, "lengths": lengths,
            "chars_per_token": len(val_text) / len(val),
        }
    return result


def build(model: str, vocab_size: int, s: dict) -> torch.nn.Module:
    """4.7's Transformer or LSTM at the profile's sizes."""
    if model == TRANSFORMER:
        return DecoderOnlyLM(vocab_size, s["d_model"], s["heads"], 4 * s["d_model"],
                             s["layers"], max_len=s["window"], dropout=s["dropout"])
    return LSTMLanguageModel(vocab_size, 64, s["lstm_hidden"])


def run(s: dict, seeds: list[int], device: str = "cpu") -> list[dict]:
    """One row per (tokens, model, seed): parameters, seconds, per-character perplexity."""
    rows = []
    for tokens, data in tokenized_splits(s).items():
        for model_name in (LSTM, TRANSFORMER):
            for seed in seeds:
                start = time.perf_counter()
                torch.manual_seed(seed)
                model = build(model_name, len(data["lengths"]), s).to(device)
                train_language_model(model, data["train"], s["steps"], s["window"],
                                     s["batch"], s["lr"], device=device, seed=seed)
                ppl = perplexity(model, data["val"], s["window"], device=device,
                                 token_lengths=data["lengths"])
                rows.append({
                    "tokens": tokens, "model": model_name, "seed": seed, "ppl": ppl,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "seconds": time.perf_counter() - start,
                    "vocab": len(data["lengths"]), "chars_per_token": data["chars_per_token"],
                })
                print(f"{tokens}, {model_name}, seed {seed}: per-character perplexity "
                      f"{ppl:.3f} in {rows[-1]['seconds']:.0f} s", flush=True)
    return rows


def to_markdown(rows: list[dict], s: dict, profile: str, about: dict) -> str:
    seeds = sorted({r["seed"] for r in rows})
    groups = {}
    for r in rows:
        groups.setdefault((r["tokens"], r["model"]), []).append(r)
    lines = [
        "# Characters or subwords, LSTM or Transformer: tiny Shakespeare",
        "",
        f"Produced by `python benchmarks/lm_tokenization.py --profile {profile} --seeds "
        f"{' '.join(map(str, seeds))}` on {about['date_utc']}: {about['platform']}, "
        f"{about['cpu_count']} CPU cores ({about['torch_threads']} torch threads); torch "
        f"{about['torch']}, tokenizers {about['tokenizers']}.",
        "",
        f"Every model: {s['steps']} steps of {s['batch']} windows of {s['window']} "
        f"tokens, AdamW at {s['lr']:g} with warm-up (notebook 4.7's recipe). Per-character "
        f"perplexity on the first {s['val_chars']:,} characters of the validation split, "
        "one value per seed (seeds change the initial weights and the batches). Time: "
        "training and scoring, per run.",
        "",
        "| tokens | model | vocabulary | characters per token | parameters | time (s) | "
        "per-character perplexity | mean |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for (tokens, model), group in groups.items():
        first = group[0]
        values = ", ".join(f"{r['ppl']:.2f}" for r in group)
        lines.append(
            f"| {tokens} | {model} | {first['vocab']:,} | {first['chars_per_token']:.2f} | "
            f"{first['parameters']:,} | {statistics.mean(r['seconds'] for r in group):.0f} | "
            f"{values} | {statistics.mean(r['ppl'] for r in group):.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES, default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the .md")
    args = parser.parse_args()
    s = sizes_for(4, args.profile)["lm"]
    rows = run(s, args.seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    text = to_markdown(rows, s, args.profile, machine())
    (args.out / "lm_tokenization.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
