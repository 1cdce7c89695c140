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
        "leak_window": 16,  # 4.1: characters per training window, with/without causal mask
        "leak_steps": 40,  # 4.1: optimisation steps of each of the two tiny models
        "speed_lengths": [4, 8, 16],  # 4.5: output lengths timed, cached vs uncached
        "min_long_speedup": 0.5,  # asserted: cache speed-up at the longest length (timing noise)
        "toy_min_len": 3,  # 4.6: shortest string to reverse
        "toy_max_len": 6,  # 4.6: longest string to reverse (train and test)
        "toy_alphabet": 8,  # 4.6: letters used (the first n of a-z)
        "toy_train": 2000,  # 4.6: training pairs
        "toy_test": 200,  # 4.6: test pairs (another seed)
        "toy_d_model": 32,  # 4.6: model width
        "toy_heads": 4,  # 4.6: attention heads
        "toy_d_ff": 64,  # 4.6: feed-forward width
        "toy_layers": 1,  # 4.6: encoder layers = decoder layers
        "toy_batch": 32,  # 4.6: pairs per batch
        "toy_lr": 5e-3,  # 4.6: AdamW peak learning rate
        "toy_warmup": 20,  # 4.6: linear warm-up steps
        "toy_epochs": 3,  # 4.6: passes over the training pairs
        "min_toy_exact": 0.05,  # asserted: test exact match (chance is ~0)
        "beam_test": 100,  # 4.5/4.9: test strings decoded with beam search and in ablations
        "lm_window": 32,  # 4.7: characters of context
        "lm_val_chars": 4000,  # 4.7: validation characters scored
        "lm_d_model": 32,  # 4.7: model width
        "lm_heads": 2,  # 4.7: attention heads
        "lm_layers": 1,  # 4.7: layers
        "lm_batch": 32,  # 4.7: windows per batch (Transformer and LSTM)
        "lm_steps": 80,  # 4.7: optimisation steps (Transformer and LSTM)
        "lm_lr": 3e-3,  # 4.7: AdamW peak learning rate
        "lstm_hidden": 64,  # 4.7: width of Module 1's character LSTM baseline
        "max_lm_ppl": 30.0,  # asserted: Transformer validation perplexity (uniform is 69)
        "max_ppl_ratio": 1.5,  # asserted: Transformer perplexity / LSTM perplexity
        "sample_chars": 80,  # 4.7: characters generated per sample
        "ablation_train": 600,  # 4.9: training pairs (the first n of 4.6's) per ablation row
        "ablation_epochs": 1,  # 4.9: passes over those pairs per ablation row
        "min_pe_gap": 0.0,  # asserted: exact match lost without positional encoding, at least
    },
    "cpu": {
        "mask_demo_len": 8, "leak_window": 32, "leak_steps": 300,
        "speed_lengths": [8, 16, 32, 64], "min_long_speedup": 1.5,
        "toy_min_len": 5, "toy_max_len": 16, "toy_alphabet": 26,
        "toy_train": 20000, "toy_test": 1000,
        "toy_d_model": 128, "toy_heads": 4, "toy_d_ff": 256, "toy_layers": 2, "toy_batch": 64,
        "toy_lr": 1e-3, "toy_warmup": 200, "toy_epochs": 6, "min_toy_exact": 0.99,
        "beam_test": 300, "lm_window": 128, "lm_val_chars": 50000, "lm_d_model": 128,
        "lm_heads": 4, "lm_layers": 3, "lm_batch": 32, "lm_steps": 1500, "lm_lr": 1e-3,
        "lstm_hidden": 256, "max_lm_ppl": 6.0, "max_ppl_ratio": 0.95, "sample_chars": 300,
        "ablation_train": 20000, "ablation_epochs": 1, "min_pe_gap": 0.3,
    },
    "gpu": {
        "mask_demo_len": 8, "leak_window": 64, "leak_steps": 500,
        "speed_lengths": [16, 32, 64, 128], "min_long_speedup": 2.0,
        "toy_min_len": 5, "toy_max_len": 30, "toy_alphabet": 26,
        "toy_train": 50000, "toy_test": 2000,
        "toy_d_model": 128, "toy_heads": 8, "toy_d_ff": 512, "toy_layers": 3, "toy_batch": 128,
        "toy_lr": 7e-4, "toy_warmup": 500, "toy_epochs": 6, "min_toy_exact": 0.99,
        "beam_test": 500, "lm_window": 256, "lm_val_chars": 100000, "lm_d_model": 384,
        "lm_heads": 6, "lm_layers": 6, "lm_batch": 64, "lm_steps": 5000, "lm_lr": 6e-4,
        "lstm_hidden": 512, "max_lm_ppl": 4.5, "max_ppl_ratio": 0.95, "sample_chars": 500,
        "ablation_train": 50000, "ablation_epochs": 2, "min_pe_gap": 0.3,
    },
}

MODULE_05 = {  # pre-trained Transformers with Hugging Face: tokenizers, Trainer, generation, LoRA
    "ci": {
        "classifier_hub": None,  # Hub model for 5.1.1 (None: the packaged MiniLM, no probe)
        "generator_hub": None,  # Hub model for 5.1.2 (None: a small GPT-2 trained here)
        "translator_hub": None,  # Hub model for 5.1.3 (None: a small T5 trained here)
        "tok_chars": 100_000,  # characters of tinyshakespeare the three tokenizers train on
        "tok_vocab_sizes": [150, 300, 600],  # vocabulary sizes compared in 5.2
        "max_length": 32,  # classification: sentences cut to this many WordPiece tokens
        "cls_train": 256,  # training sentences (from Module 3's training split)
        "cls_test": 200,  # test sentences (from Module 3's test split)
        "cls_batch": 32,  # sentences per batch
        "cls_epochs": 1,  # passes over the training sentences
        "cls_lr": 3e-4,  # AdamW peak learning rate, full fine-tuning (8 steps: high)
        "lora_lr": 3e-3,  # AdamW peak learning rate, LoRA (about 10x full fine-tuning)
        "lora_r": 8,  # LoRA rank
        "lora_alpha": 16,  # LoRA alpha (the update is scaled by alpha / r)
        "warmup": 0.1,  # share of steps with a linear warm-up, then linear decay
        "min_cls_accuracy": 0.55,  # asserted: fine-tuned MiniLM, test subset (measured 0.695)
        "min_lora_accuracy": 0.5,  # asserted: LoRA (scratch, peft), test subset (measured 0.535)
        "module3_accuracy": 0.779,  # measured: Module 3's from-scratch encoder, cpu profile
        "gen_chars": 60_000,  # tinyshakespeare characters the stand-in GPT-2 trains on
        "gen_vocab": 500,  # byte-level BPE vocabulary of the stand-in GPT-2
        "gen_block": 64,  # tokens per training sequence
        "gen_layers": 2,  # stand-in GPT-2: layers
        "gen_d_model": 64,  # stand-in GPT-2: width
        "gen_heads": 2,  # stand-in GPT-2: attention heads
        "gen_steps": 30,  # optimisation steps
        "gen_batch": 16,  # sequences per batch
        "gen_lr": 3e-3,  # AdamW peak learning rate
        "max_gen_perplexity_ratio": 0.6,  # asserted: val perplexity / untrained (measured 0.38)
        "mt_train": 1500,  # Multi30k training pairs for the stand-in T5
        "mt_test": 50,  # Multi30k test 2016 pairs scored with BLEU
        "mt_vocab": 800,  # shared Unigram vocabulary of the stand-in T5
        "mt_d_model": 64,  # stand-in T5: width
        "mt_layers": 2,  # stand-in T5: encoder and decoder layers
        "mt_steps": 50,  # optimisation steps
        "mt_batch": 32,  # pairs per batch
        "mt_lr": 3e-3,  # AdamW peak learning rate
        "mt_beams": 4,  # beam width of generate
        "mt_compare": 50,  # test sentences decoded by Module 4's greedy/beam loops too
        "min_greedy_agreement": 0.95,  # asserted: Module 4's greedy == generate's (float ties)
        "max_mt_loss_ratio": 0.85,  # asserted: test loss after / before training (measured 0.74)
        "min_bleu": 0.3,  # asserted: beam-search BLEU on the test subset (measured 0.75, 0.98)
    },
    # cpu: the classification thresholds sit below the accuracies measured in
    # OFFLINE_HF_NOTES.md for this model and recipe (full fine-tuning 0.817, LoRA via peft at
    # lr 2e-3 0.796), by 0.027 and 0.036. The stand-in GPT-2 at these sizes measured
    # perplexity 1,884 -> 136 (ratio 0.072; asserted <= 0.1); the stand-in T5 test loss
    # 8.92 -> 3.81 (ratio 0.43; asserted <= 0.5) and beam-search BLEU 8.2 (asserted >= 6).
    "cpu": {
        "classifier_hub": "sentence-transformers/all-MiniLM-L6-v2", "generator_hub": "gpt2",
        "translator_hub": "Helsinki-NLP/opus-mt-de-en",
        "tok_chars": 500_000, "tok_vocab_sizes": [250, 500, 1000, 2000, 4000],
        "max_length": 64, "cls_train": 8530, "cls_test": 1066, "cls_batch": 32,
        "cls_epochs": 1, "cls_lr": 1e-4, "lora_lr": 2e-3, "lora_r": 8, "lora_alpha": 16,
        "warmup": 0.1, "min_cls_accuracy": 0.79, "min_lora_accuracy": 0.76,
        "module3_accuracy": 0.779,
        "gen_chars": 600_000, "gen_vocab": 2000, "gen_block": 128, "gen_layers": 2,
        "gen_d_model": 64, "gen_heads": 2, "gen_steps": 500, "gen_batch": 16, "gen_lr": 3e-3,
        "max_gen_perplexity_ratio": 0.1,
        "mt_train": 29000, "mt_test": 1000, "mt_vocab": 4000, "mt_d_model": 128,
        "mt_layers": 2, "mt_steps": 600, "mt_batch": 64, "mt_lr": 3e-3, "mt_beams": 4,
        "mt_compare": 200, "min_greedy_agreement": 0.95,
        "max_mt_loss_ratio": 0.5, "min_bleu": 6.0,
    },
}
MODULE_05["gpu"] = {  # gpu: the real models where the Hub answers, and longer runs
    **MODULE_05["cpu"], "classifier_hub": "bert-base-uncased", "cls_epochs": 2,
    "cls_lr": 5e-5, "lora_lr": 1e-3, "gen_steps": 2000, "mt_steps": 3000,
}

SIZES: dict[int, dict[str, dict]] = {
    0: MODULE_00,
    1: MODULE_01,
    2: MODULE_02,
    3: MODULE_03,
    4: MODULE_04,
    5: MODULE_05,
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
