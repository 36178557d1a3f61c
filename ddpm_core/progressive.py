"""Progressive decoding (Ho et al. 2020, §4.3, Figs. 6–7): what x_t still holds of x_0, and what the model fills in.

Take a real image x_0 and noise it to x_t ~ q(x_t | x_0) for several t (one ε for all of them, so
the only thing that changes along the row is t). Then:

- `predictions`: the network's one-step guess x̂_0(x_t) at each t (Fig. 6), and its RMSE against x_0;
- `shared_samples`: several draws of x_0 ~ p_θ(x_0 | x_t), the reverse chain run from the same x_t
  (Fig. 7). From a small t they all look like x_0; from a large t they keep only its coarse layout.

With the bound's terms (likelihood.Bound.rate), the RMSE at t against the bits received down to t is
the paper's rate–distortion curve: most bits go to details no eye sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ddpm_core.diffusion import GaussianDiffusion, paper_t
from ddpm_core.errors import UserError
from ddpm_core.likelihood import distortion
from ddpm_core.samplers import model_predictions, sample_loop

Tensor = torch.Tensor


@dataclass
class Predictions:
    """x_t and x̂_0 at each of the indices `t` (descending), for one image or a batch."""

    t: list[int]  # 0-based indices, 0..T − 1
    x_t: Tensor  # (K, B, C, H, W)
    pred_x0: Tensor  # (K, B, C, H, W)
    rmse: Tensor  # (K, B): RMSE of x̂_0 against x_0 on the 0–255 scale


def check_steps(diffusion: GaussianDiffusion, steps: list[int]) -> list[int]:
    """The indices, each in 0..T − 1, largest first, without repeats; ValueError naming a bad one (as the
    paper's step t = index + 1, which is what a person typed)."""
    T = diffusion.num_timesteps
    for t in steps:
        if isinstance(t, bool) or int(t) != t or not 0 <= t < T:
            raise UserError("progressive.step", "every step t must be a whole number from 1 to T = {T:,}, got {t}",
                            T=T, t=paper_t(t))
    if not steps:
        raise UserError("progressive.no_steps", "choose at least one step t")
    return sorted({int(t) for t in steps}, reverse=True)


@torch.no_grad()
def predictions(model: Callable, diffusion: GaussianDiffusion, x0: Tensor, steps: list[int], *,
                prediction: str = "eps", clip: bool = True, generator: torch.Generator | None = None) -> Predictions:
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (one ε for every t) and the network's x̂_0(x_t) at each index t."""
    steps = check_steps(diffusion, steps)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    noisy, guessed = [], []
    for t in steps:
        x_t = diffusion.q_sample(x0, t, noise=noise)
        pred_x0, _ = model_predictions(model, diffusion, x_t, t, prediction, clip)
        noisy.append(x_t)
        guessed.append(pred_x0)
    pred = torch.stack(guessed)
    return Predictions(steps, torch.stack(noisy), pred, torch.stack([distortion(x0, p) for p in pred]))


@torch.no_grad()
def shared_samples(model: Callable, diffusion: GaussianDiffusion, x_t: Tensor, t: int, n: int, *,
                   steps: int | None = None, prediction: str = "eps", variance: str = "beta", clip: bool = True,
                   generator: torch.Generator | None = None, should_stop: Callable[[], bool] | None = None) -> Tensor:
    """n draws of x_0 ~ p_θ(x_0 | x_t) for one x_t (C, H, W) at index t: Algorithm 2 from t down, over
    `steps` of those t + 1 steps (all by default; fewer respace the chain). (n, C, H, W); None if stopped."""
    check_steps(diffusion, [t])
    x = x_t.expand(n, *x_t.shape).clone()
    last = None
    for frame in sample_loop(model, diffusion, x, sampler="ddpm", steps=None if steps is None else min(steps, t + 1),
                             prediction=prediction, variance=variance, clip=clip, generator=generator, start=t):
        last = frame
        if should_stop is not None and should_stop():
            return None
    return last.step.prev_sample
