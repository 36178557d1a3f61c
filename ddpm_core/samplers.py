"""Reverse-process samplers: p_θ(x_{t−1} | x_t) steps and loops that yield every frame."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from ddpm_core.diffusion import GaussianDiffusion

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
VARIANCES = ("beta", "beta_tilde")  # σ_t² = β_t (the paper's default) or β̃_t (Ho et al. 2020, §3.2)


@dataclass
class StepOutput:
    """One reverse step: the next sample x_{t−1}, and the network's x̂_0 and ε̂ at x_t."""

    prev_sample: torch.Tensor
    pred_x0: torch.Tensor
    pred_eps: torch.Tensor


def model_predictions(model: Model, diffusion: GaussianDiffusion, x_t: torch.Tensor, t: int,
                      prediction: str = "eps", clip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(x̂_0, ε̂) at x_t from a network that predicts ε, x_0 or v; `clip` keeps x̂_0 in [−1, 1]."""
    index = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
    out = model(x_t, index).to(x_t.dtype)
    if prediction == "eps":
        pred_eps, pred_x0 = out, diffusion.predict_x0_from_eps(x_t, t, out)
    elif prediction == "x0":
        pred_x0 = out
        pred_eps = diffusion.predict_eps_from_x0(x_t, t, out)
    elif prediction == "v":
        pred_x0 = diffusion.predict_x0_from_v(x_t, t, out)
        pred_eps = diffusion.predict_eps_from_x0(x_t, t, pred_x0)
    else:
        raise ValueError(f"unknown prediction type {prediction!r}; choose eps, x0 or v")
    if clip:
        pred_x0 = pred_x0.clamp(-1, 1)
        pred_eps = diffusion.predict_eps_from_x0(x_t, t, pred_x0)
    return pred_x0, pred_eps


@torch.no_grad()
def ddpm_step(model: Model, diffusion: GaussianDiffusion, x_t: torch.Tensor, t: int, *, prediction: str = "eps",
              variance: str = "beta", clip: bool = False, generator: torch.Generator | None = None) -> StepOutput:
    """Sample x_{t−1} ~ p_θ(x_{t−1} | x_t) = N(μ̃_t(x_t, x̂_0), σ_t² I) (Ho et al. 2020, Algorithm 2, line 4).

    `t` is the 0-based index (the paper's step t + 1); at t = 0 the mean is returned without noise.
    """
    if variance not in VARIANCES:
        raise ValueError(f"unknown variance {variance!r}; choose one of {VARIANCES}")
    pred_x0, pred_eps = model_predictions(model, diffusion, x_t, t, prediction, clip)
    mean, _, _ = diffusion.q_posterior_mean_variance(pred_x0, x_t, t)
    if t == 0:
        return StepOutput(mean, pred_x0, pred_eps)
    sigma2 = diffusion.betas if variance == "beta" else diffusion.posterior_variance
    noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
    return StepOutput(mean + diffusion._extract(sigma2, t, x_t).sqrt() * noise, pred_x0, pred_eps)


def ddpm_sample_loop(model: Model, diffusion: GaussianDiffusion, x_T: torch.Tensor, *, prediction: str = "eps",
                     variance: str = "beta", clip: bool = False, generator: torch.Generator | None = None,
                     every: int = 1) -> Iterator[tuple[int, StepOutput]]:
    """Run Algorithm 2 from x_T, yielding (t, step) every `every` steps and always at the last (t = 0).

    t is the 0-based index of the step just taken; `step.prev_sample` is then x at paper step t.
    """
    x = x_T
    for t in reversed(range(diffusion.num_timesteps)):
        step = ddpm_step(model, diffusion, x, t, prediction=prediction, variance=variance, clip=clip,
                         generator=generator)
        x = step.prev_sample
        if t % every == 0 or t == 0:
            yield t, step


def respace(diffusion: GaussianDiffusion, steps: int) -> tuple[GaussianDiffusion, torch.Tensor]:
    """The same process over `steps` evenly spaced steps s_1 < … < s_S of the original (N&D 2021, §4).

    β'_i = 1 − ᾱ_{s_i}/ᾱ_{s_{i−1}} keeps every ᾱ_{s_i}, so a model trained on all T steps samples
    with fewer. Returns the new diffusion and the original 0-based index of each of its steps.
    """
    T = diffusion.num_timesteps
    if not 1 <= steps <= T:
        raise ValueError(f"steps must be from 1 to T = {T}, got {steps}")
    use = torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long().unique()
    abar = diffusion.alphas_cumprod.cpu()[use]
    betas = 1 - abar / torch.cat([abar.new_ones(1), abar[:-1]])
    return GaussianDiffusion(betas).to(diffusion.device), use


@torch.no_grad()
def sample(model: Model, diffusion: GaussianDiffusion, shape: tuple[int, ...], *, steps: int | None = None,
           prediction: str = "eps", variance: str = "beta", clip: bool = True, seed: int = 0,
           device=None) -> torch.Tensor:
    """Draw samples of `shape` by Algorithm 2, over `steps` respaced steps (all T by default)."""
    device = torch.device(device or diffusion.device)
    if steps is not None and steps != diffusion.num_timesteps:
        diffusion, use = respace(diffusion, steps)
        use = use.to(device)
        original = model
        model = lambda x, t: original(x, use[t])  # noqa: E731  (the network knows the original steps)
    generator = torch.Generator(device).manual_seed(seed)
    x = torch.randn(shape, generator=generator, device=device)
    for _, step in ddpm_sample_loop(model, diffusion, x, prediction=prediction, variance=variance, clip=clip,
                                    generator=generator, every=diffusion.num_timesteps):
        x = step.prev_sample
    return x
