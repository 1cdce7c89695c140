"""How the final project's stand-in T5 learns from scratch with each optimizer (Module 6).

Trains the stand-in T5 (``course_lib.project.final_project``) on Multi30k with Module 4's
token-budget batches and label smoothing, for ``--steps`` equal steps (linear warm-up, then a
linear fall to zero) or a ``--minutes`` budget (``TimeBudgetSchedule``), then prints one JSON
line: the training-loss curve, the validation loss and greedy BLEU on test 2016. The runs
behind benchmarks/results/thresholds.md (Module 6):

    python benchmarks/stand_in_optimizer.py --opt adamw --lr 3e-3 --steps 250 --warmup 100
    python benchmarks/stand_in_optimizer.py --opt adafactor --lr 3e-2 --steps 250 --warmup 100
    python benchmarks/stand_in_optimizer.py --opt adafactor --lr 5e-2 --minutes 15 --threads 2
"""

from __future__ import annotations

import argparse
import json
from functools import partial

import torch
from torch.utils.data import DataLoader

from course_lib.data import load_multi30k
from course_lib.engine import TrainConfig, train
from course_lib.project.evaluation import bleu
from course_lib.project.final_project import (
    OPTIMIZERS,
    Seq2SeqBatches,
    count_tokens,
    project_optimizer,
    seq2seq_loss,
    stand_in_t5,
    stand_in_tokenizer,
    token_budget_loader,
)
from course_lib.project.shipping import predict_texts
from course_lib.schedules import TimeBudgetSchedule, linear_warmup_schedule
from course_lib.training import evaluate_loss


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--opt", default="adafactor", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, default=5e-2, help="peak learning rate")
    p.add_argument("--steps", type=int, default=250, help="equal steps (without --minutes)")
    p.add_argument("--minutes", type=float, default=None, help="a wall-time budget instead")
    p.add_argument("--warmup", type=int, default=150, help="warm-up steps")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=3, help="encoder (and decoder) layers")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--d-ff", type=int, default=512)
    p.add_argument("--batch-tokens", type=int, default=4096)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    pairs = load_multi30k("train")
    train_pairs, val_pairs = pairs[:-1000], pairs[-1000:]
    test = load_multi30k("test_2016_flickr")
    tokenizer = stand_in_tokenizer(train_pairs, 8000)
    model = stand_in_t5(tokenizer, args.d_model, args.layers, args.heads, args.d_ff, 0.1)
    collate = Seq2SeqBatches(tokenizer, "", 64, 64)
    loader = token_budget_loader(train_pairs, collate, args.batch_tokens, seed=0)
    optimizer = project_optimizer(model, args.opt, args.lr)
    if args.minutes:
        scheduler = TimeBudgetSchedule(optimizer, args.warmup, args.minutes)
        limits = {"max_minutes": args.minutes}
    else:
        scheduler = linear_warmup_schedule(optimizer, args.warmup, args.steps)
        limits = {"max_steps": args.steps}
    config = TrainConfig(epochs=1000, clip_grad_norm=1.0, seed=0, progress=False, **limits)
    loss_fn = partial(seq2seq_loss, label_smoothing=args.label_smoothing)
    result = train(model, loader, loss_fn, optimizer, scheduler, config, count_tokens=count_tokens)
    losses = result.step_losses

    def mean_before(step: int, span: int = 20) -> float:
        window = losses[max(0, step - span) : step]
        return round(sum(window) / len(window), 3)

    val_loader = DataLoader(val_pairs, batch_size=64, collate_fn=collate)
    predictions = predict_texts(
        [s for s, _ in test], model, tokenizer, "translation", "", 64, batch_size=64,
        max_new_tokens=64, num_beams=1,
    )  # fmt: skip
    row = {
        "optimizer": args.opt,
        "lr": args.lr,
        "steps": result.steps,
        "train_seconds": round(result.seconds),
        "tokens_per_s": round(result.tokens_per_second or 0),
        "train_loss_by_step": {s: mean_before(s) for s in range(50, len(losses) + 1, 50)},
        "val_loss": round(evaluate_loss(model, val_loader, seq2seq_loss, "cpu"), 3),
        "bleu_greedy": round(bleu(predictions, [t for _, t in test]), 2),
    }
    print(json.dumps(row))
    return row


if __name__ == "__main__":
    main()
