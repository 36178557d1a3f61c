"""Training and sampling the 2-D lab's denoiser with the same L_simple and Algorithm 2 as the images."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ddpm_core.diffusion import INDEX_X0, GaussianDiffusion, paper_t
from ddpm_core.losses import simple_loss
from ddpm_core.mlp import DenoiserMLP
from ddpm_core.samplers import sample_loop

MAX_TRAIN_STEPS = 50_000


@dataclass(frozen=True)
class Train2DConfig:
    """Optimisation settings; the defaults fit two moons or a swiss roll in well under 30 s on 2 CPU cores."""

    steps: int = 4000
    batch_size: int = 512
    lr: float = 3e-3
    warmup_steps: int = 100
    ema_decay: float = 0.995
    seed: int = 0

    def check(self) -> None:
        if not 1 <= self.steps <= MAX_TRAIN_STEPS:
            raise ValueError(f"steps must be from 1 to {MAX_TRAIN_STEPS:,}, got {self.steps}.")
        if not 1 <= self.batch_size <= 8192:
            raise ValueError(f"batch size must be from 1 to 8192, got {self.batch_size}.")
        if not 0 < self.lr <= 1:
            raise ValueError(f"learning rate must be in (0, 1], got {self.lr}.")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"EMA decay must be in [0, 1), got {self.ema_decay}.")


@dataclass
class TrainProgress:
    """Where training stands after a step; `model` is the EMA of the weights so far (eval mode)."""

    step: int
    steps: int
    loss: float
    lr: float
    elapsed_s: float
    model: torch.nn.Module


def learning_rate(step: int, config: Train2DConfig) -> float:
    """Linear warm-up to `lr`, then cosine decay to zero at the last step."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_2d(model: DenoiserMLP, diffusion: GaussianDiffusion, data: torch.Tensor,
             config: Train2DConfig) -> Iterator[TrainProgress]:
    """Fit ε_θ to `data` (n, 2) by Algorithm 1, yielding progress after every step.

    Stop iterating to stop training; the last progress's `model` is the EMA model to sample from.
    """
    config.check()
    torch.manual_seed(config.seed)
    g = torch.Generator().manual_seed(config.seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay))
    ema.module.eval()
    model.train()
    start = time.perf_counter()
    for step in range(config.steps):
        lr = learning_rate(step, config)
        for group in optimiser.param_groups:
            group["lr"] = lr
        batch = data[torch.randint(0, data.shape[0], (config.batch_size,), generator=g)]
        loss = simple_loss(model, diffusion, batch, generator=g)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        ema.update_parameters(model)
        yield TrainProgress(step + 1, config.steps, float(loss.detach()), lr, time.perf_counter() - start, ema.module)


@torch.no_grad()
def reverse_2d(model: torch.nn.Module, diffusion: GaussianDiffusion, n: int, seed: int = 0,
               every: int = 1, variance: str = "beta") -> Iterator[tuple[int, torch.Tensor]]:
    """Sample n points by Algorithm 2, yielding (index t, x_t) from x_T (index T − 1) down to x_0 (index −1).

    The first yield is the starting noise x_T ~ N(0, I); then every `every` paper steps and the final x_0.
    """
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, 2, generator=g)
    yield diffusion.num_timesteps - 1, x_T
    for frame in sample_loop(model, diffusion, x_T, variance=variance, generator=g):
        if paper_t(frame.t_prev) % every == 0 or frame.t_prev == INDEX_X0:
            yield frame.t_prev, frame.step.prev_sample
