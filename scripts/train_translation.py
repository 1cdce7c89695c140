r"""Train Module 4's translation Transformer (Multi30k German -> English) from a terminal, on
one device or on several GPUs, and resume it: see docs/multi_gpu.md.

    accelerate launch --multi_gpu --num_processes 4 scripts/train_translation.py \
        --output-dir runs/mt   # --resume continues after a stop; --overwrite starts over there
    python scripts/train_translation.py --profile cpu --max-minutes 15 --output-dir runs/mt

The model, data and optimisation are the notebook's (section 4.8), at the sizes of
``--profile`` (default ``gpu``): a shared BPE vocabulary learnt on the training split, batches
of about ``batch_tokens`` tokens *per process*, AdamW with a warm-up then a linear decay
to 0 (at the end of ``--max-minutes`` if given, else at the last step), label smoothing,
gradient clipping. ``output_dir`` receives the tokenizer, the checkpoints and
``best_model.pt`` (lowest validation loss), which the notebook can load.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import torch
from accelerate import PartialState

from course_lib.data import load_multi30k
from course_lib.engine import TrainConfig, train
from course_lib.machinery.profiles import PROFILES, sizes_for
from course_lib.schedules import TimeBudgetSchedule, linear_warmup_schedule
from course_lib.training import evaluate_loss
from course_lib.transformer import Transformer
from course_lib.translation import (
    PAD_ID,
    bucketed_loader,
    real_tokens,
    tokenize_pairs,
    tokenizer_for_pairs,
    translation_loss,
)

TOKENIZER_FILE = "tokenizer.json"


def shared_tokenizer(output_dir: Path, train_pairs, vocab_size: int, state: PartialState):
    """The run's BPE tokenizer: learnt once by the main process and saved in ``output_dir``
    (a resumed run must reuse it: the checkpoint's embeddings are rows of its vocabulary)."""
    from tokenizers import Tokenizer

    path = output_dir / TOKENIZER_FILE
    if state.is_main_process and not path.is_file():
        output_dir.mkdir(parents=True, exist_ok=True)
        tokenizer_for_pairs(train_pairs, vocab_size).save(str(path))
    state.wait_for_everyone()
    return Tokenizer.from_file(str(path))


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, required=True,
                        help="folder of the tokenizer and checkpoints (Google Drive on Colab)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the checkpoints of an earlier run in --output-dir first")
    parser.add_argument("--profile", choices=PROFILES, default="gpu", help="sizes of Module 4")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-time budget")
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps in all")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="optimizer steps between validations (default: each epoch)")
    parser.add_argument("--val-pairs", type=int, default=None,
                        help="validation pairs used (default: all 1,014)")
    parser.add_argument("--cpu", action="store_true", help="processes on the CPU (gloo)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    sizes = sizes_for(4, args.profile)["translation"]
    state = PartialState(cpu=args.cpu)
    train_text = load_multi30k("train")[: sizes["train_pairs"]]
    tokenizer = shared_tokenizer(args.output_dir, train_text, sizes["vocab_size"], state)
    train_pairs = tokenize_pairs(tokenizer, train_text, max_tokens=sizes["max_len"])
    val_pairs = tokenize_pairs(tokenizer, load_multi30k("val")[: args.val_pairs])
    train_loader = bucketed_loader(train_pairs, sizes["batch_tokens"], seed=args.seed)
    val_loader = bucketed_loader(val_pairs, sizes["batch_tokens"], shuffle=False)

    torch.manual_seed(args.seed)  # the same initial weights in every process
    vocab = tokenizer.get_vocab_size()
    model = Transformer(vocab, vocab, sizes["d_model"], sizes["heads"], sizes["d_ff"],
                        sizes["layers"], sizes["layers"], dropout=sizes["dropout"],
                        pad_id=PAD_ID, share_embeddings=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=sizes["lr"], betas=(0.9, 0.98),
                                  eps=1e-9)
    if args.max_minutes is not None:  # the notebook's recipe: 0 at the end of the budget
        scheduler = TimeBudgetSchedule(optimizer, sizes["warmup"], args.max_minutes)
    else:  # 0 at the last step (each process takes its share of every epoch's batches)
        steps = args.epochs * -(-len(train_loader) // state.num_processes)
        steps = min(steps, args.max_steps or steps)
        scheduler = linear_warmup_schedule(optimizer, sizes["warmup"], steps)
    loss_fn = partial(translation_loss, label_smoothing=sizes["label_smoothing"])

    def evaluate(m):
        device = next(m.parameters()).device
        return {"val_loss": evaluate_loss(m, val_loader, translation_loss, device)}

    config = TrainConfig(
        epochs=args.epochs, max_steps=args.max_steps, max_minutes=args.max_minutes,
        clip_grad_norm=1.0, mixed_precision=sizes["mixed_precision"],
        eval_every=args.eval_every, seed=args.seed,
    )
    result = train(model, train_loader, loss_fn, optimizer, scheduler, config=config,
                   evaluate=evaluate, output_dir=args.output_dir, resume=args.resume,
                   overwrite=args.overwrite,
                   count_tokens=real_tokens, device="cpu" if args.cpu else None)
    if state.is_main_process:
        speed = f"{result.tokens_per_second:,.0f}" if result.tokens_per_second else "?"
        print(f"stopped by {result.stopped_by} at step {result.steps} ({result.epochs:.2f} "
              f"epochs, {result.seconds / 60:.1f} min, {speed} tokens/s over all processes); "
              f"best val_loss {result.best_metric:.3f} in {result.best_checkpoint}")
    return result


if __name__ == "__main__":
    main()
