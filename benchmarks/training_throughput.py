"""Training tokens/s of a Module-4-sized encoder-decoder with the course's engine (``train``).

Not a test (timings depend on the machine and its load); run it by hand::

    python benchmarks/training_throughput.py                 # float32, then bf16 autocast
    python benchmarks/training_throughput.py --steps 40 --precisions no

The model is the size Module 4 translates Multi30k with in the ``cpu`` profile (d_model
256, 4 heads, d_ff 512, 3 + 3 layers, one shared 8,000-token BPE vocabulary, output tied to
the embedding); the data are random token ids of Multi30k-like lengths (throughput does not
depend on what the tokens say), in batches of 128 pairs (about 4,000 tokens). Each model
does ``--warmup`` steps untimed, then ``--steps`` timed ones through ``train``
(label-smoothed loss, AdamW, clipping); "tokens" are source + target tokens, padding not
counted. ``nn.Transformer`` with embeddings, sinusoidal positions and an output layer is
always measured; the course's from-scratch ``course_lib.transformer.Transformer`` too when
it is importable. The table is printed and written to
``benchmarks/results/training_throughput.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from course_lib.data.batching import collate_pairs
from course_lib.losses import label_smoothed_cross_entropy
from course_lib.positional_encoding import SinusoidalPositionalEncoding
from course_lib.training import TrainConfig, train

PAD, BOS, EOS = 0, 1, 2
RESULTS = Path(__file__).with_name("results") / "training_throughput.md"


class TorchTransformer(nn.Module):
    """``nn.Transformer`` with one shared embedding (scaled by sqrt(d_model)), sinusoidal
    positions and an output layer tied to the embedding, built and called like the course's
    ``Transformer``: ``(src, tgt_in, src_padding_mask, tgt_padding_mask) -> (batch, tgt,
    vocab)``."""

    def __init__(self, vocab: int, d_model: int, num_heads: int, d_ff: int, layers: int,
                 dropout: float = 0.1):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab, d_model, padding_idx=PAD)
        self.positions = SinusoidalPositionalEncoding(d_model, max_len=512, dropout=dropout)
        self.transformer = nn.Transformer(d_model, num_heads, layers, layers, d_ff, dropout,
                                          batch_first=True)
        self.output = nn.Linear(d_model, vocab, bias=False)
        self.output.weight = self.embedding.weight

    def forward(self, src, tgt_in, src_padding_mask=None, tgt_padding_mask=None):
        scale = math.sqrt(self.d_model)
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.shape[1], dtype=torch.bool)
        hidden = self.transformer(
            self.positions(self.embedding(src) * scale),
            self.positions(self.embedding(tgt_in) * scale),
            tgt_mask=causal, src_key_padding_mask=src_padding_mask,
            tgt_key_padding_mask=tgt_padding_mask, memory_key_padding_mask=src_padding_mask,
            tgt_is_causal=True)
        return self.output(hidden)


def from_scratch_model(vocab: int, d_model: int, num_heads: int, d_ff: int, layers: int):
    """The course's Transformer of the same size (one shared vocabulary, tied output), or
    None when this course_lib does not have it yet."""
    try:
        from course_lib.transformer import Transformer
    except ImportError:
        return None
    return Transformer(vocab, vocab, d_model, num_heads, d_ff, layers, layers, dropout=0.1,
                       pad_id=PAD, share_embeddings=True)


def random_pairs(n: int, vocab: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` (source, target) id sequences, 8-24 tokens plus BOS/EOS, like Multi30k in BPE."""
    gen = torch.Generator().manual_seed(seed)
    pairs = []
    for _ in range(n):
        src_len, tgt_len = torch.randint(8, 25, (2,), generator=gen).tolist()
        src = torch.randint(EOS + 1, vocab, (src_len,), generator=gen)
        tgt = torch.randint(EOS + 1, vocab, (tgt_len,), generator=gen)
        pairs.append((torch.cat([src, torch.tensor([EOS])]),
                      torch.cat([torch.tensor([BOS]), tgt, torch.tensor([EOS])])))
    return pairs


def translation_loss(model, batch):
    """Teacher forcing: predict ``tgt[1:]`` from ``tgt[:-1]``; ``(loss_sum, n_tokens)``."""
    tgt_in, tgt_out = batch["tgt"][:, :-1], batch["tgt"][:, 1:]
    logits = model(batch["src"], tgt_in, batch["src_padding_mask"],
                   batch["tgt_padding_mask"][:, :-1])
    loss_sum = label_smoothed_cross_entropy(logits, tgt_out, pad_id=PAD, smoothing=0.1,
                                            reduction="sum")
    return loss_sum, int((tgt_out != PAD).sum())


def real_tokens(batch) -> int:
    """Source + target tokens of a batch, padding not counted (as Module 4 counts them)."""
    return int((~batch["src_padding_mask"]).sum() + (~batch["tgt_padding_mask"]).sum())


def measure(model: nn.Module, loader: DataLoader, precision: str, warmup: int, steps: int):
    """Tokens/s and seconds per step of ``steps`` timed optimizer steps (after ``warmup``)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    common = {"clip_grad_norm": 1.0, "mixed_precision": precision, "progress": False,
              "epochs": 1000}
    train(model, loader, translation_loss, optimizer,
          config=TrainConfig(max_steps=warmup, **common), device="cpu")
    result = train(model, loader, translation_loss, optimizer,
                   config=TrainConfig(max_steps=steps, **common), count_tokens=real_tokens,
                   device="cpu")
    return result.tokens_per_second, result.seconds / result.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--d-ff", type=int, default=512)
    parser.add_argument("--layers", type=int, default=3, help="encoder and decoder layers each")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=128, help="sentence pairs per batch")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--precisions", nargs="+", default=["no", "bf16"],
                        choices=["no", "bf16"], help="mixed precision settings to compare")
    args = parser.parse_args()

    pairs = random_pairs(args.batch * (args.steps + args.warmup), args.vocab, seed=0)
    loader = DataLoader(pairs, batch_size=args.batch, collate_fn=collate_pairs)
    sizes = (args.vocab, args.d_model, args.heads, args.d_ff, args.layers)
    builders = {"nn.Transformer + embeddings": lambda: TorchTransformer(*sizes),
                "course_lib Transformer (from scratch)": lambda: from_scratch_model(*sizes)}
    rows = []
    for name, build in builders.items():
        for precision in args.precisions:
            torch.manual_seed(0)
            model = build()
            if model is None:
                print(f"{name}: not in this course_lib yet, skipped")
                break
            params = sum(p.numel() for p in model.parameters())
            tokens_per_second, step_seconds = measure(model, loader, precision, args.warmup,
                                                      args.steps)
            rows.append(f"| {name} | {params / 1e6:.1f}M | {precision} | "
                        f"{tokens_per_second:,.0f} | {step_seconds:.2f} |")
            print(rows[-1], flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (
        f"Training throughput with `course_lib.training.train`, measured by "
        f"`benchmarks/training_throughput.py` on {time.strftime('%Y-%m-%d')}: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, load average "
        f"{load:.1f} at the end (other processes shared the cores). Batches of {args.batch} "
        f"random sentence pairs (8-24 tokens each side), {args.steps} timed steps after "
        f"{args.warmup} untimed ones; tokens = source + target tokens, padding not counted.\n\n"
        "| model | parameters | mixed precision | tokens/s | s per step |\n"
        "|---|---|---|---|---|\n"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(header + "\n".join(rows) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
