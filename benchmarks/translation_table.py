"""Multi30k German -> English: four models, one data set, one tokenizer, one wall-time budget.

One command trains, each for the same number of minutes on the same BPE subwords and
token-budget batches, Module 1's LSTM encoder-decoder without and with attention, the course's
from-scratch Transformer and ``torch.nn.Transformer`` of the same size; scores each with
sacrebleu BLEU (cased, 13a) on Multi30k test 2016 (greedy decoding, and beam search for the
from-scratch Transformer, the one with a key/value cache); measures the training throughput
(tokens/s) of the from-scratch Transformer against ``nn.Transformer``; and writes
``benchmarks/results/translation_table.md`` and ``.json`` with the machine, the versions, the
date, the budget and the load::

    python benchmarks/translation_table.py --profile cpu --minutes 15
    python benchmarks/translation_table.py --profile ci --minutes 0.1 --out /tmp/table
    python benchmarks/translation_table.py --profile cpu --minutes 15 --resume  # after a stop
    python benchmarks/translation_table.py --profile cpu --minutes 15 --resume --redo throughput

Sizes: Module 4's ``"translation"`` dict in ``course_lib/machinery/profiles.py``. Notebook 04
shows the Markdown file. Timings depend on the machine and its load: the file records the
load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from course_lib.data import load_multi30k
from course_lib.engine import TrainConfig, train
from course_lib.machinery.profiles import PROFILES, sizes_for
from course_lib.schedules import TimeBudgetSchedule
from course_lib.transformer import Transformer
from course_lib.translation import (
    TorchTransformer,
    bucketed_loader,
    corpus_bleu,
    real_tokens,
    recurrent_translator,
    tokenize_pairs,
    tokenizer_for_pairs,
    translate,
    translation_loss,
)

RESULTS = Path(__file__).parent / "results"
# Published rows of bentrevett/pytorch-seq2seq (Multi30k de->en test BLEU, word-level spaCy
# tokens, their own budgets): context only, not comparable with the rows trained here.
PUBLISHED = [
    ("Seq2seq LSTM, no attention (bentrevett 1)", 13.8),
    ("Seq2seq GRU + attention (bentrevett 3)", 28.3),
    ("Transformer (bentrevett 6)", 36.5),
]
LSTM_NO_ATTENTION = "LSTM seq2seq, no attention (Module 1)"
LSTM_ATTENTION = "LSTM seq2seq + attention (Module 1)"
FROM_SCRATCH = "Transformer, from scratch (course_lib)"
TORCH = "nn.Transformer, same size"
# Short names of the table's parts, for --redo.
PARTS = {"scratch": FROM_SCRATCH, "torch": TORCH, "throughput": "throughput",
         "lstm-attention": LSTM_ATTENTION, "lstm": LSTM_NO_ATTENTION}


def build_models(vocab_size: int, s: dict) -> dict[str, nn.Module]:
    """The four models of the table, seeded alike."""
    transformer_args = dict(
        src_vocab_size=vocab_size, tgt_vocab_size=vocab_size, d_model=s["d_model"],
        num_heads=s["heads"], d_ff=s["d_ff"], num_encoder_layers=s["layers"],
        num_decoder_layers=s["layers"], dropout=s["dropout"], share_embeddings=True,
    )
    builders = {
        LSTM_NO_ATTENTION: lambda: recurrent_translator(
            vocab_size, s["lstm_emb"], s["lstm_hidden"], attention=False
        ),
        LSTM_ATTENTION: lambda: recurrent_translator(
            vocab_size, s["lstm_emb"], s["lstm_hidden"], attention=True
        ),
        FROM_SCRATCH: lambda: Transformer(**transformer_args),
        TORCH: lambda: TorchTransformer(**transformer_args),
    }
    models = {}
    for name, build in builders.items():
        torch.manual_seed(0)
        models[name] = build()
    return models


def training_data(s: dict) -> tuple:
    """The BPE tokenizer of the profile's training pairs, those pairs encoded, and the
    token-budget batches over them: ``(tokenizer, encoded_pairs, loader)``."""
    pairs = load_multi30k("train")[: s["train_pairs"]]
    tokenizer = tokenizer_for_pairs(pairs, s["vocab_size"])
    encoded = tokenize_pairs(tokenizer, pairs, max_tokens=s["max_len"])
    return tokenizer, encoded, bucketed_loader(encoded, s["batch_tokens"], seed=0)


def throughput_ratio(models: dict[str, nn.Module], loader, steps: int) -> dict[str, float]:
    """Training tokens/s of the from-scratch Transformer and ``nn.Transformer``.

    The two take a training step (forward, backward, AdamW) in turn on the same batches, so
    load from other processes hits both alike; each rate is total tokens / total step time.
    """
    pair = {name: models[name] for name in (FROM_SCRATCH, TORCH)}
    optimizers = {n: torch.optim.AdamW(m.parameters(), lr=1e-4) for n, m in pair.items()}
    seconds = {name: [] for name in pair}
    tokens = 0
    batches = iter(loader)
    for step in range(steps + 2):  # the first two steps warm up and are not timed
        batch = next(batches)
        for name, model in pair.items():
            model.train()
            start = time.perf_counter()
            loss = translation_loss(model, batch, label_smoothing=0.1)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
            if step >= 2:
                seconds[name].append(time.perf_counter() - start)
        tokens += real_tokens(batch) if step >= 2 else 0
    rates = {name: tokens / sum(s) for name, s in seconds.items()}
    return {
        "from_scratch_tokens_per_s": rates[FROM_SCRATCH],
        "torch_tokens_per_s": rates[TORCH],
        "ratio": rates[FROM_SCRATCH] / rates[TORCH],
        "median_step_s_from_scratch": statistics.median(seconds[FROM_SCRATCH]),
        "median_step_s_torch": statistics.median(seconds[TORCH]),
        "timed_steps": steps,
    }


def train_and_score(name: str, model: nn.Module, data: dict, s: dict, minutes: float) -> dict:
    """Train ``model`` for ``minutes`` and return its row: BLEU, steps, tokens/s, parameters."""
    is_transformer = name in (FROM_SCRATCH, TORCH)
    if is_transformer:  # notebook 4.8's recipe: the paper's Adam, warm-up, decay to 0 by time
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=s["lr"], betas=(0.9, 0.98), eps=1e-9, weight_decay=0.0
        )
        scheduler = TimeBudgetSchedule(optimizer, s["warmup"], minutes)
    else:  # Module 1's recipe: Adam at a constant rate
        optimizer, scheduler = torch.optim.Adam(model.parameters(), lr=s["lstm_lr"]), None
    config = TrainConfig(
        epochs=1000,  # the time budget stops it
        max_minutes=minutes,
        clip_grad_norm=1.0,
        mixed_precision=s["mixed_precision"],
        progress=False,
    )
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    result = train(
        model,
        data["train_loader"],
        lambda m, b: translation_loss(m, b, s["label_smoothing"]),
        optimizer,
        scheduler,
        config,
        count_tokens=real_tokens,
    )
    train_s = time.perf_counter() - start
    sources, references = data["test_sources"], data["test_references"]
    start = time.perf_counter()
    greedy = translate(model, sources, data["tokenizer"])
    row = {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_minutes": train_s / 60,
        "steps": result.steps,
        "tokens_per_s": result.tokens_per_second,
        "bleu_greedy": corpus_bleu(greedy, references),
        "decode_s_greedy": time.perf_counter() - start,
        "bleu_beam": None,
        "load_during_training": (load_before + os.getloadavg()[0]) / 2,
    }
    if name == FROM_SCRATCH:  # nn.Transformer has no key/value cache: its beam search is slow
        beam = translate(model, sources, data["tokenizer"], beam_size=s["beam_size"])
        row["bleu_beam"] = corpus_bleu(beam, references)
    print(f"{name}: {row['bleu_greedy']:.1f} BLEU greedy after {row['steps']} steps", flush=True)
    return row


def machine() -> dict:
    """Where and with what the table was produced."""
    import sacrebleu
    import tokenizers

    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "sacrebleu": sacrebleu.__version__,
    }


def to_markdown(report: dict) -> str:
    """The table file notebook 04 displays."""
    m, b, t = report["machine"], report["budget"], report["throughput"]
    if t is None:
        speed = "Training throughput: not measured yet (the run was stopped before)."
    else:
        speed = (
            f"Training throughput, the two Transformers stepping in turn on the same "
            f"{t['timed_steps']} batches: from scratch {t['from_scratch_tokens_per_s']:,.0f} "
            f"tokens/s, nn.Transformer {t['torch_tokens_per_s']:,.0f} tokens/s, ratio "
            f"{t['ratio']:.2f}x (>= 1.0 means the from-scratch model is not slower)."
        )
    lines = [
        "# Multi30k German -> English, test 2016: all trained here on the same budget",
        "",
        f"Produced by `python benchmarks/translation_table.py --profile {b['profile']} "
        f"--minutes {b['minutes_per_model']:g}` on {m['date_utc']}: {m['platform']}, "
        f"{m['cpu_count']} CPU cores ({m['torch_threads']} torch threads), {m['device']}; "
        f"Python {m['python']}, torch {m['torch']}, tokenizers {m['tokenizers']}, "
        f"sacrebleu {m['sacrebleu']}. Load average (1 min) {report['load_before']:.1f} "
        f"before and {report['load_after']:.1f} after"
        + (": other processes shared the machine." if report["load_before"] >= 1.0
           else " (the run's own threads): nothing else was running when it started."),
        "",
        f"Budget: {b['minutes_per_model']:g} minutes of training per model on "
        f"{b['train_pairs']} pairs, one shared BPE vocabulary of {b['vocab_size']} subwords, "
        f"batches of about {b['max_tokens']} tokens. BLEU: sacrebleu, cased, 13a, on the "
        f"{b['test_pairs']} pairs of test 2016; beam search with {b['beam_size']} beams. "
        "Load: the 1-minute load average around each model's training (2 would mean both "
        "cores busy); steps and tokens/s fall as it rises.",
        "",
        "| model | parameters | steps | train tokens/s | load | BLEU greedy | BLEU beam |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = list(PARTS.values())
    for r in sorted(report["rows"], key=lambda r: order.index(r["model"]) if r["model"] in order
                    else len(order)):
        beam = "" if r["bleu_beam"] is None else f"{r['bleu_beam']:.1f}"
        lines.append(
            f"| {r['model']} | {r['parameters'] / 1e6:.1f}M | {r['steps']} | "
            f"{r['tokens_per_s']:,.0f} | {r['load_during_training']:.1f} | "
            f"{r['bleu_greedy']:.1f} | {beam} |"
        )
    lines += [
        "",
        "For reference, not like-for-like (word-level tokens, other budgets and settings): the "
        "published rows of bentrevett/pytorch-seq2seq on the same test set.",
        "",
        "| model (published) | BLEU |",
        "|---|---:|",
        *[f"| {name} | {bleu} |" for name, bleu in PUBLISHED],
        "",
        speed,
        "",
    ]
    if report.get("by_resume"):
        lines += [f"Measured by `--resume` runs started on {', '.join(report['resumed'])}, "
                  f"on the same machine: {', '.join(report['by_resume'])}.", ""]
    if report["unfinished"]:
        lines += [f"Not finished when the run stopped: {', '.join(report['unfinished'])}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES, default="cpu")
    parser.add_argument("--minutes", type=float, default=15.0, help="training time per model")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the .md and .json")
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished rows of the .json in --out (same profile and "
                             "budget) and run only the unfinished ones")
    parser.add_argument("--redo", choices=PARTS, action="append", default=[],
                        help="with --resume: measure this part again (repeatable)")
    args = parser.parse_args()
    if args.redo and not args.resume:
        parser.error("--redo goes with --resume (without it, every part runs anyway)")
    s = sizes_for(4, args.profile)["translation"]
    load_before = os.getloadavg()[0]

    test = load_multi30k("test_2016_flickr")[: s["test_pairs"]]
    tokenizer, encoded, train_loader = training_data(s)
    data = {
        "tokenizer": tokenizer,
        "train_loader": train_loader,
        "test_sources": [de for de, _ in test],
        "test_references": [en for _, en in test],
    }
    models = build_models(tokenizer.get_vocab_size(), s)
    report = {
        "machine": machine(),
        "budget": {
            "profile": args.profile,
            "minutes_per_model": args.minutes,
            "train_pairs": len(encoded),
            "test_pairs": len(test),
            "vocab_size": tokenizer.get_vocab_size(),
            "max_tokens": s["batch_tokens"],
            "beam_size": s["beam_size"],
        },
        "rows": [],
        "published": [{"model": n, "bleu": b} for n, b in PUBLISHED],
        "throughput": None,
        "unfinished": [*models, "throughput"],
        "load_before": load_before,
        "load_after": load_before,
    }
    if args.resume:
        report = resumed(report, args.out / "translation_table.json",
                         tuple(PARTS[p] for p in args.redo))
    # Transformers first, then the throughput pair, then the LSTMs; the files are rewritten
    # after each step, so a run stopped early still leaves its finished rows.
    for name in (FROM_SCRATCH, TORCH, "throughput", LSTM_ATTENTION, LSTM_NO_ATTENTION):
        if name not in report["unfinished"]:
            print(f"{name}: kept from the earlier run", flush=True)
            continue
        if name == "throughput":
            report["throughput"] = throughput_ratio(
                build_models(tokenizer.get_vocab_size(), s), data["train_loader"],
                s["speed_steps"],
            )
        else:
            report["rows"].append(train_and_score(name, models[name], data, s, args.minutes))
        report["unfinished"].remove(name)
        if args.resume:
            report["by_resume"] = [*report.get("by_resume", []), name]
        report["load_after"] = os.getloadavg()[0]
        write(report, args.out)
    print(to_markdown(report))


def resumed(report: dict, earlier_file: Path, redo: tuple[str, ...] = ()) -> dict:
    """``report`` with the finished rows (and throughput) of ``earlier_file`` taken over.

    The earlier run must have the same budget (profile, minutes, data, vocabulary, batches);
    its machine, date and starting load are kept, since its rows were measured then. The
    parts named in ``redo`` (row names or "throughput") are dropped, to be measured again.
    """
    if not earlier_file.exists():
        raise SystemExit(f"--resume: {earlier_file} does not exist; run without --resume.")
    earlier = json.loads(earlier_file.read_text())
    if earlier["budget"] != report["budget"]:
        raise SystemExit(
            f"--resume: {earlier_file} was made with another budget ({earlier['budget']}); "
            f"this run has {report['budget']}. Run without --resume to start again."
        )
    return {**report, "machine": earlier["machine"], "load_before": earlier["load_before"],
            "rows": [r for r in earlier["rows"] if r["model"] not in redo],
            "throughput": None if "throughput" in redo else earlier["throughput"],
            "unfinished": [*earlier["unfinished"],
                           *[p for p in redo if p not in earlier["unfinished"]]],
            "by_resume": [p for p in earlier.get("by_resume", []) if p not in redo],
            "resumed": [*earlier.get("resumed", []), report["machine"]["date_utc"]]}


def write(report: dict, folder: Path) -> None:
    """``translation_table.json`` and ``translation_table.md`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "translation_table.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "translation_table.md").write_text(to_markdown(report))

if __name__ == "__main__":
    main()
