"""Label-smoothed cross-entropy against PyTorch's, and the learning-rate schedules."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import label_smoothed_cross_entropy
from course_lib.schedules import (
    TimeBudgetSchedule,
    linear_warmup_schedule,
    noam_factor,
    noam_schedule,
)


def padded_targets(seed, batch=4, length=7, vocab=11, pad=0):
    gen = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(batch, length, vocab, generator=gen)
    targets = torch.randint(1, vocab, (batch, length), generator=gen)
    lengths = torch.randint(1, length + 1, (batch,), generator=gen)
    targets[torch.arange(length)[None, :] >= lengths[:, None]] = pad
    return logits, targets


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_torch_with_padding_ignored(seed, eps):
    logits, targets = padded_targets(seed)
    assert (targets == 0).any()
    expected = F.cross_entropy(
        logits.reshape(-1, 11), targets.reshape(-1), ignore_index=0, label_smoothing=eps
    )
    torch.testing.assert_close(
        label_smoothed_cross_entropy(logits, targets, ignore_index=0, smoothing=eps), expected
    )
    torch.testing.assert_close(  # the (N, V) form
        label_smoothed_cross_entropy(logits.reshape(-1, 11), targets.reshape(-1), ignore_index=0,
                                     smoothing=eps),
        expected,
    )
    summed = F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1), ignore_index=0,
                             label_smoothing=eps, reduction="sum")
    torch.testing.assert_close(
        label_smoothed_cross_entropy(logits, targets, 0, eps, reduction="sum"), summed
    )


def test_label_smoothing_gradient_matches_torch():
    logits, targets = padded_targets(3)
    ours = logits.clone().requires_grad_()
    theirs = logits.clone().requires_grad_()
    label_smoothed_cross_entropy(ours, targets, ignore_index=0, smoothing=0.1).backward()
    F.cross_entropy(theirs.reshape(-1, 11), targets.reshape(-1), ignore_index=0,
                    label_smoothing=0.1).backward()
    torch.testing.assert_close(ours.grad, theirs.grad)
    assert ours.grad[targets == 0].abs().max() == 0  # padding gets no gradient


def test_label_smoothing_rejects_bad_input():
    logits, targets = padded_targets(0)
    with pytest.raises(ValueError, match="do not match"):
        label_smoothed_cross_entropy(logits, targets[:, :-1])
    with pytest.raises(TypeError, match="integer"):
        label_smoothed_cross_entropy(logits, targets.float())
    with pytest.raises(ValueError, match="smoothing"):
        label_smoothed_cross_entropy(logits, targets, smoothing=1.0)
    all_pad = torch.zeros_like(targets)
    assert label_smoothed_cross_entropy(logits, all_pad, ignore_index=0).item() == 0.0


def scheduled_rates(scheduler, steps):
    optimizer = scheduler.optimizer
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_noam_schedule_follows_the_paper():
    d_model, warmup = 512, 4000
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    rates = scheduled_rates(noam_schedule(optimizer, d_model, warmup), 8001)
    for step in (0, 1, 99, 3999, 8000):  # rate at optimizer step `step` uses n = step + 1
        n = step + 1
        assert rates[step] == pytest.approx(d_model**-0.5 * min(n**-0.5, n * warmup**-1.5))
    assert max(rates) == pytest.approx((d_model * warmup) ** -0.5)
    assert rates.index(max(rates)) == warmup - 1  # the peak ends the warm-up
    assert rates[7999] / rates[4999] == pytest.approx(math.sqrt(5000 / 8000))  # 1/sqrt(n) decay
    assert rates[1999] / rates[999] == pytest.approx(2000 / 1000)  # linear warm-up
    assert noam_factor(0, 4, 1) == pytest.approx(0.5)


def test_noam_rate_scales_with_the_optimizer_lr():
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=2.0)
    rates = scheduled_rates(noam_schedule(optimizer, 64, 10), 20)
    assert rates[15] == pytest.approx(2.0 * noam_factor(15, 64, 10))
    with pytest.raises(ValueError, match="warmup_steps"):
        noam_schedule(optimizer, 64, 0)


def test_linear_warmup_rises_then_decays_to_zero():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    rates = scheduled_rates(linear_warmup_schedule(optimizer, 4, 10), 11)
    assert rates[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert rates[4:] == pytest.approx([0.1 * (10 - s) / 6 for s in range(4, 11)])


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def budget_run(clock, minutes=10.0, warmup=4, lr=2e-3):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    return optimizer, TimeBudgetSchedule(optimizer, warmup, minutes, clock=clock)


def test_time_budget_schedule_warms_up_by_steps_then_reaches_zero_at_the_budget():
    clock = FakeClock()
    optimizer, schedule = budget_run(clock)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(5):  # a step every 12 s: warm-up by steps, then 1 - elapsed / budget
        clock.now += 12
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([5e-4, 1e-3, 1.5e-3, 2e-3 * 0.94, 2e-3 * 0.92, 2e-3 * 0.9])
    clock.now += 60 * 4  # half the budget gone: half the peak
    schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    clock.now += 60 * 5 + 30  # past the end: 0, never negative
    schedule.step()
    assert optimizer.param_groups[0]["lr"] == 0.0


def test_time_budget_schedule_resumes_with_the_time_already_used():
    clock = FakeClock()
    optimizer, schedule = budget_run(clock, warmup=0)
    for _ in range(3):
        clock.now += 60
        optimizer.step()
        schedule.step()
    state = schedule.state_dict()  # 3 of 10 minutes used
    clock.now += 3600  # the learner stops for an hour; a new process starts
    optimizer, resumed = budget_run(clock, warmup=0)
    resumed.load_state_dict(state)
    assert resumed.elapsed() == pytest.approx(180.0)
    clock.now += 60
    optimizer.step()
    resumed.step()
    assert resumed.last_epoch == 4
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-3 * 0.6)


@pytest.mark.parametrize("warmup, minutes", [(-1, 5.0), (10, 0.0), (10, -2.0)])
def test_time_budget_schedule_rejects_bad_settings(warmup, minutes):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="warmup_steps >= 0 and minutes > 0"):
        TimeBudgetSchedule(optimizer, warmup, minutes)
