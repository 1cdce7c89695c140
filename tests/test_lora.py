"""LoRA from scratch equals peft's on the same model and the same A/B."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from course_lib.lora import (
    LoRALinear,
    copy_lora_from_peft,
    count_trainable,
    inject_lora,
    lora_state_dict,
    merge_lora,
)


def tiny_bert(seed: int = 0) -> BertForSequenceClassification:
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, max_position_embeddings=32)
    torch.manual_seed(seed)
    return BertForSequenceClassification(config).eval()


def randomise_b(layer: LoRALinear) -> None:
    with torch.no_grad():
        layer.lora_B.normal_()


@pytest.mark.parametrize("seed", range(3))
def test_equals_base_at_init_and_merged_equals_unmerged(seed):
    torch.manual_seed(seed)
    base = nn.Linear(12, 7)
    layer = LoRALinear(base, r=4, alpha=8)
    x = torch.randn(3, 5, 12)
    torch.testing.assert_close(layer(x), base(x))
    randomise_b(layer)
    assert not torch.allclose(layer(x), base(x))
    expected = base(x) + 2.0 * (x @ layer.lora_A.T @ layer.lora_B.T)
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.merged()(x), layer(x))


def test_only_a_and_b_train():
    layer = LoRALinear(nn.Linear(6, 4), r=2)
    assert {n for n, p in layer.named_parameters() if p.requires_grad} == {"lora_A", "lora_B"}
    layer(torch.randn(2, 6)).sum().backward()
    assert layer.base.weight.grad is None and layer.lora_A.grad is not None


def lora_pair(seed: int = 0):
    ours = tiny_bert(seed)
    wrapped = inject_lora(ours, ("query", "value"), r=8, alpha=16)
    config = LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16, target_modules=["query", "value"])
    theirs = get_peft_model(tiny_bert(seed), config).eval()
    return ours, wrapped, theirs


def test_trainable_count_equals_peft():
    ours, wrapped, theirs = lora_pair()
    assert len(wrapped) == 4  # 2 layers x (query, value)
    assert count_trainable(ours)[0] == theirs.get_nb_trainable_parameters()[0]
    assert set(lora_state_dict(ours)) == {
        n for n, p in ours.named_parameters() if "lora_" in n or n.startswith("classifier.")
    }


@pytest.mark.parametrize("seed", range(3))
def test_same_outputs_as_peft_with_the_same_a_and_b(seed):
    ours, _, theirs = lora_pair(seed)
    torch.manual_seed(100 + seed)
    for module in theirs.modules():
        if isinstance(getattr(module, "lora_B", None), nn.ModuleDict):
            nn.init.normal_(module.lora_B["default"].weight)
    assert copy_lora_from_peft(ours, theirs) == 4
    ids = torch.randint(0, 100, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    ours.eval()
    expected = theirs(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(ours(input_ids=ids, attention_mask=mask).logits, expected)
    assert not torch.allclose(expected, tiny_bert(seed)(input_ids=ids, attention_mask=mask).logits)
    merged = merge_lora(ours)
    assert not any(isinstance(m, LoRALinear) for m in merged.modules())
    assert any(isinstance(m, LoRALinear) for m in ours.modules())  # a new model; ours is kept
    torch.testing.assert_close(merged(input_ids=ids, attention_mask=mask).logits, expected)


def test_bad_input_says_what_to_do():
    with pytest.raises(TypeError, match="wraps an nn.Linear"):
        LoRALinear(nn.Conv1d(3, 3, 1))
    with pytest.raises(ValueError, match="print\\(model\\)"):
        inject_lora(tiny_bert(), ("q_proj",))


def test_query_value_names_of_bert_and_a_clear_error_elsewhere():
    from course_lib.lora import query_value_names

    assert query_value_names(tiny_bert()) == ("query", "value")
    with pytest.raises(ValueError, match="target_modules"):
        query_value_names(nn.Sequential(nn.Linear(2, 2)))


def test_merge_lora_needs_an_adapter_and_keeps_the_original():
    from peft import LoraConfig, get_peft_model

    with pytest.raises(TypeError, match="no LoRA adapter"):
        merge_lora(nn.Linear(2, 2))
    base = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    adapted = get_peft_model(base, LoraConfig(r=2, target_modules=["0"], init_lora_weights=False))
    x = torch.randn(5, 8)
    merged = merge_lora(adapted)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    torch.testing.assert_close(merged(x), adapted(x))
    assert any("lora" in n for n, _ in adapted.named_parameters())
