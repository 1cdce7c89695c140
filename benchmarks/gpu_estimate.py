"""How long each notebook takes on a Colab T4 in the ``gpu`` profile: an estimate from FLOPs.

No GPU run has been recorded yet, so README's ``gpu`` column shows this estimate (labelled as
one) until ``course run N --record`` on a GPU replaces it. For every training and decoding a
notebook does in the ``gpu`` profile (sizes from ``profiles.py``), FLOPs are counted as

- training: ``6 * parameters * tokens`` per step (forward 2, backward 4), plus attention
  ``12 * layers * context * width`` per token; LoRA counts the same (a safe upper bound:
  the frozen weights still need activation gradients);
- decoding: ``2 * parameters`` per generated token and beam;

and turned into seconds at ``UTILISATION`` of a T4's peak (65 TFLOP/s fp16 with tensor cores,
8.1 TFLOP/s fp32: T5 trains in fp32 there, the T4 has no native bf16), but never less than
``STEP_FLOOR_S`` per optimiser step and ``DECODE_FLOOR_S`` per decoding step (small models
on a GPU are bound by kernel launches, not FLOPs). The notebook's ``ci`` time (measured, in
docs/run_times.json) is added for everything else (imports, data, plots).
``python benchmarks/gpu_estimate.py`` writes benchmarks/results/gpu_estimate.json and the
``gpu`` estimates into docs/run_times.json (never over a measured gpu run);
``course build`` then fills README's table.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_lib.machinery import run_times  # noqa: E402
from course_lib.machinery.profiles import sizes_for  # noqa: E402

T4_FP16_PEAK = 65e12  # FLOP/s, tensor cores
T4_FP32_PEAK = 8.1e12
UTILISATION = 0.30  # of peak, for well-sized matrix products (25-35% is typical in practice)
STEP_FLOOR_S = 0.010  # an optimiser step of a small model: forward, backward, AdamW launches
DECODE_FLOOR_S = 0.004  # one decoding step (one token for a batch) of a small model
RESULT = ROOT / "benchmarks" / "results" / "gpu_estimate.json"
GPU_NOTE = (
    f"gpu times marked ~ are estimates, not measurements: FLOP counts of each notebook's gpu "
    f"trainings and decodings at {UTILISATION:.0%} of a T4's {T4_FP16_PEAK / 1e12:.0f} TFLOP/s "
    f"fp16 peak, plus its ci time (benchmarks/gpu_estimate.py); a recorded GPU run replaces them."
)


def transformer_params(d: int, ff: int, enc: int = 0, dec: int = 0, vocab: int = 0) -> int:
    """Weights of ``enc`` encoder and ``dec`` decoder layers of width ``d`` plus embeddings."""
    return enc * (4 * d * d + 2 * d * ff) + dec * (8 * d * d + 2 * d * ff) + vocab * d


def lstm_params(inp: int, hidden: int, layers: int = 1, vocab: int = 0) -> int:
    return layers * 4 * hidden * (inp + hidden) + vocab * (inp + hidden)


def training(name, params, tokens_per_step, steps, layers=0, context=0, width=0, fp32=False):
    per_token = 6 * params + 12 * layers * context * width
    peak = T4_FP32_PEAK if fp32 else T4_FP16_PEAK
    step = max(per_token * tokens_per_step / (UTILISATION * peak), STEP_FLOOR_S)
    return {
        "what": name,
        "kind": "training",
        "steps": steps,
        "flops": per_token * tokens_per_step * steps,
        "seconds": step * steps,
    }


def decoding(name, params, sequences, new_tokens, batch, beams=1, fp32=False):
    steps = math.ceil(sequences / batch) * new_tokens
    flops = 2 * params * sequences * new_tokens * beams
    peak = T4_FP32_PEAK if fp32 else T4_FP16_PEAK
    seconds = max(flops / (UTILISATION * peak), steps * DECODE_FLOOR_S)
    return {"what": name, "kind": "decoding", "steps": steps, "flops": flops, "seconds": seconds}


def module_work(module: int) -> list[dict]:
    """The trainings and decodings of notebook ``module`` in the gpu profile."""
    s = sizes_for(module, "gpu")
    if module == 0:
        return [training("bigram model", 27 * 27, 512, s["steps"])]
    if module == 1:  # batch sizes not in the profile: 32 (the notebook's default)
        names = s["surnames"]["max_names"] * 0.9
        return [
            training(
                "character LSTM on names",
                lstm_params(s["surnames"]["emb"], s["surnames"]["hidden"], vocab=60),
                32 * 8,
                math.ceil(names / 32) * s["surnames"]["epochs"],
            ),
            training(
                "word2vec skip-gram",
                2 * 6 * s["word2vec"]["dim"] * 8000,
                s["word2vec"]["batch"],
                math.ceil(s["word2vec"]["sentences"] * 12 * 4 / s["word2vec"]["batch"])
                * s["word2vec"]["epochs"],
            ),
            *[
                training(
                    f"seq2seq LSTM {k}",
                    2 * lstm_params(s["seq2seq"]["emb"], s["seq2seq"]["hidden"], vocab=30),
                    s["seq2seq"]["batch"] * 2 * s["seq2seq"]["max_len"],
                    math.ceil(s["seq2seq"]["train"] / s["seq2seq"]["batch"])
                    * s["seq2seq"]["epochs"],
                )
                for k in ("plain", "attention")
            ],
        ]
    if module == 2:
        steps = (
            math.ceil(s["neighbours"]["train"] / s["neighbours"]["batch_size"])
            * s["neighbours"]["epochs"]
        )
        return [
            training(
                f"neighbour task ({k})",
                transformer_params(
                    s["neighbours"]["d_model"], 4 * s["neighbours"]["d_model"], enc=1, vocab=30
                ),
                s["neighbours"]["batch_size"] * 12,
                steps,
            )
            for k in ("no positions", "sinusoidal", "learned")
        ]
    if module == 3:
        d, layers = s["classifier"]["d_model"], s["classifier"]["num_layers"]
        steps = (
            math.ceil(8530 / s["classifier"]["batch_size"]) * s["classifier"]["max_epochs"]
        )  # early stopping: fewer
        params = transformer_params(d, s["classifier"]["d_ff"], enc=layers, vocab=20000)
        return [
            training(
                "gradient flow",
                transformer_params(
                    s["flow"]["d_model"], 4 * s["flow"]["d_model"], enc=s["flow"]["depth"]
                ),
                64 * 32,
                50 * 2,
            ),
            *[
                training(
                    f"encoder classifier, seed {seed}",
                    params,
                    s["classifier"]["batch_size"] * 40,
                    steps,
                    layers,
                    40,
                    d,
                )
                for seed in s["classifier"]["seeds"]
            ],
            *[
                training(
                    f"bag of embeddings, seed {seed}",
                    20000 * d,
                    s["classifier"]["batch_size"] * 40,
                    steps,
                )
                for seed in s["classifier"]["seeds"]
            ],
        ]
    if module == 4:
        toy = transformer_params(
            s["toy"]["d_model"],
            s["toy"]["d_ff"],
            s["toy"]["layers"],
            s["toy"]["layers"],
            s["toy"]["alphabet"] + 4,
        )
        toy_len = (s["toy"]["min_len"] + s["toy"]["max_len"]) / 2 + 2
        lm = (
            transformer_params(
                s["lm"]["d_model"], 4 * s["lm"]["d_model"], dec=s["lm"]["layers"], vocab=65
            )
            * 3
            // 4
        )  # decoder-only: no cross-attention
        mt = transformer_params(
            s["translation"]["d_model"],
            s["translation"]["d_ff"],
            s["translation"]["layers"],
            s["translation"]["layers"],
            s["translation"]["vocab_size"],
        )
        mt_tokens = 2 * s["translation"]["batch_tokens"]  # both sides of a batch, padding included
        mt_step = max(6 * mt * mt_tokens / (UTILISATION * T4_FP16_PEAK), STEP_FLOOR_S)
        lm_tokens = s["lm"]["batch"] * s["lm"]["window"]
        return [
            training(
                "4.1 causal-mask leak (2 models)",
                transformer_params(32, 64, dec=1, vocab=65),
                32 * s["leak"]["window"],
                2 * s["leak"]["steps"],
            ),
            training(
                "4.6 toy reversal",
                toy,
                s["toy"]["batch"] * 2 * toy_len,
                math.ceil(s["toy"]["train"] / s["toy"]["batch"]) * s["toy"]["epochs"],
                2 * s["toy"]["layers"],
                toy_len,
                s["toy"]["d_model"],
            ),
            decoding("4.6 beam search on the toy test", toy, s["toy"]["beam_test"], toy_len, 1, 4),
            training(
                "4.7 character Transformer LM",
                lm,
                lm_tokens,
                s["lm"]["steps"],
                s["lm"]["layers"],
                s["lm"]["window"],
                s["lm"]["d_model"],
            ),
            training(
                "4.7 character LSTM LM",
                lstm_params(s["lm"]["lstm_hidden"], s["lm"]["lstm_hidden"], vocab=65),
                lm_tokens,
                s["lm"]["steps"],
            ),
            {
                "what": "4.8 translation Transformer (wall-time budget)",
                "kind": "training",
                "steps": int(s["translation"]["minutes"] * 60 / mt_step),
                "flops": None,
                "seconds": s["translation"]["minutes"] * 60,
            },
            # translate() decodes in batches of 128 up to the longest source + 50 tokens
            decoding("4.8 greedy test translations", mt, s["translation"]["test_pairs"], 80, 128),
            decoding(
                "4.8 beam-search test translations",
                mt,
                s["translation"]["test_pairs"],
                80,
                128,
                s["translation"]["beam_size"],
            ),
            decoding(
                "4.8 cache comparison: with the cache",
                mt,
                s["translation"]["cache_sentences"],
                80,
                128,
            ),
            decoding(
                "4.8 cache comparison: without (the prefix again at every step)",
                mt,
                s["translation"]["cache_sentences"] * 40,
                80,
                128 * 40,
            ),
            training(
                "4.9 ablations (10 rows)",
                toy,
                s["toy"]["batch"] * 2 * toy_len,
                10
                * math.ceil(s["ablation"]["train"] / s["toy"]["batch"])
                * s["ablation"]["epochs"],
            ),
        ]
    if module == 5:
        bert = 110_000_000
        steps = (
            math.ceil(s["classification"]["train"] / s["classification"]["batch"])
            * s["classification"]["epochs"]
        )
        tokens = s["classification"]["batch"] * 45  # dynamic padding to the longest of <= 64 tokens
        marian = 74_000_000
        return [
            *[
                training(f"5.1.1/5.3 bert-base-uncased {k}", bert, tokens, steps, 12, 45, 768)
                for k in ("full fine-tuning", "LoRA (ours)", "LoRA (peft)")
            ],
            decoding(
                "5.1.3 opus-mt greedy and beam",
                marian,
                s["translation"]["test"],
                30,
                32,
                1 + s["translation"]["beams"],
            ),
            decoding(
                "5.1.3 Module 4's loops (no cache)",
                marian,
                s["translation"]["compare"],
                48 * 24,
                32,
                1 + s["translation"]["beams"],
            ),
        ]
    if module == 6:
        t5 = 60_500_000
        train_examples = s["examples"] * 0.8
        tokens = s["batch_size"] * (s["max_source_tokens"] + 70)
        steps = math.ceil(train_examples / s["batch_size"]) * s["epochs"]
        work = [
            training(
                "t5-small + LoRA, one epoch (fp32 on a T4)",
                t5,
                tokens,
                steps + s["speed_steps"],
                12,
                s["max_source_tokens"],
                512,
                fp32=True,
            )
        ]
        work[0]["seconds"] = min(work[0]["seconds"], s["max_minutes"] * 60)  # the budget
        return work + [
            decoding(
                "evaluation summaries (beam search)",
                t5,
                s["eval_examples"],
                s["max_new_tokens"],
                32,
                s["num_beams"],
                fp32=True,
            ),
            decoding(
                "optimisation variants",
                t5,
                4 * s["optimise_examples"],
                s["max_new_tokens"],
                1,
                s["num_beams"],
                fp32=True,
            ),
        ]
    return []


def estimate(record: dict) -> dict:
    stems = sorted(record["runs"])
    result = {
        "assumptions": {
            "t4_fp16_peak_flops": T4_FP16_PEAK,
            "t4_fp32_peak_flops": T4_FP32_PEAK,
            "utilisation": UTILISATION,
            "step_floor_s": STEP_FLOOR_S,
            "decode_floor_s": DECODE_FLOOR_S,
        },
        "notebooks": {},
    }
    for stem in stems:
        work = module_work(int(stem[:2]))
        overhead = record["runs"][stem].get("ci", {}).get("seconds", 0.0)
        total = overhead + sum(w["seconds"] for w in work)
        result["notebooks"][stem] = {
            "seconds": round(total, 1),
            "ci_overhead_seconds": overhead,
            "work": [{**w, "seconds": round(w["seconds"], 1)} for w in work],
        }
    return result


def main() -> None:
    record = run_times.load(ROOT)
    result = estimate(record)
    RESULT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    note = (
        f"estimate, not measured: FLOPs of the gpu profile's trainings and decodings at "
        f"{UTILISATION:.0%} of a T4's peak (benchmarks/gpu_estimate.py), plus the ci time"
    )
    for stem, entry in result["notebooks"].items():
        current = record["runs"][stem].get("gpu")
        if current is None or current.get("estimate"):  # a measured gpu run stays
            record["runs"][stem]["gpu"] = {
                "seconds": entry["seconds"],
                "estimate": True,
                "machine": "Colab T4 (estimated)",
                "note": note,
            }
        print(f"{stem:45s} {run_times.format_seconds(entry['seconds']):>12s}")
    if GPU_NOTE not in record.get("note", ""):
        record["note"] = f"{record.get('note', '').rstrip()} {GPU_NOTE}".strip()
    path = ROOT / run_times.RECORD
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
