"""The reverse process: what the network says about x_{t−1} (p_θ's mean and variance, the score), DDPM
(Algorithm 2) and DDIM steps, and a loop that yields every frame.

Timesteps are 0-based indices as in `diffusion.py` (index i is the paper's step i + 1). A sampler
visits a descending subsequence τ_S > … > τ_1 of the T indices (all of them by default); index −1
(`INDEX_X0`) stands for "after the last step", where ᾱ = 1 and the sample is x_0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import functools
from dataclasses import dataclass

import torch

from ddpm_core.diffusion import INDEX_X0, VARIANCES, GaussianDiffusion, _as_index
from ddpm_core.errors import UserError

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SAMPLERS = ("ddpm", "ddim", "euler", "heun")  # euler, heun: the probability-flow ODE (ddpm_core/sde.py)
__all__ = ["VARIANCES", "SAMPLERS", "model_predictions", "model_score", "p_mean_variance", "ddpm_step", "ddim_step",
           "sample_loop", "sample", "sampling_timesteps", "respace", "Frame", "StepOutput", "ReverseGaussian",
           "network_evaluations"]


class StepOutput:
    """One reverse step: the next sample x_{t−1}, and the network's x̂_0 and ε̂ at x_t.

    `pred_eps` may be given as a function that computes it: DDPM's update never needs ε̂ once x̂_0 is
    clipped, so it is derived only if someone reads it (three full-size ops saved per step).
    """

    def __init__(self, prev_sample: torch.Tensor, pred_x0: torch.Tensor,
                 pred_eps: torch.Tensor | Callable[[], torch.Tensor]):
        self.prev_sample, self.pred_x0, self._pred_eps = prev_sample, pred_x0, pred_eps

    @property
    def pred_eps(self) -> torch.Tensor:
        if callable(self._pred_eps):
            self._pred_eps = self._pred_eps()
        return self._pred_eps


def model_predictions(model: Model, diffusion: GaussianDiffusion, x_t: torch.Tensor, t: int,
                      prediction: str = "eps", clip: bool = False, lazy_eps: bool = False):
    """(x̂_0, ε̂) at x_t from a network that predicts ε, x_0 or v; `clip` keeps x̂_0 in [−1, 1].

    With `lazy_eps`, an ε̂ that would have to be derived from x̂_0 comes as a function computing it.
    """
    index = _as_index(t, x_t.shape[0], x_t.device)
    out = model(x_t, index).to(x_t.dtype)
    if prediction == "eps":
        pred_eps, pred_x0 = out, diffusion.predict_x0_from_eps(x_t, t, out)
    elif prediction in ("x0", "v"):
        pred_x0, pred_eps = (out if prediction == "x0" else diffusion.predict_x0_from_v(x_t, t, out)), None
    else:
        raise UserError("sampler.prediction_unknown", "unknown prediction type {prediction!r}; choose eps, x0 or v",
                        prediction=prediction)
    if clip:
        pred_x0, pred_eps = pred_x0.clamp(-1, 1), None
    if pred_eps is None:
        derive = functools.partial(diffusion.predict_eps_from_x0, x_t, t, pred_x0)
        pred_eps = derive if lazy_eps else derive()
    return pred_x0, pred_eps


def model_score(model: Model, diffusion: GaussianDiffusion, x_t: torch.Tensor, t, prediction: str = "eps"
                ) -> torch.Tensor:
    """The learned score s_θ(x_t, t) = −ε̂ / √(1 − ᾱ_t) ≈ ∇_x log q(x_t) (Song et al. 2021, §3.2; Ho et al.'s ε̂)."""
    _pred_x0, pred_eps = model_predictions(model, diffusion, x_t, t, prediction)
    return diffusion.score_from_eps(x_t, t, pred_eps)


@dataclass
class ReverseGaussian:
    """p_θ(x_{t−1} | x_t) = N(mean, variance·I), and the network's x̂_0 and ε̂ at x_t it was built from.

    `variance` and `log_variance` broadcast against x_t (one value per image, or one for the batch).
    `pred_eps` may be a function computing it (see `StepOutput`).
    """

    mean: torch.Tensor
    variance: torch.Tensor
    log_variance: torch.Tensor
    pred_x0: torch.Tensor
    pred_eps: torch.Tensor | Callable[[], torch.Tensor]


def p_mean_variance(model: Model, diffusion: GaussianDiffusion, x_t: torch.Tensor, t, *, prediction: str = "eps",
                    variance: str = "beta", clip: bool = False, lazy_eps: bool = False) -> ReverseGaussian:
    """Mean, variance and log-variance of p_θ(x_{t−1} | x_t) = N(μ̃_t(x_t, x̂_0), σ_t² I) (Ho et al. 2020, Eqs. 1, 7).

    The mean is the posterior mean μ̃_t of Eq. 7 with the network's x̂_0 in place of x_0; σ_t² is β_t or β̃_t
    (§3.2), with the t = 1 rule of `GaussianDiffusion.first_step_clipped`. Sampling (Algorithm 2) and the
    variational bound (Eq. 5) both ask this one function. `t` is an index for the batch or one per image.
    """
    var, log_var = diffusion.reverse_variance(t, x_t, variance)
    pred_x0, pred_eps = model_predictions(model, diffusion, x_t, t, prediction, clip, lazy_eps=lazy_eps)
    return ReverseGaussian(diffusion.q_posterior_mean(pred_x0, x_t, t), var, log_var, pred_x0, pred_eps)


@torch.no_grad()
def ddpm_step(model: Model, diffusion: GaussianDiffusion, x_t: torch.Tensor, t: int, *, prediction: str = "eps",
              variance: str = "beta", clip: bool = False, generator: torch.Generator | None = None) -> StepOutput:
    """Sample x_{t−1} = μ_θ(x_t, t) + σ_t z from p_θ(x_{t−1} | x_t) (Ho et al. 2020, Algorithm 2, line 4).

    `t` is the 0-based index (the paper's step t + 1); at index 0 (the paper's t = 1) z = 0: the mean is x_0.
    """
    p = p_mean_variance(model, diffusion, x_t, t, prediction=prediction, variance=variance, clip=clip,
                        lazy_eps=True)
    if t == 0:
        return StepOutput(p.mean, p.pred_x0, p.pred_eps)
    noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
    return StepOutput(p.mean.addcmul_(noise, p.variance.sqrt()), p.pred_x0, p.pred_eps)


def ddim_sigma(alpha_bar_t: torch.Tensor, alpha_bar_prev: torch.Tensor, eta: float) -> torch.Tensor:
    """σ_τ(η) = η · √((1 − ᾱ_prev)/(1 − ᾱ_t)) · √(1 − ᾱ_t/ᾱ_prev)  (Song et al. 2021, Eq. 16).

    η = 0 is the deterministic DDIM; η = 1 is DDPM's posterior standard deviation √β̃ on the subsequence.
    """
    return eta * ((1 - alpha_bar_prev) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_prev)).sqrt()


@torch.no_grad()
def ddim_step(model: Model, diffusion: GaussianDiffusion, x_t: torch.Tensor, t: int, t_prev: int, *,
              eta: float = 0.0, prediction: str = "eps", clip: bool = False,
              generator: torch.Generator | None = None) -> StepOutput:
    """Sample x_{τ_prev} = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε̂ + σ z  (Song et al. 2021, Eq. 12).

    `t` and `t_prev` < t are 0-based indices; t_prev = −1 is the end of the chain (ᾱ = 1), where the
    step returns x̂_0 itself.
    """
    if not 0.0 <= eta <= 1.0:
        raise UserError("sampler.eta", "η must lie in [0, 1], got {eta}", eta=eta)
    pred_x0, pred_eps = model_predictions(model, diffusion, x_t, t, prediction, clip)
    alpha_bar_t = diffusion._extract(diffusion.alphas_cumprod, t, x_t)
    if t_prev < 0:
        return StepOutput(pred_x0, pred_x0, pred_eps)
    alpha_bar_prev = diffusion._extract(diffusion.alphas_cumprod, t_prev, x_t)
    sigma = ddim_sigma(alpha_bar_t, alpha_bar_prev, eta)
    prev = alpha_bar_prev.sqrt() * pred_x0 + (1 - alpha_bar_prev - sigma**2).clamp(min=0).sqrt() * pred_eps
    if eta > 0:
        prev = prev + sigma * torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
    return StepOutput(prev, pred_x0, pred_eps)


def sampling_timesteps(num_timesteps: int, steps: int | None = None) -> torch.Tensor:
    """The 0-based indices τ_1 < … < τ_S of S evenly spaced steps, always including 0 and T − 1."""
    steps = num_timesteps if steps is None else steps
    if not 1 <= steps <= num_timesteps:
        raise UserError("sampler.steps", "steps must be from 1 to T = {T}, got {steps}", T=num_timesteps, steps=steps)
    if steps == 1:
        return torch.tensor([num_timesteps - 1])
    return torch.linspace(0, num_timesteps - 1, steps, dtype=torch.float64).round().long().unique()


def respace(diffusion: GaussianDiffusion, steps) -> tuple[GaussianDiffusion, torch.Tensor]:
    """The same process over S steps s_1 < … < s_S of the original (Nichol & Dhariwal 2021, §4).

    `steps` is S (evenly spaced over all T) or the 0-based indices s_i themselves. β'_i = 1 −
    ᾱ_{s_i}/ᾱ_{s_{i−1}} keeps every ᾱ_{s_i}, so a model trained on all T steps samples with fewer.
    Returns the new diffusion and the original 0-based index of each of its steps.
    """
    use = sampling_timesteps(diffusion.num_timesteps, steps) if isinstance(steps, int) else steps.cpu()
    abar = diffusion.alphas_cumprod.cpu()[use]
    betas = 1 - abar / torch.cat([abar.new_ones(1), abar[:-1]])
    return GaussianDiffusion(betas).to(diffusion.device), use


def _on_original_steps(model: Model, use: torch.Tensor) -> Model:
    """The network indexed by a respaced process's step i, which it knows as original step use[i]."""
    return lambda x, t: model(x, use[t])


@dataclass
class Frame:
    """The loop's state after `index` of `count` steps, which went from x_t to x_{t_prev}.

    `t` and `t_prev` are 0-based indices (`t_prev` = −1 for the final x_0); `step` holds x_{t_prev}
    (prev_sample) and the x̂_0 and ε̂ computed at x_t. `nfe` counts the network evaluations so far: one per
    step unless the sampler says otherwise (Heun's ODE solver takes two).
    """

    index: int
    count: int
    t: int
    t_prev: int
    step: StepOutput
    nfe: int | None = None

    def __post_init__(self):
        if self.nfe is None:
            self.nfe = self.index


def network_evaluations(sampler: str, steps: int) -> int:
    """How many times `sampler` calls the network over `steps` steps (the NFE a UI shows beside it): one per
    step, except Heun's two on every step but the last (ddpm_core/sde.py)."""
    return 2 * steps - 1 if sampler == "heun" else steps


def sample_loop(model: Model, diffusion: GaussianDiffusion, x_T: torch.Tensor, *, sampler: str = "ddpm",
                steps: int | None = None, eta: float = 0.0, prediction: str = "eps", variance: str = "beta",
                clip: bool = False, generator: torch.Generator | None = None, start: int | None = None
                ) -> Iterator[Frame]:
    """Run the reverse process from x_T over `steps` of the T steps (all by default), yielding each step.

    "ddpm": Algorithm 2 on the respaced process (Nichol & Dhariwal 2021) when steps < T; "ddim":
    Song et al.'s update with η on the same subsequence; "euler", "heun": the probability-flow ODE solved
    over the same subsequence (`sde.euler_step`, `sde.heun_step`; each frame's `nfe` counts the network
    evaluations). With `start` (an index t < T), x_T is taken to be x_t and the chain runs from there over
    `steps` of its t + 1 steps (progressive decoding).
    Nothing is copied off the device, so a consumer that keeps only some frames costs the loop
    nothing; stopping the iteration stops the work.
    """
    if sampler not in SAMPLERS:
        raise UserError("sampler.unknown", "unknown sampler {sampler!r}; choose one of {choices}", sampler=sampler,
                        choices=SAMPLERS)
    top = diffusion.num_timesteps - 1 if start is None else start
    if not 0 <= top < diffusion.num_timesteps:
        raise UserError("sampler.start", "start must be an index from 0 to T − 1 = {last}, got {start}",
                        last=diffusion.num_timesteps - 1, start=start)
    use = sampling_timesteps(top + 1, steps)
    count, x = len(use), x_T
    if sampler in ("euler", "heun"):
        from ddpm_core.sde import continuous_frames  # late: sde.py builds on this module

        yield from continuous_frames(model, diffusion, x_T, use, method=sampler, prediction=prediction, clip=clip)
        return
    if sampler == "ddpm":
        if count != diffusion.num_timesteps:
            diffusion, use = respace(diffusion, use)
            model = _on_original_steps(model, use.to(x_T.device))
        for index, t in enumerate(reversed(range(count)), start=1):
            step = ddpm_step(model, diffusion, x, t, prediction=prediction, variance=variance, clip=clip,
                             generator=generator)
            x = step.prev_sample
            yield Frame(index, count, int(use[t]), int(use[t - 1]) if t > 0 else INDEX_X0, step)
        return
    previous = [INDEX_X0, *use[:-1].tolist()]
    for index, (t, t_prev) in enumerate(zip(reversed(use.tolist()), reversed(previous)), start=1):
        step = ddim_step(model, diffusion, x, t, t_prev, eta=eta, prediction=prediction, clip=clip,
                         generator=generator)
        x = step.prev_sample
        yield Frame(index, count, t, t_prev, step)


@torch.no_grad()
def sample(model: Model, diffusion: GaussianDiffusion, shape: tuple[int, ...], *, sampler: str = "ddpm",
           steps: int | None = None, eta: float = 0.0, prediction: str = "eps", variance: str = "beta",
           clip: bool = True, seed: int = 0, device=None) -> torch.Tensor:
    """Draw samples of `shape` with `sampler` over `steps` of the T steps (all by default), from `seed`."""
    device = torch.device(device or diffusion.device)
    generator = torch.Generator(device).manual_seed(seed)
    x = torch.randn(shape, generator=generator, device=device)
    for frame in sample_loop(model, diffusion, x, sampler=sampler, steps=steps, eta=eta, prediction=prediction,
                             variance=variance, clip=clip, generator=generator):
        x = frame.step.prev_sample
    return x
