"""Run profiles: the same notebook at three sizes.

``ci``  tiny data and models, offline, about a minute per notebook on 2 CPU cores.
``cpu`` a laptop CPU: about 10 minutes per notebook, still showing real learning.
``gpu`` CUDA (Colab T4 class): full sizes, mixed precision on.

Every size a notebook uses (data subset, model width, epochs, asserted thresholds) is looked
up here, in one table keyed by module and profile, never scattered through cells.
"""

from __future__ import annotations

import os

PROFILES = ("ci", "cpu", "gpu")

# Module 0 is the course machinery itself (used by the tests and the pilot cells).
MODULE_00 = {  # the course tour: a bigram character model of surnames
    "ci": {
        "steps": 150,  # optimisation steps of the bigram model
        "min_gain_nats": 0.3,  # asserted: validation loss this far below the uniform baseline
    },
    "cpu": {"steps": 400, "min_gain_nats": 0.5},
    "gpu": {"steps": 400, "min_gain_nats": 0.5},
}

MODULE_01 = {  # sequence models: RNN/LSTM, char model, word2vec, seq2seq with/without attention
    "ci": {
        "grad_seq_len": 40,  # time steps in the gradient-norm measurement
        "char_max_names": 2500,  # unique (language, surname) pairs used, train + validation
        "char_emb": 16,  # character embedding size of the name model
        "char_hidden": 64,  # LSTM width of the name model
        "char_epochs": 2,  # passes over the training names
        "char_lr": 0.01,  # Adam learning rate of the name model
        "char_min_gain_nats": 0.5,  # asserted: val loss this far below ln(vocab size)
        "w2v_sentences": 3000,  # Multi30k English training captions used
        "w2v_min_freq": 3,  # words rarer than this are dropped from the vocabulary
        "w2v_dim": 32,  # embedding size
        "w2v_epochs": 1,  # passes over the skip-gram pairs
        "w2v_batch": 256,  # skip-gram pairs per batch
        "w2v_lr": 0.02,  # Adam learning rate of the skip-gram model
        "w2v_min_gain_nats": 0.5,  # asserted: final loss this far below the untrained 6 ln 2
        "w2v_min_similarity_gap": 0.1,  # asserted: related pairs' cosine minus random pairs'
        "s2s_train": 3000,  # reversal training pairs
        "s2s_min_len": 3,  # shortest source
        "s2s_max_len": 8,  # longest source (train and test)
        "s2s_test_per_length": 50,  # test strings generated per source length
        "s2s_emb": 16,  # character embedding size of encoder and decoder
        "s2s_hidden": 64,  # LSTM width of encoder and decoder
        "s2s_epochs": 3,  # passes over the training pairs
        "s2s_batch": 32,  # pairs per batch
        "s2s_lr": 0.005,  # Adam learning rate, decayed linearly to 0
        "s2s_min_char_accuracy": 0.15,  # asserted for both models (chance: 1/26 = 0.04)
        "s2s_long_from": 7,  # "long" sources: this length and up
        "s2s_attn_min_exact_long": 0.7,  # asserted: attention's worst exact match, long sources
        "s2s_plain_max_exact_long": 0.5,  # asserted: no-attention mean exact match, long sources
        "s2s_min_diagonal": 0.5,  # asserted: share of steps attending to the mirrored position
    },
    "cpu": {
        "grad_seq_len": 60,  # time steps in the gradient-norm measurement
        "char_max_names": 20074,  # all unique (language, surname) pairs (about 18,000)
        "char_emb": 32,  # character embedding size of the name model
        "char_hidden": 128,  # LSTM width of the name model
        "char_epochs": 6,  # passes over the training names
        "char_lr": 0.005,  # Adam learning rate of the name model
        "char_min_gain_nats": 2.0,  # asserted: val loss this far below ln(vocab size)
        "w2v_sentences": 29000,  # all Multi30k English training captions
        "w2v_min_freq": 5,  # words rarer than this are dropped from the vocabulary
        "w2v_dim": 64,  # embedding size
        "w2v_epochs": 3,  # passes over the skip-gram pairs
        "w2v_batch": 1024,  # skip-gram pairs per batch
        "w2v_lr": 0.01,  # Adam learning rate of the skip-gram model
        "w2v_min_gain_nats": 1.5,  # asserted: final loss this far below the untrained 6 ln 2
        "w2v_min_similarity_gap": 0.3,  # asserted: related pairs' cosine minus random pairs'
        "s2s_train": 10000,  # reversal training pairs
        "s2s_min_len": 3,  # shortest source
        "s2s_max_len": 15,  # longest source (train and test)
        "s2s_test_per_length": 100,  # test strings generated per source length
        "s2s_emb": 32,  # character embedding size of encoder and decoder
        "s2s_hidden": 128,  # LSTM width of encoder and decoder
        "s2s_epochs": 5,  # passes over the training pairs
        "s2s_batch": 32,  # pairs per batch
        "s2s_lr": 0.005,  # Adam learning rate, decayed linearly to 0
        "s2s_min_char_accuracy": 0.5,  # asserted for both models (chance: 1/26 = 0.04)
        "s2s_long_from": 13,  # "long" sources: this length and up
        "s2s_attn_min_exact_long": 0.95,  # asserted: attention's worst exact match, long sources
        "s2s_plain_max_exact_long": 0.5,  # asserted: no-attention mean exact match, long sources
        "s2s_min_diagonal": 0.9,  # asserted: share of steps attending to the mirrored position
    },
}
MODULE_01["gpu"] = dict(MODULE_01["cpu"])  # gpu: the cpu sizes (they already finish in minutes)

# Module 2 on a laptop CPU (MODULE_02["ci"] below comments every entry); gpu differs only
# in the lengths of the cost-of-attention measurement.
_MODULE_02_CPU = {
    "scale_dims": [4, 16, 64, 256, 1024],
    "scale_samples": 4000,
    "min_unscaled_max_weight": 0.9,
    "max_scaled_max_weight": 0.35,
    "task_train": 3000,
    "task_val": 1000,
    "task_epochs": 8,
    "task_d_model": 32,
    "task_lr": 0.02,
    "batch_size": 64,
    "min_task_accuracy": 0.95,
    "max_accuracy_without_positions": 0.3,
    "min_head_focus": 0.6,
    "cost_lengths": [64, 128, 256, 512, 1024, 2048],
    "cost_repeats": 5,
    "min_time_slope": 1.2,
}

MODULE_02 = {  # self-attention, multi-head attention, positional encoding
    "ci": {
        "scale_dims": [4, 16, 64, 256, 1024],  # d_k values of the "why scale?" measurements
        "scale_samples": 1000,  # random (query, 16 keys) draws per d_k
        "min_unscaled_max_weight": 0.85,  # asserted: unscaled softmax saturates at the largest d_k
        "max_scaled_max_weight": 0.4,  # asserted: scaled softmax stays spread out
        "task_train": 800,  # training strings of the neighbour task (random letters, 4-12 long)
        "task_val": 300,  # held-out strings of the neighbour task
        "task_epochs": 6,  # epochs per model (no positions, sinusoidal, learned)
        "task_d_model": 32,  # width of the one-layer, two-head attention model
        "task_lr": 0.03,  # Adam learning rate
        "batch_size": 64,  # batch size of the neighbour task
        "min_task_accuracy": 0.6,  # asserted: with positions, neighbours are predicted
        "max_accuracy_without_positions": 0.35,  # asserted: without positions, they are not
        "min_head_focus": 0.4,  # asserted: weight one head puts on the left (right) neighbour
        "cost_lengths": [64, 128, 256, 512, 1024],  # sequence lengths of the cost measurement
        "cost_repeats": 3,  # timed calls per length, on one thread (the fastest is kept)
        "min_time_slope": 0.5,  # asserted loosely (shared machines are noisy): log-log time slope
    },
    "cpu": _MODULE_02_CPU,
    "gpu": {**_MODULE_02_CPU, "cost_lengths": [256, 512, 1024, 2048, 4096], "min_time_slope": 1.0},
}

MODULE_03 = {  # the Transformer encoder, and a sentiment classifier built on it
    "ci": {
        "flow_depth": 12,  # encoder layers in the gradient-flow experiment (residuals or not)
        "flow_d_model": 32,  # width of those layers
        "min_freq": 2,  # a word enters the vocabulary when seen this often in training
        "max_tokens": 64,  # sentences are cut to this many tokens
        "d_model": 32,  # classifier: model width
        "num_heads": 2,  # classifier: attention heads per layer
        "d_ff": 64,  # classifier: inner width of the feed-forward network
        "num_layers": 1,  # classifier: encoder layers
        "dropout": 0.1,  # classifier: dropout everywhere (embeddings, attention, FFN, residual)
        "batch_size": 64,  # sentences per training batch
        "epochs": 2,  # passes over the 8,530 training sentences
        "lr": 5e-3,  # AdamW peak learning rate
        "warmup_steps": 20,  # linear warm-up steps, then linear decay to zero
        "min_test_accuracy": 0.62,  # asserted on the held-out test split (chance is 0.5)
        "min_test_f1": 0.6,  # asserted macro F1 on the test split
    },
    "cpu": {
        "flow_depth": 24, "flow_d_model": 64, "min_freq": 2, "max_tokens": 64,
        "d_model": 64, "num_heads": 4, "d_ff": 128, "num_layers": 2, "dropout": 0.3,
        "batch_size": 32, "epochs": 3, "lr": 2e-3, "warmup_steps": 100,
        "min_test_accuracy": 0.72, "min_test_f1": 0.72,
    },
    "gpu": {
        "flow_depth": 48, "flow_d_model": 64, "min_freq": 2, "max_tokens": 64,
        "d_model": 128, "num_heads": 8, "d_ff": 256, "num_layers": 2, "dropout": 0.3,
        "batch_size": 32, "epochs": 3, "lr": 1e-3, "warmup_steps": 100,
        "min_test_accuracy": 0.72, "min_test_f1": 0.72,
    },
}

MODULE_04 = {  # the decoder, the full Transformer, decoding, toy task, decoder-only LM
    "ci": {
        "mask_demo_len": 8,  # positions in the causal-mask heat map
    },
    "cpu": {"mask_demo_len": 8},
    "gpu": {"mask_demo_len": 8},
}

MODULE_06 = {  # final project: your data, train or fine-tune, evaluate, optimise, ship
    "ci": {
        "task": "translation",  # the worked example: German -> English from a JSONL file
        "hub_model": None,  # no Hub model: a T5 built from a config (stand-in) is trained
        "prefix": "",  # put before every source (T5's task prefix)
        "examples": 1200,  # pairs read from the data file (None: all)
        "vocab_size": 500,  # BPE vocabulary of the stand-in, learnt on the training pairs
        "d_model": 64,  # stand-in T5: width
        "num_layers": 1,  # stand-in T5: encoder layers (and as many decoder layers)
        "num_heads": 4,  # stand-in T5: attention heads
        "d_ff": 128,  # stand-in T5: feed-forward width
        "dropout": 0.1,  # stand-in T5: dropout
        "lora_r": 8,  # LoRA rank (when the rule of thumb picks LoRA)
        "max_source_tokens": 64,  # sources are cut to this many tokens
        "max_target_tokens": 64,  # targets are cut to this many tokens
        "batch_size": 32,  # pairs per training batch
        "epochs": 2,  # passes over the training pairs (or until max_minutes)
        "max_minutes": 5,  # training time budget (ci stops by epochs: same result when loaded)
        "lr": 1e-2,  # AdamW peak learning rate (linear warm-up, then linear decay)
        "warmup_steps": 10,  # warm-up steps
        "speed_steps": 3,  # timed training steps for the epoch-time estimate
        "eval_examples": 100,  # test pairs scored (all of them in the cpu profile)
        "max_new_tokens": 32,  # longest generated prediction
        "num_beams": 1,  # 1: greedy decoding
        "optimise_examples": 16,  # test sources timed in each optimisation variant
        "min_val_loss_drop": 0.5,  # asserted: validation loss falls this much (nats) in training
        "min_margin": 0.2,  # asserted: main metric above the baseline's (measured 0.40 BLEU)
    },
    "cpu": {
        "task": "translation", "hub_model": None, "prefix": "", "examples": None,
        "vocab_size": 8000, "d_model": 128, "num_layers": 2, "num_heads": 4, "d_ff": 512,
        "dropout": 0.1, "lora_r": 8, "max_source_tokens": 64, "max_target_tokens": 64,
        "batch_size": 64, "epochs": 6, "max_minutes": 12, "lr": 2e-3, "warmup_steps": 200,
        "speed_steps": 5, "eval_examples": 500, "max_new_tokens": 64, "num_beams": 1,
        "optimise_examples": 48, "min_val_loss_drop": 2.0, "min_margin": 5.0,
    },
    "gpu": {  # not run here (no GPU, no network): thresholds unmeasured, to set on Colab
        "task": "summarisation", "hub_model": "t5-small", "prefix": "summarize: ",
        "examples": 20000, "vocab_size": None, "d_model": None, "num_layers": None,
        "num_heads": None, "d_ff": None, "dropout": None, "lora_r": 8,
        "max_source_tokens": 512, "max_target_tokens": 128, "batch_size": 16, "epochs": 1,
        "max_minutes": 30, "lr": 1e-3, "warmup_steps": 100, "speed_steps": 10,
        "eval_examples": 500, "max_new_tokens": 96, "num_beams": 4, "optimise_examples": 50,
        "min_val_loss_drop": 0.0, "min_margin": 0.0,
    },
}

# The training engine (course_lib.training.train) per profile, whatever the module: pass
# ``TrainConfig(**training_settings(cfg.profile), ...)``. Tested without CUDA in
# tests/test_training_engine.py, so the first GPU run is not the first time these load.
TRAINING = {
    "ci": {
        "mixed_precision": "no",  # CPU: autocast would only slow tiny models down
        "progress": False,  # no progress bar in the executed notebooks of CI
    },
    "cpu": {
        "mixed_precision": "no",  # CPU: bf16 autocast is slower than float32 on most laptops
        "progress": True,  # tqdm bar with loss, learning rate and tokens/s
    },
    "gpu": {
        "mixed_precision": "fp16",  # Colab's T4 has fast fp16 (not bf16): autocast + grad scaler
        "progress": True,  # tqdm bar with loss, learning rate and tokens/s
    },
}

SIZES: dict[int, dict[str, dict]] = {
    0: MODULE_00,
    1: MODULE_01,
    2: MODULE_02,
    3: MODULE_03,
    4: MODULE_04,
    6: MODULE_06,
}


def detect_profile(cuda_available: bool | None = None) -> str:
    """The profile named by ``COURSE_PROFILE``, else ``gpu`` with CUDA and ``cpu`` without."""
    name = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"COURSE_PROFILE={name!r} is not a profile of this course; "
                f"use one of {', '.join(PROFILES)} (or unset it to choose automatically)."
            )
        return name
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    return "gpu" if cuda_available else "cpu"


def sizes_for(module: int, profile: str) -> dict:
    """The size table of one module in one profile (a fresh copy, safe to edit)."""
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}; use one of {', '.join(PROFILES)}.")
    if module not in SIZES:
        known = ", ".join(str(m) for m in sorted(SIZES))
        raise KeyError(f"No sizes for module {module}; modules with sizes: {known}.")
    return dict(SIZES[module][profile])


def training_settings(profile: str) -> dict:
    """The training engine's settings in ``profile`` (a fresh copy), e.g.
    ``{"mixed_precision": "fp16", "progress": True}`` for ``gpu``."""
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}; use one of {', '.join(PROFILES)}.")
    return dict(TRAINING[profile])
