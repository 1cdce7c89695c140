"""Forward + backward time of the course's multi-head attention against ``nn.MultiheadAttention``.

Not a test (timings depend on the machine); run it by hand::

    python benchmarks/attention_benchmark.py            # batch 32, length 128, d_model 256, 8 heads
    python benchmarks/attention_benchmark.py --rounds 50 --threads 2

Every variant is timed once per round, in turn, so that a burst of load from other processes
hits them all alike; the table shows the median over rounds and the ratio to the matching
``nn.MultiheadAttention`` call (< 1 means the course's layer is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from course_lib.attention import MultiHeadAttention, causal_mask
from course_lib.data import padding_mask


def step(layer: nn.Module, x: torch.Tensor, need_weights: bool, masks: dict) -> None:
    """One forward and backward pass of self-attention on ``x``."""
    out, _ = layer(x, x, x, need_weights=need_weights, **masks)
    out.sum().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds (median is shown)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    reference = nn.MultiheadAttention(args.d_model, args.heads, batch_first=True)
    explicit = MultiHeadAttention.from_torch(reference)
    fused = MultiHeadAttention.from_torch(reference, fused=True)
    x = torch.randn(args.batch, args.length, args.d_model, requires_grad=True)
    lengths = torch.randint(args.length // 2, args.length + 1, (args.batch,))
    mask_sets = {
        "no mask": {},
        "padding + causal": {
            "key_padding_mask": padding_mask(lengths, args.length),
            "attn_mask": causal_mask(args.length),
        },
    }
    # (name, layer, need_weights, name of the nn.MultiheadAttention row it is compared with)
    variants = [
        ("nn.MultiheadAttention, need_weights=False", reference, False, None),
        ("nn.MultiheadAttention, need_weights=True", reference, True, None),
        ("course fused (SDPA kernel)", fused, False, "nn.MultiheadAttention, need_weights=False"),
        (
            "course explicit, need_weights=False",
            explicit,
            False,
            "nn.MultiheadAttention, need_weights=False",
        ),
        (
            "course explicit, need_weights=True",
            explicit,
            True,
            "nn.MultiheadAttention, need_weights=True",
        ),
    ]
    print(
        f"forward + backward of self-attention, batch {args.batch}, length {args.length}, "
        f"d_model {args.d_model}, {args.heads} heads, CPU, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; median of {args.rounds} rounds"
    )
    for mask_name, masks in mask_sets.items():
        times: dict[str, list[float]] = {name: [] for name, *_ in variants}
        for round_ in range(args.warmup + args.rounds):
            for name, layer, need_weights, _ in variants:
                start = time.perf_counter()
                step(layer, x, need_weights, masks)
                if round_ >= args.warmup:
                    times[name].append(time.perf_counter() - start)
        median = {name: statistics.median(t) for name, t in times.items()}
        print(f"\n[{mask_name}]")
        for name, _, _, baseline in variants:
            ratio = f"{median[name] / median[baseline]:5.2f}x  vs {baseline}" if baseline else ""
            print(f"  {name:44s} {median[name] * 1e3:8.1f} ms  {ratio}")


if __name__ == "__main__":
    main()
