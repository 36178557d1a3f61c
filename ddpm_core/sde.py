"""The continuous view of DDPM: the variance-preserving SDE, its reverse-time SDE and the probability-flow ODE.

Song et al. 2021 ("Score-based generative modeling through SDEs") read DDPM's chain as a discretisation of

    dx = f(x, τ) dτ + g(τ) dW,   f(x, τ) = −½ β(τ) x,   g(τ) = √β(τ)          (the VP-SDE, Song et al. Eq. 11)

run forward from the data at τ = 0 to N(0, I) at τ = 1. Its reverse in time, and the deterministic ODE with
the same marginals, both need only the score ∇_x log p_τ(x), which the ε-network gives (`samplers.model_score`):

    dx = [f − g² ∇log p_τ] dτ + g dW̄        (reverse-time SDE, Anderson 1982; Song et al. Eq. 6)
    dx/dτ = f − ½ g² ∇log p_τ              (probability-flow ODE, Song et al. Eq. 13)

Time: τ ∈ [0, 1] and the package's 0-based indices
--------------------------------------------------
Step i (0-based, the paper's t = i + 1) covers τ ∈ (i/T, (i + 1)/T]; index i *sits at* its right end
τ_i = (i + 1)/T (`tau_of`), so the paper's t is τ·T, x_T (index T − 1) sits at τ = 1 and x_0 (index −1,
`INDEX_X0`) at τ = 0. The samplers here move between such knots, so the network is only ever asked about the
integer indices it was trained on.

β(τ) from the discrete schedule (no second copy of the schedule)
---------------------------------------------------------------
The VP-SDE's marginal is x(τ) | x(0) ~ N(√ᾱ(τ) x_0, (1 − ᾱ(τ)) I) with ᾱ(τ) = exp(−∫_0^τ β). For it to be
DDPM's q(x_t | x_0) at every knot, ∫β over step i must be −log α_i: the rate r_i = −T log α_i (`beta_rates`,
≈ T·β_i) on step i. β(τ) (`beta`) is the piecewise-linear curve through the mean of neighbouring rates at
each boundary i/T (linearly extrapolated at τ = 0 and 1): for a schedule whose rates are linear in i (the
linear schedule, to 1e-7) it integrates to exactly −log α_i over every step, and being continuous it lets
Heun's method keep its second order, which a staircase β with jumps at every knot would spoil.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ddpm_core.diffusion import INDEX_X0, GaussianDiffusion
from ddpm_core.errors import UserError
from ddpm_core.samplers import Frame, Model, StepOutput, model_predictions, sampling_timesteps

Tensor = torch.Tensor
METHODS = ("sde", "euler", "heun")  # reverse-time SDE (Euler–Maruyama); probability-flow ODE by Euler or Heun
MAX_SUBSTEPS = 100

__all__ = ["METHODS", "tau_of", "beta_rates", "beta", "drift", "diffusion_coefficient",
           "forward_sde_step", "forward_sde_chain", "reverse_sde_drift", "ode_drift", "network_score",
           "reverse_sde_step", "euler_step", "heun_step", "step_evaluations", "continuous_frames",
           "continuous_loop"]


# ---- time and the coefficients f, g ----------------------------------------------------------------

def tau_of(index, num_timesteps: int):
    """τ = (i + 1)/T of a 0-based index i (the paper's t/T): index T − 1 is τ = 1, x_0 (index −1) is τ = 0."""
    return (index + 1) / num_timesteps


def beta_rates(diffusion: GaussianDiffusion) -> Tensor:
    """r_i = −T·log α_i (float64 [T]): the constant β(τ) on step i for which exp(−∫β dτ) over it is α_i."""
    return -diffusion.num_timesteps * torch.log(diffusion.alphas)


def _beta_knots(diffusion: GaussianDiffusion) -> Tensor:
    """β at τ = k/T, k = 0..T: the mean of the two rates beside each inner boundary, extrapolated at the ends."""
    rates = beta_rates(diffusion)
    if rates.numel() == 1:
        return rates.repeat(2)
    first = (1.5 * rates[0] - 0.5 * rates[1]).clamp(min=0)
    last = (1.5 * rates[-1] - 0.5 * rates[-2]).clamp(min=0)
    return torch.cat([first[None], (rates[:-1] + rates[1:]) / 2, last[None]])


def beta(diffusion: GaussianDiffusion, tau) -> Tensor:
    """β(τ), the VP-SDE's noise rate at τ ∈ [0, 1] (a float, or a tensor of them): piecewise linear through
    the knot values of `_beta_knots`, so ∫β over step i is −log α_i (see the module's docstring)."""
    knots = _beta_knots(diffusion)
    u = torch.as_tensor(tau, dtype=knots.dtype, device=knots.device).clamp(0, 1) * diffusion.num_timesteps
    k = u.floor().clamp(max=diffusion.num_timesteps - 1)
    w, k = u - k, k.long()
    return knots[k] * (1 - w) + knots[k + 1] * w


def _like(value: Tensor, x: Tensor) -> Tensor:
    """A scalar, or one value per batch element, shaped to broadcast against x (B, ...)."""
    value = value.to(device=x.device, dtype=x.dtype)
    return value if value.ndim == 0 else value.reshape(-1, *([1] * (x.ndim - 1)))


def drift(diffusion: GaussianDiffusion, x: Tensor, tau) -> Tensor:
    """f(x, τ) = −½ β(τ) x, the VP-SDE's drift (Song et al. 2021, Eq. 11): it pulls x towards 0."""
    return -0.5 * _like(beta(diffusion, tau), x) * x


def diffusion_coefficient(diffusion: GaussianDiffusion, tau) -> Tensor:
    """g(τ) = √β(τ), the VP-SDE's diffusion coefficient (Song et al. 2021, Eq. 11): the scale of dW."""
    return beta(diffusion, tau).sqrt()


# ---- the forward SDE ------------------------------------------------------------------------------

def forward_sde_step(diffusion: GaussianDiffusion, x: Tensor, tau: float, dtau: float, *, noise: Tensor | None = None,
                     generator: torch.Generator | None = None) -> Tensor:
    """One Euler–Maruyama step of dx = f dτ + g dW: x + f(x, τ) Δτ + g(τ) √Δτ z, z ~ N(0, I) (Kloeden & Platen 9.1).

    With Δτ = 1/T this is x(1 − β_i/2) + √β_i z, DDPM's q(x_t | x_{t−1}) = N(√(1 − β_i) x, β_i I) to first order.
    """
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    g = _like(diffusion_coefficient(diffusion, tau), x)
    return x + drift(diffusion, x, tau) * dtau + g * dtau**0.5 * noise


def forward_sde_chain(diffusion: GaussianDiffusion, x0: Tensor, t: int, *, substeps: int = 1,
                      generator: torch.Generator | None = None) -> Iterator[tuple[int, Tensor]]:
    """Euler–Maruyama of the forward VP-SDE from x_0 (τ = 0) up to index t's τ = (t + 1)/T, yielding (index, x)
    at every index from 0 to t, as `GaussianDiffusion.q_chain` does for the discrete chain (Eq. 2).

    Each step i of the chain is `substeps` Euler–Maruyama steps of Δτ = 1/(T·substeps); x at index t has the
    marginal q(x_t | x_0) of Eq. 4 up to the scheme's O(Δτ) error.
    """
    T = diffusion.num_timesteps
    if not INDEX_X0 <= t < T:
        raise UserError("continuous.index", "t must be an index from −1 (x_0) to T − 1 = {last}, got {t}",
                        last=T - 1, t=t)
    if not 1 <= substeps <= MAX_SUBSTEPS:
        raise UserError("continuous.substeps", "substeps must be from 1 to {most}, got {substeps}",
                        most=MAX_SUBSTEPS, substeps=substeps)
    x, dtau = x0, 1.0 / (T * substeps)
    for index in range(t + 1):
        for k in range(substeps):
            x = forward_sde_step(diffusion, x, (index * substeps + k) * dtau, dtau, generator=generator)
        yield index, x


# ---- the reverse-time SDE and the probability-flow ODE ---------------------------------------------

def reverse_sde_drift(diffusion: GaussianDiffusion, x: Tensor, tau, score: Tensor) -> Tensor:
    """f(x, τ) − g(τ)² ∇log p_τ(x): the drift of the reverse-time SDE (Anderson 1982; Song et al. 2021, Eq. 6)."""
    return drift(diffusion, x, tau) - _like(beta(diffusion, tau), x) * score


def ode_drift(diffusion: GaussianDiffusion, x: Tensor, tau, score: Tensor) -> Tensor:
    """dx/dτ = f(x, τ) − ½ g(τ)² ∇log p_τ(x): the probability-flow ODE (Song et al. 2021, Eq. 13), whose
    solutions have the same marginals p_τ as the SDE's. For the VP-SDE it is −½ β(τ) (x + ∇log p_τ(x))."""
    return drift(diffusion, x, tau) - 0.5 * _like(beta(diffusion, tau), x) * score


def network_score(model: Model, diffusion: GaussianDiffusion, x_t: Tensor, t: int, *, prediction: str = "eps",
                  clip: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """The score s_θ(x_t, t) = −ε̂/√(1 − ᾱ_t) with the x̂_0 and ε̂ it came from: one network evaluation.

    As `samplers.model_score` (which see), keeping x̂_0 and ε̂ for the frame; `clip` as for DDIM.
    """
    pred_x0, pred_eps = model_predictions(model, diffusion, x_t, t, prediction, clip)
    return diffusion.score_from_eps(x_t, t, pred_eps), pred_x0, pred_eps


def _check_pair(t: int, t_prev: int) -> None:
    if not INDEX_X0 <= t_prev < t:
        raise ValueError(f"a reverse step goes from index t to an index t_prev from −1 to t − 1, got {t} → {t_prev}")


@torch.no_grad()
def reverse_sde_step(model: Model, diffusion: GaussianDiffusion, x_t: Tensor, t: int, t_prev: int, *,
                     prediction: str = "eps", clip: bool = False, generator: torch.Generator | None = None
                     ) -> StepOutput:
    """One Euler–Maruyama step of the reverse-time SDE from index t down to t_prev < t (Song et al. 2021, Eq. 6):
    x' = x − [f(x, τ) − g² s_θ(x, t)] Δτ + g √Δτ z, with Δτ = τ_t − τ_{t_prev} > 0.

    Over one index (Δτ = 1/T) this is x + ½β_t x + β_t s_θ + √β_t z ≈ (x + β_t s_θ)/√α_t + √β_t z, DDPM's
    Algorithm 2 to first order. The step to x_0 (t_prev = −1) returns x̂_0, where the score is singular.
    """
    _check_pair(t, t_prev)
    score, pred_x0, pred_eps = network_score(model, diffusion, x_t, t, prediction=prediction, clip=clip)
    if t_prev == INDEX_X0:
        return StepOutput(pred_x0, pred_x0, pred_eps)
    T = diffusion.num_timesteps
    tau, dtau = tau_of(t, T), (t - t_prev) / T
    noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
    g = _like(diffusion_coefficient(diffusion, tau), x_t)
    return StepOutput(x_t - reverse_sde_drift(diffusion, x_t, tau, score) * dtau + g * dtau**0.5 * noise,
                      pred_x0, pred_eps)


@torch.no_grad()
def euler_step(model: Model, diffusion: GaussianDiffusion, x_t: Tensor, t: int, t_prev: int, *,
               prediction: str = "eps", clip: bool = False) -> StepOutput:
    """One Euler step of the probability-flow ODE from index t down to t_prev < t: x' = x − Δτ·(dx/dτ)(x, τ_t).
    One network evaluation.

    The step to x_0 (t_prev = −1) returns x̂_0: the score is singular at τ = 0, and x̂_0 is where the ODE,
    with ε̂ held fixed over the last interval, lands (as DDIM's last step; Karras et al. 2022's Euler step to σ = 0).
    """
    _check_pair(t, t_prev)
    score, pred_x0, pred_eps = network_score(model, diffusion, x_t, t, prediction=prediction, clip=clip)
    if t_prev == INDEX_X0:
        return StepOutput(pred_x0, pred_x0, pred_eps)
    T = diffusion.num_timesteps
    dtau = (t - t_prev) / T
    return StepOutput(x_t - ode_drift(diffusion, x_t, tau_of(t, T), score) * dtau, pred_x0, pred_eps)


@torch.no_grad()
def heun_step(model: Model, diffusion: GaussianDiffusion, x_t: Tensor, t: int, t_prev: int, *,
              prediction: str = "eps", clip: bool = False) -> StepOutput:
    """One step of Heun's method (the explicit trapezoidal rule, 2nd order) for the probability-flow ODE from
    index t down to t_prev < t (Karras et al. 2022, Algorithm 1): an Euler step to x̃ at τ_{t_prev}, then
    x' = x − Δτ·½(d(x, τ_t) + d(x̃, τ_{t_prev})). Two network evaluations, one on the step to x_0
    (t_prev = −1), which returns x̂_0 as `euler_step` does.
    """
    _check_pair(t, t_prev)
    score, pred_x0, pred_eps = network_score(model, diffusion, x_t, t, prediction=prediction, clip=clip)
    if t_prev == INDEX_X0:
        return StepOutput(pred_x0, pred_x0, pred_eps)
    T = diffusion.num_timesteps
    tau, tau_prev, dtau = tau_of(t, T), tau_of(t_prev, T), (t - t_prev) / T
    slope = ode_drift(diffusion, x_t, tau, score)
    x_euler = x_t - slope * dtau
    score_prev, _, _ = network_score(model, diffusion, x_euler, t_prev, prediction=prediction, clip=clip)
    slope_prev = ode_drift(diffusion, x_euler, tau_prev, score_prev)
    return StepOutput(x_t - 0.5 * (slope + slope_prev) * dtau, pred_x0, pred_eps)


def step_evaluations(method: str, t_prev: int) -> int:
    """Network evaluations one step of `method` costs: 2 for Heun except on the step to x_0, else 1."""
    return 2 if method == "heun" and t_prev != INDEX_X0 else 1


# ---- loops ----------------------------------------------------------------------------------------

def continuous_frames(model: Model, diffusion: GaussianDiffusion, x_T: Tensor, use: Tensor, *, method: str,
                      prediction: str = "eps", clip: bool = False, generator: torch.Generator | None = None
                      ) -> Iterator[Frame]:
    """Solve from x_T at index use[−1] down to x_0 over the ascending 0-based indices `use` (as DDIM visits
    them), yielding a `samplers.Frame` per step whose `nfe` counts network evaluations so far."""
    if method not in METHODS:
        raise UserError("continuous.unknown_method", "unknown method {method!r}; choose one of {choices}",
                        method=method, choices=", ".join(METHODS))
    ts = use.tolist()
    previous, x, nfe = [INDEX_X0, *ts[:-1]], x_T, 0
    for index, (t, t_prev) in enumerate(zip(reversed(ts), reversed(previous)), start=1):
        if method == "sde":
            step = reverse_sde_step(model, diffusion, x, t, t_prev, prediction=prediction, clip=clip,
                                    generator=generator)
        else:
            solve = euler_step if method == "euler" else heun_step
            step = solve(model, diffusion, x, t, t_prev, prediction=prediction, clip=clip)
        x, nfe = step.prev_sample, nfe + step_evaluations(method, t_prev)
        yield Frame(index, len(ts), t, t_prev, step, nfe)


def continuous_loop(model: Model, diffusion: GaussianDiffusion, x_T: Tensor, *, method: str = "heun",
                    steps: int | None = None, prediction: str = "eps", clip: bool = False,
                    generator: torch.Generator | None = None) -> Iterator[Frame]:
    """The reverse-time SDE ("sde", Euler–Maruyama) or the probability-flow ODE ("euler", "heun") from x_T
    (index T − 1, τ = 1) over `steps` evenly spaced indices of the T (all by default), the subsequence DDIM
    visits. Yields a Frame per step, with `nfe`. (`samplers.sample_loop` runs "euler" and "heun" too, with
    its options for images, such as starting from an x_t.)
    """
    use = sampling_timesteps(diffusion.num_timesteps, steps)
    yield from continuous_frames(model, diffusion, x_T, use, method=method, prediction=prediction, clip=clip,
                                 generator=generator)
