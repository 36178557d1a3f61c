"""The learning rate by step: a linear warm-up, then constant (Ho et al. 2020) or a cosine decay to zero."""

from __future__ import annotations

import math

LR_DECAYS = ("constant", "cosine")


def learning_rate(step: int, lr: float, warmup_steps: int, steps: int, decay: str = "constant") -> float:
    """The rate for 0-based `step` of `steps`: lr·(step + 1)/warmup_steps while warming up; then `lr` ("constant",
    Ho et al. 2020, App. B) or lr·½(1 + cos(π·progress)), progress going from 0 after the warm-up to 1 just after the
    last step ("cosine": Loshchilov & Hutter 2017 without restarts, torch's CosineAnnealingLR with T_max the steps
    after the warm-up)."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if decay == "constant":
        return lr
    if decay != "cosine":
        raise ValueError(f"unknown learning-rate decay {decay!r}; choose one of {LR_DECAYS}")
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
