"""Training objectives: the simplified loss L_simple of Ho et al. 2020 and its x_0 / v variants."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ddpm_core.diffusion import GaussianDiffusion
from ddpm_core.errors import UserError

PREDICTION_TYPES = ("eps", "x0", "v")
Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sample_timesteps(batch: int, num_timesteps: int, device=None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """t ~ Uniform({1, …, T}) as 0-based indices (Ho et al. 2020, Algorithm 1, line 3)."""
    return torch.randint(0, num_timesteps, (batch,), device=device, generator=generator)


def regression_target(diffusion: GaussianDiffusion, prediction: str, x0: torch.Tensor, t: torch.Tensor,
                      noise: torch.Tensor) -> torch.Tensor:
    """What the network is trained to output: ε, x_0, or v = √ᾱ_t ε − √(1 − ᾱ_t) x_0."""
    if prediction == "eps":
        return noise
    if prediction == "x0":
        return x0
    if prediction == "v":
        return diffusion.velocity(x0, t, noise)
    raise UserError("loss.prediction_unknown", "unknown prediction type {prediction!r}; choose one of {choices}",
                    prediction=prediction, choices=PREDICTION_TYPES)


def simple_loss(model: Model, diffusion: GaussianDiffusion, x0: torch.Tensor, prediction: str = "eps",
                t: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """L_simple = E_{t, x_0, ε} ‖target − f_θ(x_t, t)‖², x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (Ho et al. 2020, Eq. 14).

    With prediction = "eps" this is Algorithm 1 exactly. Returns the batch mean (a scalar);
    `t` and `noise` may be given to make the loss deterministic.
    """
    if t is None:
        t = sample_timesteps(x0.shape[0], diffusion.num_timesteps, x0.device, generator)
    if noise is None:
        noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    x_t = diffusion.q_sample(x0, t, noise)
    target = regression_target(diffusion, prediction, x0, t, noise)
    return torch.mean((model(x_t, t).float() - target.float()) ** 2)
