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
    "cpu": {
        "steps": 400,
        # measured 2.05 nats below uniform (val loss 2.465, 2026-11-23); asserted with 0.15 margin
        "min_gain_nats": 1.9,
    },
    "gpu": {"steps": 400, "min_gain_nats": 1.9},  # the cpu sizes, so the cpu threshold
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
        "s2s_min_char_accuracy": 0.15,  # asserted: no-attention model (chance: 1/26 = 0.04)
        "s2s_attn_min_char_accuracy": 0.15,  # asserted: attention model
        "s2s_plain_max_val_loss": 3.4,  # asserted: no-attention val loss (ln 30 = 3.40: chance)
        "s2s_attn_max_val_loss": 3.4,  # asserted: attention val loss
        "s2s_long_from": 7,  # "long" sources: this length and up
        "s2s_attn_min_exact_long": 0.7,  # asserted: attention's worst exact match, long sources
        "s2s_plain_max_exact_long": 0.5,  # asserted: no-attention mean exact match, long sources
        "s2s_min_diagonal": 0.5,  # asserted: share of steps attending to the mirrored position
    },
    "cpu": {  # thresholds: measured values of 2026-11-23 minus the stated margin
        "grad_seq_len": 60,  # time steps in the gradient-norm measurement
        "char_max_names": 20074,  # all unique (language, surname) pairs (about 18,000)
        "char_emb": 32,  # character embedding size of the name model
        "char_hidden": 128,  # LSTM width of the name model
        "char_epochs": 6,  # passes over the training names
        "char_lr": 0.005,  # Adam learning rate of the name model
        "char_min_gain_nats": 2.4,  # asserted (measured 2.57 nats on 2026-11-23; margin 0.17)
        "w2v_sentences": 29000,  # all Multi30k English training captions
        "w2v_min_freq": 5,  # words rarer than this are dropped from the vocabulary
        "w2v_dim": 64,  # embedding size
        "w2v_epochs": 3,  # passes over the skip-gram pairs
        "w2v_batch": 1024,  # skip-gram pairs per batch
        "w2v_lr": 0.01,  # Adam learning rate of the skip-gram model
        "w2v_min_gain_nats": 1.8,  # asserted below 6 ln 2 (measured 1.97; margin 0.17)
        "w2v_min_similarity_gap": 0.45,  # asserted cosine gap (measured 0.54; margin 0.09)
        "s2s_train": 10000,  # reversal training pairs
        "s2s_min_len": 3,  # shortest source
        "s2s_max_len": 15,  # longest source (train and test)
        "s2s_test_per_length": 100,  # test strings generated per source length
        "s2s_emb": 32,  # character embedding size of encoder and decoder
        "s2s_hidden": 128,  # LSTM width of encoder and decoder
        "s2s_epochs": 5,  # passes over the training pairs
        "s2s_batch": 32,  # pairs per batch
        "s2s_lr": 0.005,  # Adam learning rate, decayed linearly to 0
        "s2s_min_char_accuracy": 0.85,  # asserted: no attention (measured 0.902; margin 0.05)
        "s2s_attn_min_char_accuracy": 0.98,  # asserted: attention (measured 1.000; margin 0.02)
        "s2s_plain_max_val_loss": 0.2,  # asserted: no attention (measured 0.126; margin 0.075)
        "s2s_attn_max_val_loss": 0.01,  # asserted: attention (measured 0.0001; margin 0.01)
        "s2s_long_from": 13,  # "long" sources: this length and up
        "s2s_attn_min_exact_long": 0.95,  # asserted: attention's worst exact match, long sources
        "s2s_plain_max_exact_long": 0.4,  # asserted: no attention, long (measured 0.28; +0.12)
        "s2s_min_diagonal": 0.97,  # asserted: attention on the mirror (measured 0.9999; -0.03)
    },
}
MODULE_01["gpu"] = dict(MODULE_01["cpu"])  # gpu: the cpu sizes (they already finish in minutes)

# Module 2 on a laptop CPU (MODULE_02["ci"] below comments every entry); gpu differs only
# in the lengths of the cost-of-attention measurement. Thresholds: the run of 2026-11-23
# (measured value and margin beside each); the time slope stays loose (shared machines).
_MODULE_02_CPU = {
    "scale_dims": [4, 16, 64, 256, 1024],
    "scale_samples": 4000,
    "min_unscaled_max_weight": 0.93,  # measured 0.962; margin 0.03
    "max_scaled_max_weight": 0.3,  # measured 0.248; margin 0.05
    "task_train": 3000,
    "task_val": 1000,
    "task_epochs": 8,
    "task_d_model": 32,
    "task_lr": 0.02,
    "batch_size": 64,
    "min_task_accuracy": 0.98,  # measured 0.9996 (sinusoidal), 1.000 (learned); margin 0.02
    "max_accuracy_without_positions": 0.25,  # measured 0.198; margin 0.05
    "min_head_focus": 0.7,  # measured 0.770 (left), 0.881 (right); margin 0.07
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
    # gpu: unmeasured; attention at these lengths may be launch-bound on a GPU: a loose slope
    "gpu": {**_MODULE_02_CPU, "cost_lengths": [256, 512, 1024, 2048, 4096], "min_time_slope": 0.5},
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
        "max_epochs": 2,  # at most this many passes over the 8,530 training sentences
        "patience": 1,  # early stopping: epochs without a better validation loss
        "lr": 5e-3,  # AdamW peak learning rate
        "warmup_steps": 20,  # linear warm-up steps, then linear decay to zero at max_epochs
        "seeds": [0],  # seeds of the encoder-vs-baseline comparison (one: ci stays fast)
        "min_test_accuracy": 0.62,  # asserted on the held-out test split (chance is 0.5)
        "min_test_f1": 0.6,  # asserted macro F1 on the test split
        "min_mean_test_accuracy": 0.62,  # asserted: encoder's mean test accuracy over seeds
        "min_baseline_accuracy": 0.6,  # asserted: bag of embeddings' mean test accuracy
        "min_gain_over_baseline": -0.1,  # asserted loosely: one seed, two epochs are noise
    },
    "cpu": {
        "flow_depth": 24,
        "flow_d_model": 64,
        "min_freq": 2,
        "max_tokens": 64,
        "d_model": 64,
        "num_heads": 4,
        "d_ff": 128,
        "num_layers": 2,
        "dropout": 0.3,
        "batch_size": 32,
        "max_epochs": 20,
        "patience": 2,
        "lr": 2e-3,
        "warmup_steps": 100,
        "seeds": [0, 1, 2],
        # Thresholds from the run of 2026-11-23 (seed 0 stopped after 4 epochs, best at 2):
        # seed 0 test accuracy 0.762, F1 0.762 (margin 0.02); encoder mean over seeds 0.756
        # (spread 0.016; margin 0.025); bag of embeddings 0.776 (spread 0.006; margin 0.015);
        # encoder minus baseline -0.019 (margin 0.04, 2.5 encoder spreads).
        "min_test_accuracy": 0.74,
        "min_test_f1": 0.74,
        "min_mean_test_accuracy": 0.73,
        "min_baseline_accuracy": 0.76,
        "min_gain_over_baseline": -0.06,
    },
    "gpu": {
        "flow_depth": 48,
        "flow_d_model": 64,
        "min_freq": 2,
        "max_tokens": 64,
        "d_model": 128,
        "num_heads": 8,
        "d_ff": 256,
        "num_layers": 2,
        "dropout": 0.3,
        "batch_size": 32,
        "max_epochs": 20,
        "patience": 2,
        "lr": 1e-3,
        "warmup_steps": 100,
        "seeds": [0, 1, 2],
        "min_test_accuracy": 0.72,
        "min_test_f1": 0.72,
        "min_mean_test_accuracy": 0.72,
        "min_baseline_accuracy": 0.72,
        "min_gain_over_baseline": -0.1,
    },
}

# The training engine (course_lib.training.train) per profile, whatever the module: pass
# ``TrainConfig(**training_settings(cfg.profile), ...)``. Tested without CUDA in
# tests/test_training_engine.py, so the first GPU run is not the first time these load.
# Checkpoints by wall time, the last one and best_model.pt kept: on Colab they go to Drive,
# where 4.8's 48M-parameter model weighs about 580 MB a checkpoint (weights + AdamW).
TRAINING = {
    "ci": {
        "mixed_precision": "no",  # CPU: autocast would only slow tiny models down
        "progress": False,  # no progress bar in the executed notebooks of CI
        "checkpoint_minutes": 0.05,  # a checkpoint every 3 s of training (and at the end)
        "keep_checkpoints": 1,  # the last checkpoint (and best_model.pt)
    },
    "cpu": {
        "mixed_precision": "no",  # CPU: float32, the safe default (bf16 speed varies by CPU)
        "progress": True,  # tqdm bar with loss, learning rate and tokens/s
        "checkpoint_minutes": 5,  # minutes of training between checkpoints (and at the end)
        "keep_checkpoints": 1,  # the last checkpoint (and best_model.pt)
    },
    "gpu": {
        "mixed_precision": "fp16",  # Colab's T4 has fast fp16 (not bf16): autocast + grad scaler
        "progress": True,  # tqdm bar with loss, learning rate and tokens/s
        "checkpoint_minutes": 10,  # minutes between checkpoints: a few writes to Drive a run
        "keep_checkpoints": 1,  # the last checkpoint (and best_model.pt)
    },
}

MODULE_04 = {  # the decoder, the full Transformer, decoding, toy task, decoder-only LM
    "ci": {
        "mask_demo_len": 8,  # positions in the causal-mask heat map
        "leak_window": 16,  # 4.1: characters per training window, with/without causal mask
        "leak_steps": 40,  # 4.1: optimisation steps of each of the two tiny models
        "speed_lengths": [4, 8, 16],  # 4.5: output lengths timed, cached vs uncached
        "kv_tokens": 24,  # 4.5a stretch: positions decoded one at a time, cost per step timed
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
        "toy_dropout": 0.0,  # 4.6/4.9: generated data is plentiful; dropout only slowed learning
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
        "lm_lr": 3e-3,  # 4.7: AdamW peak learning rate (Transformer and LSTM)
        "lm_dropout": 0.1,  # 4.7: dropout of the Transformer LM
        "lstm_hidden": 64,  # 4.7: width of Module 1's character LSTM baseline
        "lm_bpe_vocab": 300,  # 4.7 and benchmarks/lm_tokenization.py: byte-level BPE vocabulary
        "max_lm_ppl": 30.0,  # asserted: Transformer validation perplexity (uniform is 69)
        "max_ppl_ratio": 1.5,  # asserted: Transformer perplexity / LSTM perplexity
        "sample_chars": 80,  # 4.7: characters generated per sample
        "ablation_train": 600,  # 4.9: training pairs (the first n of 4.6's) per ablation row
        "ablation_epochs": 1,  # 4.9: passes over those pairs per ablation row
        "min_pe_gap": 0.0,  # asserted: exact match lost without positional encoding, at least
    },
    # cpu, measured 2026-11-23 (COURSE_THREADS=1, 2 shared cores) up to 4.5: cache speed-up
    # at 64 tokens 11.1x. 4.6/4.9 (2026-12-06, one thread): dropout took 25% of a toy step
    # and slowed learning; without it, lr 2e-3 and 60 warm-up steps, 2 epochs reach exact
    # match 1.000 in 55 s (with dropout 0.1, lr 1e-3, 200 warm-up: 0.55 after 2 epochs), and
    # one epoch (28 s a row) leaves the ablation rows apart: baseline 0.763, seed 0.780.
    # 4.7, measured on one thread for 600 steps of 32 x 128 characters (lr 3e-3): LSTM (256
    # wide) perplexity 5.90 in 51 s; Transformer 2 x 192 wide, no dropout, 5.86 in 196 s
    # (3 x 128: 7.53; 2 x 256: 5.67 in 326 s; 2 x 192 at lr 6e-3: 6.29). 1,200 steps with Adam
    # betas (0.9, 0.95) and 5% warm-up (2026-12-06, one thread each): Transformer 4.73 in
    # 488 s, LSTM 4.87 in 211 s; at 600 steps with those betas the LSTM reached 5.71, and 5.22
    # at lr 5e-3. Scoring with at least 64 characters of context for every character (windows
    # of 128, stride 64) moves both alike (2026-12-06): Transformer 5.83 -> 5.74, LSTM 5.90 ->
    # 5.79. The LM thresholds are 5.86 plus 0.45 and a ratio of 1.1. gpu: planned, never run.
    "cpu": {
        "mask_demo_len": 8,
        "leak_window": 32,
        "leak_steps": 300,
        "speed_lengths": [8, 16, 32, 64],
        "min_long_speedup": 1.5,
        "kv_tokens": 128,
        "toy_min_len": 5,
        "toy_max_len": 16,
        "toy_alphabet": 26,
        "toy_train": 20000,
        "toy_test": 1000,
        "toy_d_model": 128,
        "toy_heads": 4,
        "toy_d_ff": 256,
        "toy_layers": 2,
        "toy_batch": 64,
        "toy_dropout": 0.0,
        "toy_lr": 2e-3,
        "toy_warmup": 60,
        "toy_epochs": 2,
        "min_toy_exact": 0.99,
        "beam_test": 300,
        "lm_window": 128,
        "lm_val_chars": 50000,
        "lm_d_model": 192,
        "lm_heads": 4,
        "lm_layers": 2,
        "lm_batch": 32,
        "lm_steps": 600,
        "lm_lr": 3e-3,
        "lm_dropout": 0.0,
        "lstm_hidden": 256,
        "lm_bpe_vocab": 2048,
        "max_lm_ppl": 6.3,
        "max_ppl_ratio": 1.1,
        "sample_chars": 300,
        # 4.9: with dropout 0.1 and lr 1e-3, 1 epoch left every row near 0 exact match
        # (baseline 0.010); the settings above give 0.763 at 1 epoch and 1.000 at 2. The
        # positional-encoding gap measured 0.757 and 0.763 (seed noise 0.03): asserted >= 0.6.
        "ablation_train": 20000,
        "ablation_epochs": 1,
        "min_pe_gap": 0.6,
    },
    "gpu": {
        "mask_demo_len": 8,
        "leak_window": 64,
        "leak_steps": 500,
        # gpu thresholds: unmeasured (no GPU yet), set where any run that learned passes; see
        # UNMEASURED_GPU below. Small-model decoding on a GPU is bound by kernel launches, so
        # the cache may gain little there: asserted only that it costs at most 25% more.
        "speed_lengths": [16, 32, 64, 128],
        "min_long_speedup": 0.8,
        "kv_tokens": 256,
        "toy_min_len": 5,
        "toy_max_len": 30,
        "toy_alphabet": 26,
        "toy_train": 50000,
        "toy_test": 2000,
        "toy_d_model": 128,
        "toy_heads": 8,
        "toy_d_ff": 512,
        "toy_layers": 3,
        "toy_batch": 128,
        "toy_dropout": 0.0,
        "toy_lr": 7e-4,
        "toy_warmup": 500,
        "toy_epochs": 6,
        "min_toy_exact": 0.9,  # cpu measured 1.000 (lengths to 16); gpu lengths to 30
        "beam_test": 500,
        "lm_window": 256,
        "lm_val_chars": 100000,
        "lm_d_model": 384,
        "lm_heads": 6,
        "lm_layers": 6,
        "lm_batch": 64,
        "lm_steps": 5000,
        "lm_lr": 1e-3,
        "lm_dropout": 0.2,
        # the cpu thresholds (measured 5.86 by a smaller model in fewer steps; uniform is 69)
        "lstm_hidden": 512,
        "lm_bpe_vocab": 2048,
        "max_lm_ppl": 6.3,
        "max_ppl_ratio": 1.1,
        "sample_chars": 500,
        "ablation_train": 50000,
        "ablation_epochs": 1,
        "min_pe_gap": 0.3,
    },
}

# Module 4, section 4.8 and benchmarks/translation_table.py: Multi30k German -> English. Merged
# into Module 4's sizes (SIZES[4]); the "mt_" prefix keeps these keys apart from the rest.
MODULE_04_TRANSLATION = {
    "ci": {
        "mt_train_pairs": 400,  # Multi30k training pairs used (the first ones; 29,000 in all)
        "mt_test_pairs": 30,  # test 2016 pairs translated and scored (1,000 in all)
        "mt_vocab_size": 600,  # shared German + English BPE vocabulary
        "mt_max_len": 40,  # training pairs with a side longer than this (subwords) are dropped
        "mt_batch_tokens": 800,  # token budget of a batch: sentences x longest side
        "mt_d_model": 32,  # Transformer width (both Transformers of the table)
        "mt_heads": 2,  # attention heads per layer
        "mt_d_ff": 64,  # inner width of the feed-forward networks
        "mt_layers": 1,  # encoder layers, and as many decoder layers
        "mt_dropout": 0.1,  # dropout in embeddings, attention, feed-forward, residuals
        "mt_lr": 1e-2,  # peak learning rate (AdamW), reached at the end of the warm-up
        "mt_warmup": 10,  # warm-up steps; then the rate falls linearly to 0 at the budget's end
        "mt_label_smoothing": 0.1,  # share of the target probability spread over the vocabulary
        "mt_mixed_precision": "no",  # "no", "bf16" or "fp16" (course_lib.training.TrainConfig)
        "mt_minutes": 0.1,  # notebook: wall-time budget of the training (and of the schedule)
        "mt_beam_size": 4,  # beams in beam search
        "mt_max_extra_tokens": 10,  # a translation stops at <eos> or source length + this
        "mt_cache_sentences": 20,  # test sentences decoded with and without the key/value cache
        "mt_retrain": False,  # True: train again even if a finished checkpoint exists
        "mt_min_bleu": 0.5,  # asserted: greedy test BLEU at least (measured 7.8; 0 = no match)
        "mt_min_beam_bleu": None,  # asserted: beam-search test BLEU at least (None: not asserted)
        "mt_max_loss_ratio": 0.85,  # asserted: final train loss below this share of ln(vocab)
        "mt_min_cache_speedup": 1.0,  # asserted: cached greedy decoding this many times faster
        "mt_lstm_emb": 32,  # benchmark: LSTM embedding size (Module 1 models)
        "mt_lstm_hidden": 64,  # benchmark: LSTM width
        "mt_lstm_lr": 3e-3,  # benchmark: LSTM Adam learning rate (constant)
        "mt_speed_steps": 3,  # benchmark: timed training steps per Transformer (tokens/s ratio)
    },
    # cpu, measured 2026-11-23 on the quiet 2-core machine, 2 threads. With the paper's Noam
    # rate (factor 1, warm-up 400) the run stopped by time near the peak rate, and two runs of
    # the same settings gave 28.3 and 21.9 greedy BLEU. With TimeBudgetSchedule (peak 3e-3,
    # warm-up 150, linear fall to 0 at 15 minutes): 553 steps, 4,645 tokens/s -> test 2016
    # BLEU 34.3 greedy / 34.7 beam, cache 4.8x, loss ratio 0.32; whole notebook 1,551 s.
    # Thresholds: greedy and beam 30 (the course's bar; 4.3 below the measured run), loss
    # ratio 0.45, cache 3x (the course's bar). Two runs on 2026-12-06, the machine slower than
    # on 11-23: 434 steps (3,647 tokens/s), BLEU 31.3 greedy / 32.5 beam, cache 3.8x; then 498
    # steps (4,183 tokens/s), 32.9 / 34.7, loss ratio 0.31, cache 3.8x; whole notebook 1,994 s.
    # The recorded run of 2026-12-06 (after 4.6/4.9 were shortened): 499 steps (4,190
    # tokens/s), 33.1 / 34.3, cache 3.6x; whole notebook 1,517.5 s.
    "cpu": {
        "mt_train_pairs": 29000,
        "mt_test_pairs": 1000,
        "mt_vocab_size": 8000,
        "mt_max_len": 100,
        "mt_batch_tokens": 4096,
        "mt_d_model": 256,
        "mt_heads": 4,
        "mt_d_ff": 512,
        "mt_layers": 3,
        "mt_dropout": 0.1,
        "mt_lr": 3e-3,
        "mt_warmup": 150,
        "mt_label_smoothing": 0.1,
        "mt_mixed_precision": "no",
        "mt_minutes": 15,
        "mt_beam_size": 4,
        "mt_max_extra_tokens": 50,
        "mt_cache_sentences": 1000,
        "mt_retrain": False,
        "mt_min_bleu": 30.0,
        "mt_min_beam_bleu": 30.0,
        "mt_max_loss_ratio": 0.45,
        "mt_min_cache_speedup": 3.0,
        "mt_lstm_emb": 256,
        "mt_lstm_hidden": 512,
        "mt_lstm_lr": 1e-3,
        "mt_speed_steps": 30,
    },
    "gpu": {
        "mt_train_pairs": 29000,
        "mt_test_pairs": 1000,
        "mt_vocab_size": 8000,
        "mt_max_len": 100,
        "mt_batch_tokens": 8192,
        "mt_d_model": 512,
        "mt_heads": 8,
        "mt_d_ff": 2048,
        "mt_layers": 6,
        "mt_dropout": 0.1,
        "mt_lr": 1e-3,
        "mt_warmup": 1000,
        # 15 minutes (was 20): the notebook stays under 30 minutes on a T4 by
        # benchmarks/gpu_estimate.py (about 4,000 steps of this model in fp16)
        "mt_label_smoothing": 0.1,
        "mt_mixed_precision": "fp16",
        "mt_minutes": 15,
        "mt_beam_size": 5,
        "mt_max_extra_tokens": 50,
        "mt_cache_sentences": 1000,
        "mt_retrain": False,
        "mt_min_bleu": 30.0,
        # unmeasured: the cpu thresholds (cpu measured 31-34 BLEU, loss ratio 0.31-0.32 with
        # a smaller model); the course's target of 38 beam BLEU stays a printed goal. The
        # cache: batched GPU decoding is launch-bound, asserted only not slower.
        "mt_min_beam_bleu": 30.0,
        "mt_max_loss_ratio": 0.45,
        "mt_min_cache_speedup": 1.0,
        "mt_lstm_emb": 256,
        "mt_lstm_hidden": 512,
        "mt_lstm_lr": 1e-3,
        "mt_speed_steps": 50,
    },
}

MODULE_05 = {  # pre-trained Transformers with Hugging Face: tokenizers, Trainer, generation, LoRA
    "ci": {
        "classifier_hub": None,  # Hub model for 5.3.1 (None: the packaged MiniLM, no probe)
        "generator_hub": None,  # Hub model for 5.3.2 (None: a small GPT-2 trained here)
        "translator_hub": None,  # Hub model for 5.3.3 (None: a small T5 trained here)
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
        "classifier_hub": "sentence-transformers/all-MiniLM-L6-v2",
        "generator_hub": "gpt2",
        "translator_hub": "Helsinki-NLP/opus-mt-de-en",
        "tok_chars": 500_000,
        "tok_vocab_sizes": [250, 500, 1000, 2000, 4000],
        "max_length": 64,
        "cls_train": 8530,
        "cls_test": 1066,
        "cls_batch": 32,
        "cls_epochs": 1,
        "cls_lr": 1e-4,
        "lora_lr": 2e-3,
        "lora_r": 8,
        "lora_alpha": 16,
        # measured (lead, 2026-11-23; one thread, then again with two on a quiet machine, 14.6
        # minutes for the notebook): full fine-tuning 0.825, LoRA 0.821 (ours) and 0.813 (peft)
        # on the 1,066 test sentences; thresholds are those minus ~0.02. Trainer's
        # group_by_length sampler cut the full epoch from 229 s to 145 s but left LoRA (ours)
        # at 0.790, 3.6 points behind full fine-tuning: not used.
        "warmup": 0.1,
        "min_cls_accuracy": 0.80,
        "min_lora_accuracy": 0.79,
        "module3_accuracy": 0.779,
        "gen_chars": 600_000,
        "gen_vocab": 2000,
        "gen_block": 128,
        "gen_layers": 2,
        "gen_d_model": 64,
        "gen_heads": 2,
        "gen_steps": 500,
        "gen_batch": 16,
        "gen_lr": 3e-3,
        "max_gen_perplexity_ratio": 0.1,
        "mt_train": 29000,
        "mt_test": 1000,
        "mt_vocab": 4000,
        "mt_d_model": 128,
        "mt_layers": 2,
        "mt_steps": 600,
        "mt_batch": 64,
        "mt_lr": 3e-3,
        "mt_beams": 4,
        "mt_compare": 200,
        "min_greedy_agreement": 0.95,
        "max_mt_loss_ratio": 0.5,
        "min_bleu": 6.0,
    },
}
MODULE_05["gpu"] = {  # gpu: the real models where the Hub answers, and longer runs
    **MODULE_05["cpu"],
    "classifier_hub": "bert-base-uncased",
    "cls_epochs": 2,
    "cls_lr": 5e-5,
    "lora_lr": 1e-3,
    "gen_steps": 2000,
    "mt_steps": 3000,
    # unmeasured for bert-base-uncased (MiniLM measured 0.825 / 0.821 in cpu): well above
    # chance (0.5), below what BERT-base usually reaches (about 0.85)
    "min_cls_accuracy": 0.75,
    "min_lora_accuracy": 0.7,
}

MODULE_06 = {  # final project: your data, train or fine-tune, evaluate, optimise, ship
    "ci": {
        "task": "translation",  # the worked example: German -> English from a JSONL file
        "hub_model": None,  # no Hub model: a T5 built from a config (stand-in) is trained
        "prefix": "",  # put before every source (T5's task prefix)
        "examples": 1200,  # pairs read from the data file (None: all)
        "val_fraction": 0.1,  # share of the data file held out for validation
        "vocab_size": 500,  # BPE vocabulary of the stand-in, learnt on the training pairs
        "d_model": 64,  # stand-in T5: width
        "num_layers": 1,  # stand-in T5: encoder layers (and as many decoder layers)
        "num_heads": 4,  # stand-in T5: attention heads
        "d_ff": 128,  # stand-in T5: feed-forward width
        "dropout": 0.1,  # stand-in T5: dropout
        "lora_r": 8,  # LoRA rank (when the rule of thumb picks LoRA)
        "max_source_tokens": 64,  # sources are cut to this many tokens
        "max_target_tokens": 64,  # targets are cut to this many tokens
        "batch_tokens": 800,  # token budget of a batch (Module 4's batches; None: batch_size)
        "batch_size": 32,  # pairs per training batch, when batch_tokens is None
        "epochs": 2,  # passes over the training pairs (or until max_minutes)
        "max_minutes": 5,  # training time budget (ci stops by epochs: same result when loaded)
        "lr": 1e-2,  # AdamW peak learning rate (linear warm-up, then linear fall to 0)
        "warmup_steps": 10,  # warm-up steps
        "label_smoothing": 0.1,  # share of the target spread over the vocabulary (Module 4)
        "speed_steps": 3,  # timed training steps for the epoch-time estimate
        "eval_examples": 100,  # test pairs scored (all of them in the cpu profile)
        "max_new_tokens": 32,  # longest generated prediction
        "num_beams": 1,  # 1: greedy decoding
        "optimise_examples": 16,  # test sources timed in each optimisation variant
        "min_val_loss_drop": 0.5,  # asserted: validation loss falls this much (nats) in training
        "min_margin": 0.2,  # asserted: main metric above the baseline's (measured 0.40 BLEU)
    },
    "cpu": {  # Module 4's recipe and sizes (MODULE_04_TRANSLATION, 4.8) in a Hugging Face T5
        "task": "translation",
        "hub_model": None,
        "prefix": "",
        "examples": None,
        "val_fraction": 0.035,  # 1,015 validation pairs: training keeps 27,985 of the 29,000
        "vocab_size": 8000,
        "d_model": 256,
        "num_layers": 3,
        "num_heads": 4,  # d_kv = d_model / num_heads = 64
        "d_ff": 512,
        "dropout": 0.1,
        "lora_r": 8,
        "max_source_tokens": 100,
        "max_target_tokens": 100,
        "batch_tokens": 4096,
        "batch_size": None,
        "epochs": 30,  # more than 15 minutes hold: the budget stops the run
        "max_minutes": 15,
        "lr": 3e-3,
        "warmup_steps": 150,
        "label_smoothing": 0.1,
        "speed_steps": 5,
        "eval_examples": 1000,  # all of test 2016, the pairs Module 4 scores
        "max_new_tokens": 100,
        "num_beams": 1,
        "optimise_examples": 48,
        # PROVISIONAL thresholds, set low so that a reference run ends (the lead sets them
        # from the cpu reference run on a quiet machine; the old recipe, d_model 128 and 12
        # minutes, measured a margin of 10.7 BLEU on 500 held-out pairs). Equal-step runs
        # (2026-12-07, busy machine, one thread each, this recipe with the schedule scaled to
        # the steps, greedy BLEU on the first 300 test 2016 pairs): 250 steps: Module 4's
        # Transformer 6.5 BLEU (loss 4.52), this T5 2.0 (loss 5.24); 120 steps: 0.6 / 1.5
        # (T5 at lr 1e-3: 1.9, loss 5.86 against 5.42 at 3e-3); T5 ~20% fewer tokens/s.
        "min_val_loss_drop": 4.0,
        "min_margin": 10.0,
    },
    "gpu": {  # not run here (no GPU, no network): thresholds unmeasured, to set on Colab
        # 10,000 examples (was 20,000) and 20 minutes (was 30): t5-small trains in fp32 on a
        # T4 (no fp16 for T5, no native bf16 on a T4), one epoch about 13 minutes by
        # benchmarks/gpu_estimate.py; the notebook stays under 30 minutes
        "task": "summarisation",
        "hub_model": "t5-small",
        "prefix": "summarize: ",
        "examples": 10000,
        "val_fraction": 0.1,
        "vocab_size": None,
        "d_model": None,
        "num_layers": None,
        "num_heads": None,
        "d_ff": None,
        "dropout": None,
        "lora_r": 8,
        "max_source_tokens": 512,
        "max_target_tokens": 128,
        "batch_tokens": None,
        "batch_size": 16,
        "epochs": 1,
        "max_minutes": 20,
        "lr": 1e-3,
        "warmup_steps": 100,
        "label_smoothing": 0.0,  # fine-tuning: the model's own loss
        "speed_steps": 10,
        "eval_examples": 500,
        "max_new_tokens": 96,
        "num_beams": 4,
        "optimise_examples": 50,
        # unmeasured: t5-small was pre-trained on CNN/DailyMail among other tasks, so its loss
        # may fall little, and lead-3 is a strong baseline: asserted that the loss does not
        # rise and that ROUGE-L stays within 5 points of lead-3
        "min_val_loss_drop": 0.0,
        "min_margin": -5.0,
    },
}

# Module 4's 4.8 result in the cpu profile, as recorded (course run 4 --solution, quiet 2-core
# machine, 2 threads): notebook 06 sets its offline worked example beside it, on the same
# test pairs. "noise": the gap read as level (the final project's target: within 3 BLEU).
MODULE_04_CPU_RESULT = {
    "bleu": 37.0,  # greedy, sacrebleu corpus BLEU on detokenised text (beam of 4: 37.6)
    "test_pairs": 1000,  # all of test 2016
    "steps": 780,
    "minutes": 15,
    "machine": "2-core CPU",
    "date": "2026-12-07",
    "noise": 3.0,
}

# The ci profile against the tests' local Hugging Face Hub (tests/local_hub.py), when
# COURSE_CI_HUB=1: the Hub names of the cpu and gpu profiles at ci sizes, so CI runs every
# online branch of notebooks 05 and 06 (tests/test_online_notebooks.py). The local Hub's
# models are tiny and random, so the thresholds only a pre-trained model meets are not
# asserted there (None); the offline pass asserts learning.
CI_HUB = {
    5: {
        "classifier_hub": MODULE_05["gpu"]["classifier_hub"],  # bert-base-uncased
        "min_cls_accuracy": None,
        "min_lora_accuracy": None,  # a random BERT learns little
        "lora_r": 1,
        "lora_alpha": 2,  # LoRA under 1% of a 64-wide BERT, as of bert-base
        "generator_hub": MODULE_05["cpu"]["generator_hub"],
        "translator_hub": MODULE_05["cpu"]["translator_hub"],
        "min_bleu": None,  # a random Marian translates nothing
        # A random Marian never ends a sentence: at the length cap generate puts opus-mt's
        # forced </s> where Module 4's loop puts a word (tests/test_local_hub.py compares
        # the two greedy decodings within the cap instead).
        "min_greedy_agreement": None,
    },
    6: {
        "task": "summarisation",
        "hub_model": MODULE_06["gpu"]["hub_model"],
        "prefix": MODULE_06["gpu"]["prefix"],
        "examples": 300,
        "max_source_tokens": 128,
        "max_target_tokens": 48,
        "max_new_tokens": 24,
        "num_beams": 2,
        "eval_examples": 30,
        "optimise_examples": 8,
        "min_val_loss_drop": None,
        "min_margin": None,
    },
}

# The gpu thresholds nobody has measured (no GPU run yet): set where any run that learned
# passes. Notebooks 04-06 print unmeasured_note(); a measured run replaces them as in cpu.
UNMEASURED_GPU = {
    2: ("min_time_slope",),
    4: (
        "min_long_speedup",
        "min_toy_exact",
        "max_lm_ppl",
        "max_ppl_ratio",
        "mt_min_bleu",
        "mt_min_beam_bleu",
        "mt_max_loss_ratio",
        "mt_min_cache_speedup",
        "min_pe_gap",
    ),
    5: ("min_cls_accuracy", "min_lora_accuracy"),
    6: ("min_val_loss_drop", "min_margin"),
}

SIZES: dict[int, dict[str, dict]] = {
    0: MODULE_00,
    1: MODULE_01,
    2: MODULE_02,
    3: MODULE_03,
    4: {p: {**MODULE_04[p], **MODULE_04_TRANSLATION[p]} for p in PROFILES},
    5: MODULE_05,
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
    """The size table of one module in one profile (a fresh copy, safe to edit); in ``ci``
    with ``COURSE_CI_HUB=1``, with the Hub names of :data:`CI_HUB`."""
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}; use one of {', '.join(PROFILES)}.")
    if module not in SIZES:
        known = ", ".join(str(m) for m in sorted(SIZES))
        raise KeyError(f"No sizes for module {module}; modules with sizes: {known}.")
    sizes = dict(SIZES[module][profile])
    if profile == "ci" and os.environ.get("COURSE_CI_HUB", "").strip() == "1":
        sizes.update(CI_HUB.get(module, {}))
    return sizes


def unmeasured_note(module: int, profile: str) -> str | None:
    """One line naming ``module``'s thresholds in ``profile`` that were never measured, with
    their values (``None`` when all were measured)."""
    if profile != "gpu" or not UNMEASURED_GPU.get(module):
        return None
    sizes = sizes_for(module, profile)
    values = ", ".join(f"{key} {sizes[key]}" for key in UNMEASURED_GPU[module])
    return (
        f"Unmeasured gpu thresholds (no GPU run yet; set where any run that learned "
        f"passes): {values}."
    )


def training_settings(profile: str) -> dict:
    """The training engine's settings in ``profile`` (a fresh copy), e.g.
    ``{"mixed_precision": "fp16", "progress": True}`` for ``gpu``."""
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}; use one of {', '.join(PROFILES)}.")
    return dict(TRAINING[profile])
