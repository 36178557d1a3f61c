"""The learning-rate schedule against torch's own schedulers (LinearLR then CosineAnnealingLR), step by step."""

import math

import pytest
import torch

from ddpm_core.errors import UserError
from ddpm_core.lr_schedule import learning_rate
from ddpm_core.train import TrainConfig


def _torch_rates(lr: float, warmup: int, steps: int, cosine: bool) -> list[float]:
    """The rate torch's schedulers give each of `steps` optimiser steps: a linear warm-up from lr/warmup reaching lr
    at step warmup − 1, then constant or cosine annealing to 0 over the steps after the warm-up."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    warm = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup, end_factor=1.0,
                                             total_iters=warmup - 1)
    after = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps - warmup) if cosine
             else torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0))
    schedule = torch.optim.lr_scheduler.SequentialLR(optimizer, [warm, after], milestones=[warmup])
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


@pytest.mark.parametrize("decay", ["constant", "cosine"])
@pytest.mark.parametrize("warmup,steps", [(1, 7), (5, 40), (100, 1000)])
def test_every_step_matches_torchs_schedulers(decay, warmup, steps):
    ours = [learning_rate(s, 5e-4, warmup, steps, decay) for s in range(steps)]
    assert ours == pytest.approx(_torch_rates(5e-4, warmup, steps, decay == "cosine"), rel=1e-9, abs=1e-15)


def test_closed_form_points_of_the_cosine():
    lr, warmup, steps = 1e-3, 100, 1100  # 1,000 steps after the warm-up
    assert learning_rate(0, lr, warmup, steps, "cosine") == pytest.approx(lr / 100)  # (0 + 1) / 100 of lr
    assert learning_rate(99, lr, warmup, steps, "cosine") == lr  # the warm-up's last step reaches lr
    assert learning_rate(100, lr, warmup, steps, "cosine") == lr  # progress 0: cos 0 = 1
    assert learning_rate(600, lr, warmup, steps, "cosine") == pytest.approx(lr / 2)  # progress ½: cos(π/2) = 0
    assert learning_rate(350, lr, warmup, steps, "cosine") == pytest.approx(lr * (1 + math.sqrt(0.5)) / 2)  # π/4
    last = learning_rate(steps - 1, lr, warmup, steps, "cosine")  # progress 999/1000: ½(1 − cos(π/1000)) ≈ (π/2000)²
    assert last == pytest.approx(lr * (math.pi / 2000) ** 2, rel=1e-5) and learning_rate(steps, lr, warmup, steps,
                                                                                          "cosine") == 0.0
    assert learning_rate(5000, lr, warmup, steps, "cosine") == 0.0  # resumed past the end: stays at zero


def test_no_warmup_starts_at_lr_and_unknown_decays_are_refused():
    assert learning_rate(0, 1e-3, 0, 10, "constant") == learning_rate(0, 1e-3, 0, 10, "cosine") == 1e-3
    with pytest.raises(ValueError, match="unknown learning-rate decay 'step'"):
        learning_rate(5, 1e-3, 0, 10, "step")
    with pytest.raises(UserError, match="unknown learning-rate decay 'linear'") as caught:
        TrainConfig(lr_decay="linear").check()
    assert caught.value.code == "train.lr_decay_unknown"
