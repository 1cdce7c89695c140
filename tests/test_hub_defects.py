"""The defects issue 24 found in the online and GPU paths, each pinned by a test (the ones
that need the local Hub are in tests/test_local_hub.py)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from course_lib.lora import count_trainable, inject_lora, query_value_names
from course_lib.machinery.profiles import CI_HUB, UNMEASURED_GPU, lookup, sizes_for, unmeasured_note
from course_lib.pretrained import mixed_precision_for, trainer_precision
from course_lib.project.final_project import Seq2SeqBatches, stand_in_tokenizer

ROOT = Path(__file__).parent.parent
CUDA = torch.device("cuda")


def model_of_type(model_type: str):
    return SimpleNamespace(config=SimpleNamespace(model_type=model_type))


def test_sentencepiece_is_a_dependency():
    """Marian's tokenizer (5.1.3, opus-mt-de-en) imports sentencepiece: install it."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    dependencies = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    assert re.search(r'^\s*"sentencepiece[>=<"]', dependencies, re.M)


def test_trainer_precision_is_fp16_on_cuda_only():
    """Module 5's TrainingArguments never set fp16 in the gpu profile."""
    bert = model_of_type("bert")
    assert trainer_precision(bert, CUDA, "fp16") == {"fp16": True}
    assert trainer_precision(bert, torch.device("cpu"), "fp16") == {}
    assert trainer_precision(bert, CUDA, "no") == {}
    from transformers import TrainingArguments

    args = TrainingArguments(
        output_dir="unused", use_cpu=True, **trainer_precision(bert, "cpu", "fp16")
    )
    assert not args.fp16 and not args.bf16


@pytest.mark.parametrize("bf16", [True, False])
def test_t5_trains_in_bf16_where_supported_else_fp32_never_fp16(monkeypatch, bf16):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    for wanted in ("fp16", "bf16"):
        assert mixed_precision_for(model_of_type("t5"), CUDA, wanted) == ("bf16" if bf16 else "no")
    assert trainer_precision(model_of_type("t5"), CUDA, "fp16") == ({"bf16": True} if bf16 else {})
    assert mixed_precision_for(model_of_type("marian"), CUDA, "fp16") == "fp16"


def test_unknown_precision_gets_a_clear_error():
    with pytest.raises(ValueError, match="use 'no', 'fp16' or 'bf16'"):
        mixed_precision_for(model_of_type("bert"), CUDA, "float16")


def test_epoch_estimate_counts_the_tokens_after_truncation():
    """Module 6 counted source tokens before the cut to max_source_tokens."""
    pairs = [("ein kurzer satz", "a short one"), (" ".join(["wort"] * 200), "many words")] * 5
    tokenizer = stand_in_tokenizer(pairs, 60)
    collate = Seq2SeqBatches(tokenizer, "prefix: ", max_source_tokens=16, max_target_tokens=4)
    sources, targets = collate.token_lengths(pairs[:2])
    batch = collate(pairs[:2])
    assert max(sources) == 16 and max(targets) <= 4
    assert sources == batch["attention_mask"].sum(1).tolist()  # exactly what the model reads
    assert targets == (batch["labels"] != -100).sum(1).tolist()


def test_scratch_lora_and_peft_train_the_same_weights_on_distilbert():
    """peft's modules_to_save matches by suffix: DistilBERT's pre_classifier trains too."""
    from peft import LoraConfig, get_peft_model
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(
        vocab_size=100, dim=32, n_layers=1, n_heads=2, hidden_dim=64, max_position_embeddings=64
    )
    scratch = DistilBertForSequenceClassification(config)
    targets = query_value_names(scratch)
    inject_lora(scratch, targets, r=8, alpha=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft = get_peft_model(
            DistilBertForSequenceClassification(config),
            LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16, target_modules=list(targets)),
        )
    assert count_trainable(scratch)[0] == peft.get_nb_trainable_parameters()[0]
    assert all(p.requires_grad for p in scratch.pre_classifier.parameters())


def test_ci_hub_names_apply_to_the_ci_profile_only_when_asked(monkeypatch):
    monkeypatch.delenv("COURSE_CI_HUB", raising=False)
    assert sizes_for(5, "ci")["generation"]["hub"] is None
    monkeypatch.setenv("COURSE_CI_HUB", "1")
    assert sizes_for(5, "ci")["generation"]["hub"] == "gpt2"
    assert sizes_for(6, "ci")["hub_model"] == "t5-small" == CI_HUB[6]["hub_model"]
    assert sizes_for(5, "cpu") == {**sizes_for(5, "cpu")} and sizes_for(4, "ci") == sizes_for(
        4, "ci"
    )
    assert sizes_for(6, "gpu")["min_margin"] is not None


def test_module_6_times_its_steps_in_the_precision_it_trains_with():
    """The epoch estimate timed fp32 steps while training ran in mixed precision."""
    source = (ROOT / "solutions" / "06_final_project.py").read_text(encoding="utf-8")
    timing = source[source.index('max_steps=sizes["speed_steps"]') :][:200]
    assert "mixed_precision=PRECISION" in timing
    assert '"mixed_precision": PRECISION' in source  # the training itself
    assert "collate.token_lengths(sample)" in source  # tokens after truncation


def test_module_5_passes_the_profiles_precision_to_each_trainer():
    source = (ROOT / "solutions" / "05_pretrained_transformers.py").read_text(encoding="utf-8")
    assert source.count("TrainingArguments(") == source.count("**precision(") == 3


def test_module_4_trains_every_model_in_the_profiles_precision():
    """4.1, 4.6, 4.7 and 4.9 trained through fit / train_language_model without autocast."""
    source = (ROOT / "solutions" / "04_transformer.py").read_text(encoding="utf-8")
    code = "\n".join(line for line in source.splitlines() if not line.startswith("#"))
    calls = re.findall(r"(?:\bfit|train_language_model)\((.*?)\)\n", code, re.S)
    assert len(calls) == 4
    for arguments in calls:
        assert "mixed_precision=precision" in arguments, arguments
    assert 'precision = training_settings(cfg.profile)["mixed_precision"]' in source


def test_no_unmeasured_gpu_threshold_is_stricter_than_the_measured_cpu_one():
    """gpu thresholds nobody measured: at most as strict as cpu's, which runs measured."""
    for module, keys in UNMEASURED_GPU.items():
        gpu, cpu = sizes_for(module, "gpu"), sizes_for(module, "cpu")
        for path in keys:
            on_gpu, on_cpu = lookup(gpu, path), lookup(cpu, path)
            if on_cpu is None:
                continue
            if "min_" in path:
                assert on_gpu <= on_cpu, (module, path)
            else:
                assert "max_" in path and on_gpu >= on_cpu, (module, path)
    assert unmeasured_note(4, "gpu").count("lm.max_ppl 6.3") == 1
    assert unmeasured_note(4, "cpu") is None and unmeasured_note(0, "gpu") is None
