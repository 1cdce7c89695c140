"""Run inside a process pointed at the tests' local Hub (tests/test_local_hub.py starts it):
each online function of the course, its outcome written as JSON to ``sys.argv[2]``.

``python tests/online_checks.py online OUT.json``: the models by their Hub names through the
course's loaders, generation settings, CNN/DailyMail streaming, peft on each architecture.
``python tests/online_checks.py cached OUT.json`` (``HF_HUB_OFFLINE=1``, the same
``HF_HOME``): what ``choose_model`` picks for a cached and an uncached name.
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from pathlib import Path

import torch


def online_choose_model():
    from course_lib.pretrained import choose_model

    names = ("bert-base-uncased", "gpt2", "Helsinki-NLP/opus-mt-de-en", "t5-small")
    return {name: choose_model("task", name, "stand-in", "unused").from_hub for name in names}


def online_load_models():
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    from course_lib.pretrained import MINILM, choose_model
    from course_lib.project.final_project import pretrained_seq2seq

    loaded = {}
    for name, auto, stand_in in (
        ("bert-base-uncased", AutoModelForSequenceClassification, MINILM),
        ("sentence-transformers/all-MiniLM-L6-v2", AutoModelForSequenceClassification, MINILM),
        ("gpt2", AutoModelForCausalLM, "tiny-gpt2"),
        ("Helsinki-NLP/opus-mt-de-en", AutoModelForSeq2SeqLM, "tiny-t5"),
    ):
        source = choose_model("task", name, stand_in, "unused").source  # as the notebooks do
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = auto.from_pretrained(
            source, **({"num_labels": 2} if "Sequence" in auto.__name__ else {})
        )
        loaded[source] = [type(model).__name__, type(tokenizer).__name__]
    model, tokenizer = pretrained_seq2seq(choose_model("task", "t5-small", "", "").source, 8)
    loaded["t5-small"] = [type(model.base_model.model).__name__, type(tokenizer).__name__]
    return loaded


def online_generation_settings():
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from course_lib.decoding import transformer_greedy_decode
    from course_lib.pretrained import GREEDY, decoding_name
    from course_lib.seq2seq_adapter import HuggingFaceSeq2Seq

    name = "Helsinki-NLP/opus-mt-de-en"
    model = AutoModelForSeq2SeqLM.from_pretrained(name).eval()
    tokenizer = AutoTokenizer.from_pretrained(name)
    batch = tokenizer(
        ["Zwei Hunde spielen im Schnee.", "Ein Mann liest."], return_tensors="pt", padding=True
    )
    with torch.no_grad():
        theirs = model.generate(**batch, max_new_tokens=12, **GREEDY)  # the 12th: forced </s>
    adapter = HuggingFaceSeq2Seq(model)
    ours = transformer_greedy_decode(
        adapter,
        batch["input_ids"],
        batch["attention_mask"] == 0,
        adapter.bos_id,
        adapter.eos_id,
        11,
        use_cache=False,
    )
    return {
        "default": decoding_name(model, {}),
        "greedy": decoding_name(model, GREEDY),
        "beams": decoding_name(model, {**GREEDY, "num_beams": 3}),
        "generate_greedy": tokenizer.batch_decode(theirs, skip_special_tokens=True),
        "course_greedy": tokenizer.batch_decode(ours, skip_special_tokens=True),
    }


def online_cnn_dailymail():
    from course_lib.project.final_project import write_cnn_dailymail_jsonl

    path = write_cnn_dailymail_jsonl(Path(tempfile.mkdtemp()) / "news.jsonl", 25)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {
        "rows": len(rows),
        "keys": sorted(rows[0]),
        "one_line_target": "\n" not in rows[0]["target"],
    }


def online_peft_each_architecture():
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoModelForSequenceClassification,
    )

    from course_lib.lora import count_trainable, inject_lora, query_value_names

    counts = {}
    for name, auto, task, head in (
        (
            "bert-base-uncased",
            AutoModelForSequenceClassification,
            TaskType.SEQ_CLS,
            ("classifier",),
        ),
        ("Helsinki-NLP/opus-mt-de-en", AutoModelForSeq2SeqLM, TaskType.SEQ_2_SEQ_LM, ()),
        ("t5-small", AutoModelForSeq2SeqLM, TaskType.SEQ_2_SEQ_LM, ()),
    ):
        kwargs = {"num_labels": 2} if head else {}
        scratch = auto.from_pretrained(name, **kwargs)
        targets = query_value_names(scratch)
        inject_lora(scratch, targets, r=4, alpha=8, trainable_modules=head)
        peft = get_peft_model(
            auto.from_pretrained(name, **kwargs),
            LoraConfig(task_type=task, r=4, lora_alpha=8, target_modules=list(targets)),
        )
        counts[name] = [count_trainable(scratch)[0], peft.get_nb_trainable_parameters()[0]]
    gpt2 = get_peft_model(
        AutoModelForCausalLM.from_pretrained("gpt2"),
        LoraConfig(task_type=TaskType.CAUSAL_LM, r=4, lora_alpha=8, target_modules=["c_attn"]),
    )
    loss = gpt2(input_ids=torch.tensor([[1, 2, 3, 4]]), labels=torch.tensor([[1, 2, 3, 4]])).loss
    loss.backward()
    counts["gpt2"] = [gpt2.get_nb_trainable_parameters()[0], bool(torch.isfinite(loss))]
    return counts


def cached_choose_model():
    from transformers import AutoModelForCausalLM

    from course_lib.pretrained import choose_model

    cached = choose_model("generation", "gpt2", "tiny-gpt2", "unused")
    model = AutoModelForCausalLM.from_pretrained(cached.source)
    missing = choose_model("generation", "distilgpt2", "tiny-gpt2", "unused")
    return {
        "from_hub": cached.from_hub,
        "note": cached.note,
        "model": type(model).__name__,
        "uncached_stand_in": missing.stand_in,
        "uncached_source": missing.source,
    }


def main() -> None:
    phase, out = sys.argv[1], Path(sys.argv[2])
    results = {}
    for name, function in list(globals().items()):
        if name.startswith(phase + "_") and callable(function):
            try:
                results[name] = {"ok": True, "value": function()}
            except Exception:  # noqa: BLE001 - every failure is reported to the test
                results[name] = {"ok": False, "error": traceback.format_exc()}
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
