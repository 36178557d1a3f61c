"""Flow matching: straight paths between data and noise, their velocity, the loss, and the flow ODE that samples.

Conditional flow matching (Lipman et al. 2023, with σ_min = 0) on the straight path of rectified flow (Liu et
al. 2023), written in the direction the VP-SDE's τ runs (ddpm_core/sde.py), as Esser et al. 2024 write it:

    x_τ = (1 − τ) x_0 + τ ε,   ε ~ N(0, I),   τ ∈ [0, 1]:  data at τ = 0, noise at τ = 1
    u = dx_τ/dτ = ε − x_0                                  (the conditional target velocity)
    L_CFM = E_{τ, x_0, ε} ‖v_θ(x_τ, τ) − (ε − x_0)‖²         (Lipman et al. 2023, Eq. 9)

Sampling solves dx/dτ = v_θ(x, τ) from ε at τ = 1 down to τ = 0. (Lipman's t is 1 − τ; his velocity is −v.)
From x_τ and v one reads the network's guesses x̂_0 = x_τ − τ v and ε̂ = x_τ + (1 − τ) v, which the frames
carry as DDPM's do.

The network's time input: the 2-D lab's MLP embeds an index-like number with sinusoids, and a T = 1000
ε-network sees 0..999; `time_input` gives it 1000·τ (`TIME_SCALE`), the same range, so the same MLP serves
both objectives unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from ddpm_core.errors import UserError
from ddpm_core.samplers import StepOutput

Tensor = torch.Tensor
Velocity = Callable[[Tensor, Tensor], Tensor]  # v(x (B, ...), τ (B,)) → (B, ...)
TIME_SCALE = 1000.0
SOLVERS = ("euler", "heun")
MAX_STEPS = 1000

__all__ = ["TIME_SCALE", "SOLVERS", "Velocity", "time_input", "mlp_velocity", "flow_path", "target_velocity",
           "flow_matching_loss", "flow_predictions", "flow_euler_step", "flow_heun_step", "flow_evaluations",
           "FlowFrame", "flow_loop"]


def time_input(tau: Tensor) -> Tensor:
    """What the network is told for flow time τ ∈ [0, 1]: 1000·τ, the range of a T = 1000 ε-network's index."""
    return TIME_SCALE * tau


def mlp_velocity(model: torch.nn.Module) -> Velocity:
    """v_θ(x, τ): a network taking (x, time) as the ε-MLP does, called with `time_input(τ)`."""
    return lambda x, tau: model(x, time_input(tau))


def _per_sample(tau: Tensor, x: Tensor) -> Tensor:
    """τ of shape (B,) (or a scalar) shaped to broadcast against x (B, ...)."""
    tau = tau.to(device=x.device, dtype=x.dtype)
    return tau if tau.ndim == 0 else tau.reshape(-1, *([1] * (x.ndim - 1)))


def flow_path(x0: Tensor, noise: Tensor, tau: Tensor) -> Tensor:
    """x_τ = (1 − τ) x_0 + τ ε: the straight conditional path from data (τ = 0) to noise (τ = 1) (Liu et al. 2023)."""
    tau = _per_sample(tau, x0)
    return (1 - tau) * x0 + tau * noise


def target_velocity(x0: Tensor, noise: Tensor) -> Tensor:
    """u = d x_τ/dτ = ε − x_0, the conditional velocity along the straight path (constant in τ)."""
    return noise - x0


def flow_matching_loss(velocity: Velocity, x0: Tensor, *, tau: Tensor | None = None, noise: Tensor | None = None,
                       generator: torch.Generator | None = None) -> Tensor:
    """L_CFM = E ‖v_θ(x_τ, τ) − (ε − x_0)‖², τ ~ U[0, 1], ε ~ N(0, I) (Lipman et al. 2023, Eq. 9).

    The batch mean over elements (a scalar), as `losses.simple_loss`; `tau` and `noise` may be given.
    """
    if tau is None:
        tau = torch.rand(x0.shape[0], generator=generator, device=x0.device, dtype=x0.dtype)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_tau = flow_path(x0, noise, tau)
    return torch.mean((velocity(x_tau, tau).float() - target_velocity(x0, noise).float()) ** 2)


def flow_predictions(x: Tensor, tau: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """(x̂_0, ε̂) = (x − τ v, x + (1 − τ) v): the straight line through x with slope v, read at τ = 0 and 1."""
    tau = _per_sample(tau, x)
    return x - tau * v, x + (1 - tau) * v


def _at(tau: float, x: Tensor) -> Tensor:
    return torch.full((x.shape[0],), tau, device=x.device, dtype=x.dtype)


@torch.no_grad()
def flow_euler_step(velocity: Velocity, x: Tensor, tau: float, tau_prev: float) -> StepOutput:
    """One Euler step of dx/dτ = v_θ(x, τ) from τ down to τ_prev: x' = x − (τ − τ_prev) v_θ(x, τ). One evaluation."""
    v = velocity(x, _at(tau, x))
    pred_x0, pred_eps = flow_predictions(x, _at(tau, x), v)
    return StepOutput(x - (tau - tau_prev) * v, pred_x0, pred_eps)


@torch.no_grad()
def flow_heun_step(velocity: Velocity, x: Tensor, tau: float, tau_prev: float) -> StepOutput:
    """One Heun step (explicit trapezoid, 2nd order) of dx/dτ = v_θ(x, τ) from τ down to τ_prev: an Euler step
    to x̃, then x' = x − (τ − τ_prev)·½(v_θ(x, τ) + v_θ(x̃, τ_prev)). Two evaluations (v is finite at τ = 0)."""
    v = velocity(x, _at(tau, x))
    pred_x0, pred_eps = flow_predictions(x, _at(tau, x), v)
    x_euler = x - (tau - tau_prev) * v
    v_prev = velocity(x_euler, _at(tau_prev, x))
    return StepOutput(x - (tau - tau_prev) * 0.5 * (v + v_prev), pred_x0, pred_eps)


def flow_evaluations(solver: str, steps: int) -> int:
    """Network evaluations of `steps` steps of `solver`: one per Euler step, two per Heun step."""
    return 2 * steps if solver == "heun" else steps


@dataclass
class FlowFrame:
    """The flow ODE after `index` of `count` steps, which went from τ to τ_prev (0 at the end), as
    `samplers.Frame` (x_{τ_prev} in `step.prev_sample`, x̂_0 and ε̂ at x_τ), with `nfe` evaluations so far."""

    index: int
    count: int
    tau: float
    tau_prev: float
    step: StepOutput
    nfe: int


def flow_loop(velocity: Velocity, noise: Tensor, *, solver: str = "euler", steps: int = 50) -> Iterator[FlowFrame]:
    """Solve dx/dτ = v_θ(x, τ) from x = ε at τ = 1 to τ = 0 in `steps` equal steps, yielding each."""
    if solver not in SOLVERS:
        raise UserError("continuous.unknown_solver", "unknown ODE solver {solver!r}; choose one of {choices}",
                        solver=solver, choices=", ".join(SOLVERS))
    if not 1 <= steps <= MAX_STEPS:
        raise UserError("continuous.flow_steps", "steps must be from 1 to {most:,}, got {steps}",
                        most=MAX_STEPS, steps=steps)
    solve = flow_euler_step if solver == "euler" else flow_heun_step
    x = noise
    for index in range(1, steps + 1):
        tau, tau_prev = (steps - index + 1) / steps, (steps - index) / steps
        step = solve(velocity, x, tau, tau_prev)
        x = step.prev_sample
        yield FlowFrame(index, steps, tau, tau_prev, step, flow_evaluations(solver, index))
