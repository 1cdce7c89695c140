"""Why nn.Transformer trails the from-scratch Transformer in the translation table.

Notebook 4.4 proves the two compute the same function with the same weights, yet with 15
minutes of training the table gives nn.Transformer 4 BLEU less. This script trains four
models of the table's size on the same Multi30k batches for a fixed number of steps and
reports the mean training loss of the last 25 steps:

- the from-scratch Transformer (course_lib);
- nn.Transformer as built: ``_reset_parameters`` draws every matrix of its stacks with
  ``xavier_uniform_``, and it ends each stack with a LayerNorm;
- nn.Transformer without those two final LayerNorms;
- nn.Transformer holding copies of the from-scratch model's initial stack weights.

If the gap closes with the copied weights and not without the LayerNorms, it comes from the
initial weights. It writes ``benchmarks/results/initial_weights.md``::

    python benchmarks/initial_weights.py --profile cpu --steps 200
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from translation_table import FROM_SCRATCH, TORCH, build_models, machine, training_data  # noqa: E402

from course_lib.machinery.profiles import PROFILES, sizes_for  # noqa: E402
from course_lib.torch_interop import to_torch_transformer  # noqa: E402
from course_lib.training import fit  # noqa: E402
from course_lib.translation import translation_loss  # noqa: E402

RESULTS = Path(__file__).parent / "results"
AS_BUILT = "nn.Transformer as built (xavier-uniform stacks, final LayerNorms)"
NO_FINAL_NORMS = "nn.Transformer without its final LayerNorms"
COPIED = "nn.Transformer with the from-scratch model's initial stack weights"


def variants(vocab_size: int, s: dict) -> dict[str, torch.nn.Module]:
    """The four models, each built fresh from the same seed by the table's ``build_models``."""
    def torch_model(change=None):
        models = build_models(vocab_size, s)
        if change is not None:
            change(models[TORCH].transformer, models[FROM_SCRATCH])
        return models[TORCH]

    def drop_final_norms(stacks, _):
        stacks.encoder.norm = stacks.decoder.norm = None

    def copy_initial_weights(stacks, scratch):
        copied = to_torch_transformer(scratch)
        for mine, theirs in ((copied.encoder, stacks.encoder), (copied.decoder, stacks.decoder)):
            theirs.layers.load_state_dict(mine.layers.state_dict())

    return {
        FROM_SCRATCH: build_models(vocab_size, s)[FROM_SCRATCH],
        AS_BUILT: torch_model(),
        NO_FINAL_NORMS: torch_model(drop_final_norms),
        COPIED: torch_model(copy_initial_weights),
    }


def final_losses(models: dict, loader, s: dict, steps: int, last: int = 25) -> dict[str, float]:
    """Mean training loss of the last ``last`` of ``steps`` steps, the same batches for all.

    The table's optimiser (AdamW, betas (0.9, 0.98), eps 1e-9, the sizes' ``lr``), a linear
    warm-up over ``warmup`` steps then a constant rate, gradient clipping at 1.
    """
    if not 0 < last <= steps:
        raise ValueError(f"need 0 < last <= steps, got last={last}, steps={steps}")
    # the loader again and again (a new pass each time), cut at ``steps`` batches
    batches = list(itertools.islice(itertools.chain.from_iterable(itertools.repeat(loader)),
                                    steps))
    result = {}
    for name, model in models.items():
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=s["lr"], betas=(0.9, 0.98), eps=1e-9, weight_decay=0.0
        )
        warmup = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / s["warmup"])
        )
        options = dict(loss_fn=lambda m, b: translation_loss(m, b, s["label_smoothing"]),
                       optimizer=optimizer, epochs=1, clip_grad_norm=1.0, scheduler=warmup,
                       progress=False)
        if steps > last:
            fit(model, batches[:-last], **options)
        result[name] = fit(model, batches[-last:], **options)["train_loss"][0]
        print(f"{name}: {result[name]:.3f}", flush=True)
    return result


def to_markdown(
    losses: dict[str, float], steps: int, profile: str, about: dict, last: int = 25
) -> str:
    lines = [
        "# Why nn.Transformer trails: its initial weights",
        "",
        f"Produced by `python benchmarks/initial_weights.py --profile {profile} --steps "
        f"{steps}` on {about['date_utc']}: {about['platform']}, {about['cpu_count']} CPU cores "
        f"({about['torch_threads']} torch threads); torch {about['torch']}.",
        "",
        f"Mean training loss (label smoothing included) of steps {steps - last + 1}-{steps}, the "
        "same Multi30k batches and optimiser for every model:",
        "",
        "| model | training loss |",
        "|---|---:|",
        *(f"| {name} | {loss:.3f} |" for name, loss in losses.items()),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES, default="cpu")
    parser.add_argument("--steps", type=int, default=200, help="training steps per model")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the .md")
    args = parser.parse_args()
    s = sizes_for(4, args.profile)["translation"]
    tokenizer, _, loader = training_data(s)
    losses = final_losses(variants(tokenizer.get_vocab_size(), s), loader, s, args.steps)
    about = machine()
    args.out.mkdir(parents=True, exist_ok=True)
    text = to_markdown(losses, args.steps, args.profile, about)
    (args.out / "initial_weights.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
