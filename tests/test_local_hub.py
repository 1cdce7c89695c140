"""The course online, against the tests' local Hugging Face Hub (conftest.py ``local_hub``).

One subprocess (tests/online_checks.py, pointed at the hub, offline variables removed) runs
every online function of the course; a second, with ``HF_HUB_OFFLINE=1`` and the cache the
first filled, checks that a cached model is used offline. The rest of the suite stays
offline: only those processes see the hub.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run_checks(env: dict, phase: str, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "online_checks.py"), phase, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def online(local_hub, tmp_path_factory):
    folder = tmp_path_factory.mktemp("online")
    env = local_hub.environment(folder / "hf_home")
    start = len(local_hub.requests)
    results = run_checks(env, "online", folder / "online.json")
    requests = list(local_hub.requests[start:])
    cached_env = {**env, "HF_HUB_OFFLINE": "1"}
    cached = run_checks(cached_env, "cached", folder / "cached.json")
    return {
        **results,
        **cached,
        "requests": requests,
        "cached_requests": local_hub.requests[start + len(requests) :],
    }


def value(results: dict, name: str):
    outcome = results[name]
    assert outcome["ok"], outcome.get("error")
    return outcome["value"]


def test_the_hub_answers_on_loopback_only(local_hub):
    assert local_hub.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{local_hub.url}/api/models/gpt2") as answer:
        info = json.load(answer)
    assert info["id"] == "gpt2" and {"rfilename": "config.json"} in info["siblings"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{local_hub.url}/gpt2/resolve/main/no-such-file.bin")
    assert missing.value.code == 404 and missing.value.headers["X-Error-Code"] == "EntryNotFound"


def test_choose_model_uses_each_hub_name_when_the_hub_answers(online):
    assert value(online, "online_choose_model") == {
        "bert-base-uncased": True,
        "gpt2": True,
        "Helsinki-NLP/opus-mt-de-en": True,
        "t5-small": True,
    }


def test_each_named_model_loads_with_its_real_classes(online):
    assert value(online, "online_load_models") == {
        "bert-base-uncased": ["BertForSequenceClassification", "BertTokenizer"],
        "sentence-transformers/all-MiniLM-L6-v2": [
            "BertForSequenceClassification",
            "BertTokenizer",
        ],
        "gpt2": ["GPT2LMHeadModel", "GPT2Tokenizer"],
        "Helsinki-NLP/opus-mt-de-en": ["MarianMTModel", "MarianTokenizer"],  # sentencepiece
        "t5-small": ["T5ForConditionalGeneration", "T5Tokenizer"],
    }


def test_greedy_is_asked_for_explicitly_because_opus_mt_defaults_to_beams(online):
    """The 5.1.3 defect: ``generate()`` without options ran opus-mt's 4 beams."""
    settings = value(online, "online_generation_settings")
    assert settings["default"] == "beam search (4 beams)"
    assert settings["greedy"] == "greedy" and settings["beams"] == "beam search (3 beams)"
    assert settings["generate_greedy"] == settings["course_greedy"]  # Module 4's greedy loop


def test_cnn_dailymail_reads_only_the_training_split(online):
    """The Module 6 defect: ``split="train[:N]"`` downloaded every split to keep N rows."""
    assert value(online, "online_cnn_dailymail") == {
        "rows": 25,
        "keys": ["source", "target"],
        "one_line_target": True,
    }
    files = {
        path.split("?")[0].rsplit("/", 1)[-1]
        for method, path in online["requests"]
        if method == "GET" and path.endswith(".parquet")
    }
    assert files == {"train-00000-of-00001.parquet"}


def test_peft_and_the_scratch_lora_count_alike_on_each_architecture(online):
    counts = value(online, "online_peft_each_architecture")
    for name in ("bert-base-uncased", "Helsinki-NLP/opus-mt-de-en", "t5-small"):
        ours, theirs = counts[name]
        assert ours == theirs > 0, name
    trainable, finite = counts["gpt2"]
    assert trainable > 0 and finite


def test_a_cached_model_is_used_offline_instead_of_the_stand_in(online):
    """The Module 5 defect: with HF_HUB_OFFLINE=1 and gpt2 cached, the stand-in was used."""
    cached = value(online, "cached_choose_model")
    assert cached["from_hub"] and cached["model"] == "GPT2LMHeadModel"
    assert "gpt2 from the local Hugging Face cache (HF_HUB_OFFLINE=1)" in cached["note"]
    assert cached["uncached_stand_in"] and cached["uncached_source"] == "tiny-gpt2"
    assert online["cached_requests"] == []  # offline means no request at all


def test_the_maintainers_script_starts_the_same_hub(load_script, capsys):
    script = load_script("scripts/local_hub.py")
    with pytest.raises(SystemExit) as done:
        script.main(["--help"])
    assert done.value.code == 0 and "--port" in capsys.readouterr().out
