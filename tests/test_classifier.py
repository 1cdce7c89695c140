"""The encoder classifier, masked pooling, and the classification metrics of training.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from sklearn.metrics import confusion_matrix as sk_confusion

from course_lib.classifier import TransformerClassifier, masked_mean_pool
from course_lib.data import collate_labelled, make_loader, padding_mask
from course_lib.metrics import (
    class_probabilities,
    classification_metrics,
    confusion_matrix,
    evaluate_classifier,
)
from course_lib.schedules import linear_warmup_schedule
from course_lib.training import fit


def logits_fn(model, batch):
    return model(batch["ids"], batch["padding_mask"])


def test_masked_mean_pool_ignores_padding():
    x = torch.arange(24, dtype=torch.float32).reshape(2, 4, 3)
    mask = padding_mask(torch.tensor([4, 2]), 4)
    pooled = masked_mean_pool(x, mask)
    torch.testing.assert_close(pooled[0], x[0].mean(0))
    torch.testing.assert_close(pooled[1], x[1, :2].mean(0))
    torch.testing.assert_close(masked_mean_pool(x), x.mean(1))
    all_padding = torch.ones(2, 4, dtype=torch.bool)
    assert masked_mean_pool(x, all_padding).abs().sum() == 0


def test_masked_mean_pool_rejects_bad_mask():
    with pytest.raises(TypeError, match="bool"):
        masked_mean_pool(torch.randn(2, 4, 3), torch.zeros(2, 4))


def test_classifier_logits_ignore_padding_and_train_every_parameter():
    torch.manual_seed(0)
    model = TransformerClassifier(50, 3, d_model=16, num_heads=2, d_ff=32, num_layers=2).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    mask = ids == 0
    with torch.no_grad():
        logits = model(ids, mask)
        alone = model(ids[:1, :3], mask[:1, :3])
    assert logits.shape == (2, 3)
    torch.testing.assert_close(alone[0], logits[0])
    model.train()
    F.cross_entropy(model(ids, mask), torch.tensor([0, 2])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        if name != "encoder.embedding.weight":
            assert p.grad.abs().sum() > 0, name
    assert model.encoder.embedding.weight.grad[0].abs().sum() == 0  # padding never trains


def test_metrics_equal_sklearn():
    gen = torch.Generator().manual_seed(0)
    pred = torch.randint(0, 3, (200,), generator=gen)
    true = torch.randint(0, 3, (200,), generator=gen)
    metrics = classification_metrics(pred, true)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(true, pred))
    assert metrics["f1"] == pytest.approx(f1_score(true, pred, average="macro"))
    assert confusion_matrix(pred, true).tolist() == sk_confusion(true, pred).tolist()


def test_f1_punishes_the_majority_class_answer():
    labels = torch.tensor([0] * 9 + [1])
    metrics = classification_metrics(torch.zeros(10, dtype=torch.long), labels, num_classes=2)
    assert metrics["accuracy"] == pytest.approx(0.9)
    assert metrics["f1"] == pytest.approx(f1_score(labels, [0] * 10, average="macro"))
    assert metrics["f1"] < 0.5


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        classification_metrics(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long))


def test_fit_and_evaluate_classifier_learn_a_toy_task():
    """Label 1 when token 3 occurs in the sentence: a tiny encoder learns it."""
    gen = torch.Generator().manual_seed(0)
    items = []
    for _ in range(400):
        length = int(torch.randint(2, 8, (1,), generator=gen))
        ids = torch.randint(4, 20, (length,), generator=gen)
        label = int(torch.rand(1, generator=gen) < 0.5)
        if label:
            ids[torch.randint(0, length, (1,), generator=gen)] = 3
        items.append((ids.tolist(), label))
    train = make_loader(items[:300], 32, collate_labelled, shuffle=True)
    val = make_loader(items[300:], 100, collate_labelled)
    torch.manual_seed(0)
    model = TransformerClassifier(20, 2, d_model=16, num_heads=2, d_ff=32, num_layers=1,
                                  dropout=0.0)
    history = fit(
        model, train, lambda m, b: F.cross_entropy(logits_fn(m, b), b["labels"]),
        torch.optim.Adam(model.parameters(), lr=1e-2), epochs=8, progress=False,
        evaluate=lambda m: evaluate_classifier(m, val, logits_fn, prefix="val_"),
    )
    assert set(history) == {"train_loss", "val_loss", "val_accuracy", "val_f1"}
    assert len(history["val_accuracy"]) == 8
    assert history["val_accuracy"][-1] >= 0.9
    probs, labels = class_probabilities(model, val, logits_fn)
    assert probs.shape == (100, 2) and labels.shape == (100,)
    torch.testing.assert_close(probs.sum(-1), torch.ones(100))


def test_linear_warmup_schedule_rises_then_decays_to_zero():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=2.0)
    schedule = linear_warmup_schedule(optimizer, warmup_steps=4, total_steps=12)
    rates = []
    for _ in range(13):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert rates[4] == pytest.approx(2.0) and rates[12] == 0.0
    assert all(a >= b for a, b in zip(rates[4:], rates[5:], strict=False))
    with pytest.raises(ValueError, match="warmup_steps"):
        linear_warmup_schedule(optimizer, -1, 10)
