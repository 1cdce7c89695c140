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
counted. ``nn.Transformer`` with embeddings, sinusoidal positions and an output layer
(``course_lib.translation.TorchTransformer``) and the course's from-scratch
``course_lib.transformer.Transformer`` are measured. The table is printed and written to
``benchmarks/results/training_throughput.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from course_lib.data.batching import collate_pairs
from course_lib.engine import TrainConfig, train
from course_lib.transformer import Transformer, transformer_loss
from course_lib.translation import BOS_ID, EOS_ID, PAD_ID, TorchTransformer, real_tokens

PAD, BOS, EOS = PAD_ID, BOS_ID, EOS_ID
RESULTS = Path(__file__).with_name("results") / "training_throughput.md"


def same_size(cls, vocab: int, d_model: int, num_heads: int, d_ff: int, layers: int):
    """``cls`` (the course's Transformer or ``TorchTransformer``) at one size, one shared
    vocabulary, output tied to the embedding."""
    return cls(vocab, vocab, d_model, num_heads, d_ff, layers, layers, dropout=0.1, pad_id=PAD,
               share_embeddings=True)


def random_pairs(n: int, vocab: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` (source, target) id sequences, 8-24 tokens plus EOS, like Multi30k in BPE."""
    gen = torch.Generator().manual_seed(seed)
    pairs = []
    for _ in range(n):
        src_len, tgt_len = torch.randint(8, 25, (2,), generator=gen).tolist()
        src = torch.randint(EOS + 1, vocab, (src_len,), generator=gen)
        tgt = torch.randint(EOS + 1, vocab, (tgt_len,), generator=gen)
        pairs.append((torch.cat([src, torch.tensor([EOS])]), torch.cat([tgt, torch.tensor([EOS])])))
    return pairs


def loss_fn(model, batch):
    """Teacher forcing with label smoothing 0.1, as Module 4 trains."""
    return transformer_loss(model, batch, BOS, label_smoothing=0.1)


def measure(model: nn.Module, loader: DataLoader, precision: str, warmup: int, steps: int):
    """Tokens/s and seconds per step of ``steps`` timed optimizer steps (after ``warmup``)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    common = {"clip_grad_norm": 1.0, "mixed_precision": precision, "progress": False,
              "epochs": 1000}
    train(model, loader, loss_fn, optimizer,
          config=TrainConfig(max_steps=warmup, **common), device="cpu")
    result = train(model, loader, loss_fn, optimizer,
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
    loader = DataLoader(pairs, batch_size=args.batch, collate_fn=partial(collate_pairs, pad_id=PAD))
    sizes = (args.vocab, args.d_model, args.heads, args.d_ff, args.layers)
    builders = {"nn.Transformer + embeddings": lambda: same_size(TorchTransformer, *sizes),
                "course_lib Transformer (from scratch)": lambda: same_size(Transformer, *sizes)}
    rows = []
    for name, build in builders.items():
        for precision in args.precisions:
            torch.manual_seed(0)
            model = build()
            params = sum(p.numel() for p in model.parameters())
            tokens_per_second, step_seconds = measure(model, loader, precision, args.warmup,
                                                      args.steps)
            rows.append(f"| {name} | {params / 1e6:.1f}M | {precision} | "
                        f"{tokens_per_second:,.0f} | {step_seconds:.2f} |")
            print(rows[-1], flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (
        f"Training throughput with `course_lib.engine.train`, measured by "
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
