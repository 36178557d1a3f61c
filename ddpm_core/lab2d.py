"""Training and sampling the 2-D lab's networks: the ε-denoiser (the images' L_simple and Algorithm 2, and the
continuous view's SDE and ODE samplers) and the flow-matching velocity, with one training loop for both."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ddpm_core import lr_schedule
from ddpm_core.diffusion import INDEX_X0, GaussianDiffusion, paper_t
from ddpm_core.distances import sliced_wasserstein
from ddpm_core.errors import UserError
from ddpm_core.flow import flow_evaluations, flow_loop, flow_matching_loss, mlp_velocity
from ddpm_core.losses import simple_loss
from ddpm_core.mlp import DenoiserMLP
from ddpm_core.samplers import network_evaluations, sample_loop
from ddpm_core.sde import continuous_loop, tau_of

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
            raise UserError("lab2d.steps", "steps must be from 1 to {high:,}, got {steps}.", high=MAX_TRAIN_STEPS,
                            steps=self.steps)
        if not 1 <= self.batch_size <= 8192:
            raise UserError("lab2d.batch_size", "batch size must be from 1 to 8192, got {batch_size}.",
                            batch_size=self.batch_size)
        if not 0 < self.lr <= 1:
            raise UserError("lab2d.lr", "learning rate must be in (0, 1], got {lr}.", lr=self.lr)
        if not 0 <= self.ema_decay < 1:
            raise UserError("lab2d.ema_decay", "EMA decay must be in [0, 1), got {decay}.", decay=self.ema_decay)


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
    return lr_schedule.learning_rate(step, config.lr, config.warmup_steps, config.steps, "cosine")


def train_2d(model: DenoiserMLP, diffusion: GaussianDiffusion, data: torch.Tensor,
             config: Train2DConfig) -> Iterator[TrainProgress]:
    """Fit ε_θ to `data` (n, 2) by Algorithm 1, yielding progress after every step.

    Stop iterating to stop training; the last progress's `model` is the EMA model to sample from.
    """
    yield from fit_2d(model, data, config, lambda net, batch, g: simple_loss(net, diffusion, batch, generator=g))


def train_flow_2d(model: DenoiserMLP, data: torch.Tensor, config: Train2DConfig) -> Iterator[TrainProgress]:
    """Fit the velocity v_θ to `data` (n, 2) by conditional flow matching (`flow.flow_matching_loss`), with the
    same optimiser, schedule, batches and EMA as `train_2d`, so the two objectives compare at equal budget.

    The last progress's `model` is the EMA network; sample it through `flow.mlp_velocity`.
    """
    yield from fit_2d(model, data, config,
                      lambda net, batch, g: flow_matching_loss(mlp_velocity(net), batch, generator=g))


def fit_2d(model: torch.nn.Module, data: torch.Tensor, config: Train2DConfig,
           loss: Callable[[torch.nn.Module, torch.Tensor, torch.Generator], torch.Tensor]) -> Iterator[TrainProgress]:
    """Minimise `loss(model, batch, generator)` over random batches of `data` with AdamW, warm-up and cosine
    decay (`learning_rate`) and an EMA of the weights, yielding progress after every step: the lab's one
    training loop, whatever the objective."""
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
        value = loss(model, batch, g)
        optimiser.zero_grad(set_to_none=True)
        value.backward()
        optimiser.step()
        ema.update_parameters(model)
        yield TrainProgress(step + 1, config.steps, float(value.detach()), lr, time.perf_counter() - start, ema.module)


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


# ---- the continuous view: samplers side by side, paths, and fit against network evaluations -----------

# ε-network samplers (DDPM's Algorithm 2, DDIM η = 0, the reverse SDE by Euler–Maruyama, the probability-flow
# ODE by Euler or Heun) and the flow-matching network's ODE (Euler or Heun)
LAB_SAMPLERS = ("ddpm", "ddim", "sde", "euler", "heun", "flow_euler", "flow_heun")
NFE_BUDGETS = (5, 10, 20, 50, 100, 1000)


def evaluations(sampler: str, steps: int) -> int:
    """Network evaluations (NFE) of `steps` steps of a LAB_SAMPLERS sampler."""
    if sampler.startswith("flow_"):
        return flow_evaluations(sampler.removeprefix("flow_"), steps)
    return network_evaluations(sampler, steps)


def steps_within(sampler: str, nfe: int) -> int:
    """The most steps of `sampler` whose network evaluations fit in `nfe` (at least one step)."""
    if sampler == "heun":
        return max(1, (nfe + 1) // 2)
    return max(1, nfe // 2) if sampler == "flow_heun" else max(1, nfe)


@dataclass(frozen=True)
class Position2D:
    """Where a sampler's n points are after some steps: x (n, 2) at time τ (1: noise, 0: data) after `nfe`
    network evaluations."""

    nfe: int
    tau: float
    x: torch.Tensor


@torch.no_grad()
def sampler_frames_2d(model: torch.nn.Module, n: int, *, sampler: str, steps: int, seed: int = 0,
                      diffusion: GaussianDiffusion | None = None) -> Iterator[Position2D]:
    """n points from x_T ~ N(0, I) (drawn from `seed`, the same for every sampler) to the data, yielding their
    Position2D at τ = 1 and after every step. `model` is the ε-network (with its `diffusion`) or, for
    "flow_euler" and "flow_heun", the flow-matching network; an index t of the ε-samplers is at τ = (t + 1)/T."""
    if sampler not in LAB_SAMPLERS:
        raise UserError("continuous.sampler_unknown", "unknown sampler {sampler!r}; choose one of {choices}",
                        sampler=sampler, choices=", ".join(LAB_SAMPLERS))
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, 2, generator=g)
    yield Position2D(0, 1.0, x_T)
    if sampler.startswith("flow_"):
        for frame in flow_loop(mlp_velocity(model), x_T, solver=sampler.removeprefix("flow_"), steps=steps):
            yield Position2D(frame.nfe, frame.tau_prev, frame.step.prev_sample)
        return
    if sampler in ("sde", "euler", "heun"):
        frames = continuous_loop(model, diffusion, x_T, method=sampler, steps=steps, generator=g)
    else:
        frames = sample_loop(model, diffusion, x_T, sampler=sampler, steps=steps, generator=g)
    for frame in frames:
        yield Position2D(frame.nfe, tau_of(frame.t_prev, diffusion.num_timesteps), frame.step.prev_sample)


@dataclass(frozen=True)
class Paths2D:
    """Every point's path: `points` (K + 1, n, 2) from x_T to x_0, at times `tau` (K + 1,) from 1 to 0, after
    `nfe` (K + 1,) network evaluations."""

    points: torch.Tensor
    tau: torch.Tensor
    nfe: list[int]


def paths_2d(model: torch.nn.Module, n: int, *, sampler: str, steps: int, seed: int = 0,
             diffusion: GaussianDiffusion | None = None) -> Paths2D:
    """The paths of `sampler_frames_2d` (which see), stacked: the same seed gives every sampler the same x_T."""
    positions = list(sampler_frames_2d(model, n, sampler=sampler, steps=steps, seed=seed, diffusion=diffusion))
    return Paths2D(torch.stack([p.x for p in positions]),
                   torch.tensor([p.tau for p in positions], dtype=torch.float64), [p.nfe for p in positions])


def straightness(paths: Paths2D) -> float:
    """S = ∫ E‖(x_1 − x_0) − dx/dτ‖² dτ / E‖x_1 − x_0‖²: how far the paths are from straight lines run at constant
    speed (Liu et al. 2023, Def. 3.2, divided by the mean squared displacement). 0 for straight paths, which one
    Euler step solves exactly; a detour, or speed that changes along the way, makes it positive."""
    points, tau = paths.points.double(), paths.tau
    dtau = (tau[:-1] - tau[1:]).to(points)
    velocity = (points[:-1] - points[1:]) / dtau.view(-1, 1, 1)  # dx/dτ on each step, (K, n, d)
    displacement = points[0] - points[-1]  # x_1 − x_0: the velocity of the straight path at constant speed
    deviation = (velocity - displacement).pow(2).sum(-1).mean(1)  # (K,)
    return float((deviation * dtau).sum() / displacement.pow(2).sum(-1).mean())


@dataclass(frozen=True)
class FitPoint:
    """Sliced-Wasserstein distance to fresh data of one sampler's points at `steps` steps: `nfe` evaluations,
    the most that fit in `budget`."""

    sampler: str
    budget: int
    steps: int
    nfe: int
    swd: float


def fit_against_evaluations(real: torch.Tensor, *, eps_model: torch.nn.Module | None = None,
                            diffusion: GaussianDiffusion | None = None, flow_model: torch.nn.Module | None = None,
                            samplers: tuple[str, ...] = ("ddpm", "ddim", "euler", "heun", "flow_euler", "flow_heun"),
                            budgets: tuple[int, ...] = NFE_BUDGETS, seed: int = 0) -> Iterator[FitPoint]:
    """For each sampler and NFE budget, len(real) points at the most steps the budget allows, and their sliced
    Wasserstein distance to `real` (fresh data): fit against network evaluations, one point at a time.
    Samplers whose network is not given are skipped; budgets beyond T steps are too."""
    for sampler in samplers:
        model = flow_model if sampler.startswith("flow_") else eps_model
        if model is None:
            continue
        for budget in budgets:
            steps = steps_within(sampler, budget)
            if not sampler.startswith("flow_") and steps > diffusion.num_timesteps:
                continue
            *_, last = sampler_frames_2d(model, real.shape[0], sampler=sampler, steps=steps, seed=seed,
                                         diffusion=diffusion)
            yield FitPoint(sampler, budget, steps, last.nfe, sliced_wasserstein(last.x, real))
