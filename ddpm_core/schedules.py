"""β (noise-variance) schedules β_1..β_T, computed in float64."""

from __future__ import annotations

import math

import torch

from ddpm_core.errors import UserError

MIN_TIMESTEPS = 1
MAX_TIMESTEPS = 4000

# Ho et al. 2020, §4: β_1 = 1e-4 rising linearly to β_T = 0.02 over T = 1000 steps.
DEFAULT_BETA_START = 1e-4
DEFAULT_BETA_END = 0.02
REFERENCE_TIMESTEPS = 1000


def _endpoints(T: int, beta_start: float, beta_end: float, rescale: bool) -> tuple[float, float]:
    """Return (β_1, β_T), scaled by 1000/T when `rescale` is set.

    Improved DDPM (Nichol & Dhariwal 2021, §2.4 code) rescales the endpoints so the total noise
    Σβ stays about the same as T changes; without it a short chain leaves signal at t = T.
    """
    scale = REFERENCE_TIMESTEPS / T if rescale else 1.0
    return beta_start * scale, beta_end * scale


def linear_beta_schedule(T: int, beta_start: float = DEFAULT_BETA_START,
                         beta_end: float = DEFAULT_BETA_END, rescale: bool = False) -> torch.Tensor:
    """β_t rising linearly from β_1 to β_T (Ho et al. 2020, §4)."""
    start, end = _endpoints(T, beta_start, beta_end, rescale)
    return torch.linspace(start, end, T, dtype=torch.float64)


def quadratic_beta_schedule(T: int, beta_start: float = DEFAULT_BETA_START,
                            beta_end: float = DEFAULT_BETA_END, rescale: bool = False) -> torch.Tensor:
    """√β_t rising linearly from √β_1 to √β_T (diffusers' "scaled_linear")."""
    start, end = _endpoints(T, beta_start, beta_end, rescale)
    root_start, root_end = torch.tensor([start, end], dtype=torch.float64).sqrt().tolist()
    return torch.linspace(root_start, root_end, T, dtype=torch.float64) ** 2  # NaN if an end < 0


def sigmoid_beta_schedule(T: int, beta_start: float = DEFAULT_BETA_START,
                          beta_end: float = DEFAULT_BETA_END, rescale: bool = False) -> torch.Tensor:
    """β_t = β_1 + (β_T − β_1)·sigmoid(u_t), u_t evenly spaced on [−6, 6].

    This is the definition of GeoDiff (Xu et al. 2022) that diffusers' DDPMScheduler calls
    "sigmoid": a slow start, a fast middle and a slow end between the same endpoints. Because
    sigmoid(±6) is 0.0025 / 0.9975, β_1 and β_T are approached, not hit exactly.
    """
    start, end = _endpoints(T, beta_start, beta_end, rescale)
    u = torch.linspace(-6.0, 6.0, T, dtype=torch.float64)
    return start + (end - start) * torch.sigmoid(u)


def cosine_alpha_bar(tau: torch.Tensor, s: float) -> torch.Tensor:
    """f(τ) = cos²(((τ + s)/(1 + s))·π/2) for τ = t/T (Nichol & Dhariwal 2021, Eq. 17)."""
    return torch.cos((tau + s) / (1 + s) * math.pi / 2) ** 2


def cosine_beta_schedule(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """β_t = 1 − ᾱ_t/ᾱ_{t−1} with ᾱ_t = f(t/T)/f(0), clipped at `max_beta` (N&D 2021, Eq. 17)."""
    tau = torch.arange(T + 1, dtype=torch.float64) / T
    alpha_bar = cosine_alpha_bar(tau, s) / cosine_alpha_bar(torch.zeros((), dtype=torch.float64), s)
    betas = 1 - alpha_bar[1:] / alpha_bar[:-1]
    return betas.clamp(max=max_beta)


SCHEDULES = {
    "linear": linear_beta_schedule,
    "cosine": cosine_beta_schedule,
    "quadratic": quadratic_beta_schedule,
    "sigmoid": sigmoid_beta_schedule,
}
# Parameters each schedule accepts, with their defaults (what a UI shows and a checkpoint stores).
SCHEDULE_PARAMS = {
    "linear": {"beta_start": DEFAULT_BETA_START, "beta_end": DEFAULT_BETA_END, "rescale": False},
    "quadratic": {"beta_start": DEFAULT_BETA_START, "beta_end": DEFAULT_BETA_END, "rescale": False},
    "sigmoid": {"beta_start": DEFAULT_BETA_START, "beta_end": DEFAULT_BETA_END, "rescale": False},
    "cosine": {"s": 0.008, "max_beta": 0.999},
}


def _check_params(name: str, params: dict) -> None:
    allowed = SCHEDULE_PARAMS[name]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise UserError("schedule.params_unknown", "schedule '{name}' does not take {unknown}; it takes {allowed}",
                        name=name, unknown=unknown, allowed=sorted(allowed))
    for key, value in params.items():
        if key == "rescale":
            if not isinstance(value, bool):
                raise UserError("schedule.rescale_bool", "rescale must be True or False, got {value!r}", value=value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserError("schedule.not_finite", "{key} must be a finite number, got {value!r}", key=key, value=value)
    if name == "cosine" and not 0 <= params.get("s", 0.008) <= 1:
        raise UserError("schedule.cosine_offset", "cosine offset s must be in [0, 1], got {s!r}", s=params["s"])


def make_beta_schedule(name: str, T: int, **params) -> torch.Tensor:
    """Return β_1..β_T of the named schedule as a float64 tensor of shape [T].

    `name` is one of SCHEDULES; `params` are the schedule's options (SCHEDULE_PARAMS). Raises
    ValueError, naming what is allowed, for an unknown name or parameter, T outside
    [MIN_TIMESTEPS, MAX_TIMESTEPS], or parameters that would put any β outside (0, 1).
    """
    if name not in SCHEDULES:
        raise UserError("schedule.unknown", "unknown schedule {name!r}; choose one of {choices}", name=name,
                        choices=sorted(SCHEDULES))
    if isinstance(T, bool) or not isinstance(T, int) or not MIN_TIMESTEPS <= T <= MAX_TIMESTEPS:
        raise UserError("schedule.timesteps", "T must be an integer from {low} to {high}, got {T!r}",
                        low=MIN_TIMESTEPS, high=MAX_TIMESTEPS, T=T)
    _check_params(name, params)
    betas = SCHEDULES[name](T, **params)
    bad = ~((betas > 0) & (betas < 1))
    if bad.any():
        raise _beta_out_of_range(name, T, params, int(bad.nonzero()[0]) + 1, float(betas[bad][0]))
    return betas


def _beta_out_of_range(name: str, T: int, params: dict, t: int, beta: float) -> UserError:
    """β_t (t = 1..T) of the schedule is outside (0, 1); say which, and how rescaling is to blame."""
    if not params:
        return UserError("schedule.beta_range_default", "schedule '{name}' with T={T} and default parameters gives "
                         "β_{t} = {beta:.4g}; every β_t must lie in (0, 1)", name=name, T=T, t=t, beta=beta)
    if params.get("rescale"):
        return UserError("schedule.beta_range_rescaled", "schedule '{name}' with T={T} and {params} gives β_{t} = "
                         "{beta:.4g}; every β_t must lie in (0, 1) (rescaling multiplies the endpoints by 1000/T; "
                         "turn it off or use a larger T)", name=name, T=T, params=params, t=t, beta=beta)
    return UserError("schedule.beta_range", "schedule '{name}' with T={T} and {params} gives β_{t} = {beta:.4g}; "
                     "every β_t must lie in (0, 1)", name=name, T=T, params=params, t=t, beta=beta)
