"""Flow matching against exact answers (the straight path, its velocity, the loss's minimiser, the flow ODE with
the exact velocity of Gaussian data), its training in the 2-D lab, and the lab's samplers side by side."""

import math

import pytest
import torch

from ddpm_core import flow, lab2d
from ddpm_core.config import DiffusionConfig
from ddpm_core.data2d import sample_2d
from ddpm_core.distances import sliced_wasserstein
from ddpm_core.errors import UserError
from ddpm_core.lab2d import Train2DConfig
from ddpm_core.mlp import DenoiserMLP, MLPConfig

MU, S2 = torch.tensor([0.5, -1.0], dtype=torch.float64), 0.25  # the data: N(μ, s²I)
N = 20_000
# The flow ODE's global error with the exact velocity is ≈ K·h^p (h = 1/steps): the order test below measures
# max error × steps^p ≈ 2.3 for Euler (p = 1) and ≈ 0.7 for Heun (p = 2); the statistical tests allow
# K_EULER·h and K_HEUN·h² (about twice these) beside their standard errors.
K_EULER, K_HEUN = 5.0, 2.0


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Thousands of small element-wise ops, which more threads only slow down on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def exact_velocity(x, tau):
    """E[ε − x_0 | x_τ] for data N(μ, s²I) on the path x_τ = (1 − τ) x_0 + τ ε: x_τ ~ N((1 − τ)μ, σ_τ² I) with
    σ_τ² = (1 − τ)² s² + τ², and the flow keeps (x − (1 − τ)μ)/σ_τ fixed, so v = −μ + σ_τ'/σ_τ (x − (1 − τ)μ)."""
    tau = tau.to(x.dtype).view(-1, 1)
    var = (1 - tau) ** 2 * S2 + tau**2
    return -MU + (tau - (1 - tau) * S2) / var * (x - (1 - tau) * MU)


def noise(n=N, seed=0):
    return torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def solve(velocity, x, solver, steps):
    return list(flow.flow_loop(velocity, x, solver=solver, steps=steps))[-1].step.prev_sample


# ---- the path, its velocity and the loss ------------------------------------------------------------

def test_the_path_runs_from_data_to_noise_with_constant_velocity():
    x0, eps = noise(8, 1), noise(8, 2)
    zero, one = torch.zeros(8, dtype=torch.float64), torch.ones(8, dtype=torch.float64)
    assert torch.equal(flow.flow_path(x0, eps, zero), x0) and torch.equal(flow.flow_path(x0, eps, one), eps)
    tau = torch.rand(8, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 0.9
    slope = (flow.flow_path(x0, eps, tau + 1e-3) - flow.flow_path(x0, eps, tau)) / 1e-3
    torch.testing.assert_close(slope, flow.target_velocity(x0, eps))
    x_hat, eps_hat = flow.flow_predictions(flow.flow_path(x0, eps, tau), tau, flow.target_velocity(x0, eps))
    torch.testing.assert_close(x_hat, x0)
    torch.testing.assert_close(eps_hat, eps)


def test_the_loss_is_the_mean_squared_velocity_error_and_zero_at_a_point_mass_velocity():
    """For data δ_μ the velocity (x − μ)/τ is exact on every path, and the loss vanishes there."""
    x0 = MU.expand(64, 2)
    tau = torch.rand(64, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.9 + 0.1
    eps = noise(64, 4)
    exact = lambda x, t: (x - MU) / t.view(-1, 1)  # noqa: E731
    assert float(flow.flow_matching_loss(exact, x0, tau=tau, noise=eps)) < 1e-20
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    want = (eps - x0).pow(2).mean()
    assert float(flow.flow_matching_loss(zero, x0, tau=tau, noise=eps)) == pytest.approx(float(want))


def test_the_gaussian_velocity_minimises_the_loss():
    """E[ε − x_0 | x_τ] is the L² minimiser: scaling or shifting it raises the Monte Carlo loss on 200,000 draws
    (the changes are 0.01·E‖v‖², thirty times the estimate's SE of the difference)."""
    g = torch.Generator().manual_seed(5)
    x0 = MU + math.sqrt(S2) * torch.randn(200_000, 2, dtype=torch.float64, generator=g)
    tau = torch.rand(200_000, dtype=torch.float64, generator=g)
    eps = torch.randn(200_000, 2, dtype=torch.float64, generator=g)
    best = float(flow.flow_matching_loss(exact_velocity, x0, tau=tau, noise=eps))
    for changed in (lambda x, t: 1.1 * exact_velocity(x, t), lambda x, t: exact_velocity(x, t) + 0.1):
        assert float(flow.flow_matching_loss(changed, x0, tau=tau, noise=eps)) > best + 0.005


# ---- the flow ODE -----------------------------------------------------------------------------------

@pytest.mark.parametrize("solver, steps, allowance", [("euler", 500, K_EULER / 500), ("heun", 50, K_HEUN / 50**2)])
def test_the_flow_ode_maps_noise_to_the_data(solver, steps, allowance):
    """With the exact velocity, ε ~ N(0, I) at τ = 1 reaches N(μ, s²I) at τ = 0: 4 standard errors of n = 20,000
    (mean √(s²/n), variance s²√(2/(n − 1))) plus the solver's K·h^p."""
    x = solve(exact_velocity, noise(), solver, steps)
    assert (x.mean(0) - MU).abs().max() < 4 * math.sqrt(S2 / N) + allowance
    assert (x.var(0) - S2).abs().max() < 4 * S2 * math.sqrt(2 / (N - 1)) + allowance


def test_flow_heun_is_second_order_and_euler_first_order():
    """The exact flow maps ε to μ + s ε; halving the step divides Euler's error by about 2 and Heun's by about 4."""
    eps = noise(64, 6)
    want = MU + math.sqrt(S2) * eps
    for solver, ratio in (("euler", 2.0), ("heun", 4.0)):
        errors = [float((solve(exact_velocity, eps, solver, n) - want).abs().max()) for n in (40, 80, 160)]
        for coarse, fine in zip(errors, errors[1:]):
            assert coarse / fine == pytest.approx(ratio, rel=0.1), (solver, errors)


@pytest.mark.parametrize("solver, per_step", [("euler", 1), ("heun", 2)])
def test_flow_frames_count_network_evaluations(solver, per_step):
    calls = []

    def counted(x, tau):
        calls.append(float(tau[0]))
        return exact_velocity(x, tau)
    frames = list(flow.flow_loop(counted, noise(4), solver=solver, steps=5))
    assert [f.nfe for f in frames] == [per_step * i for i in range(1, 6)] == [flow.flow_evaluations(solver, i)
                                                                             for i in range(1, 6)]
    assert len(calls) == frames[-1].nfe and calls[0] == 1.0 and calls[-1] == (0.0 if solver == "heun" else 0.2)
    assert [(f.tau, f.tau_prev) for f in frames][::4] == [(1.0, 0.8), (0.2, 0.0)]


def test_bad_flow_settings_are_refused():
    with pytest.raises(UserError, match="unknown ODE solver 'rk4'") as info:
        next(flow.flow_loop(exact_velocity, noise(2), solver="rk4"))
    assert info.value.code == "continuous.unknown_solver"
    with pytest.raises(UserError, match="steps must be from 1 to 1,000"):
        next(flow.flow_loop(exact_velocity, noise(2), steps=0))


def test_the_mlp_is_told_a_time_in_the_range_of_an_index():
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x, t):
            seen.append(t.clone())
            return x
    flow.mlp_velocity(Spy())(noise(3), torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    torch.testing.assert_close(seen[0], torch.tensor([0.0, 500.0, 1000.0], dtype=torch.float64))


# ---- the 2-D lab: training with either objective, and the samplers side by side -----------------------

def tiny_mlp():
    torch.manual_seed(0)
    return DenoiserMLP(MLPConfig(hidden=32, blocks=1, embedding_dim=16))


def test_flow_matching_trains_the_lab_mlp():
    """Same loop, batches and optimiser as train_2d; the loss falls and the flow's samples approach the data."""
    data = sample_2d("two_moons", 4000, seed=0)
    config = Train2DConfig(steps=600, batch_size=256, lr=3e-3, warmup_steps=20)
    history = list(lab2d.train_flow_2d(tiny_mlp(), data, config))
    losses = [p.loss for p in history]
    assert len(history) == 600 and sum(losses[-50:]) < 0.8 * sum(losses[:50])
    real = sample_2d("two_moons", 1000, seed=1)
    paths = lab2d.paths_2d(history[-1].model, 1000, sampler="flow_euler", steps=20, seed=2)
    assert paths.points.shape == (21, 1000, 2) and paths.nfe == list(range(21))
    assert paths.tau[0] == 1 and paths.tau[-1] == 0 and bool((paths.tau.diff() < 0).all())
    assert sliced_wasserstein(paths.points[-1], real) < 0.5 * sliced_wasserstein(paths.points[0], real)


def test_train_2d_and_train_flow_2d_share_one_loop():
    """Both go through `fit_2d` with their own objective: a network that outputs zero has loss E[ε²] = 1 per
    element for ε-prediction, and E[(ε − x_0)²] = 1 + E[x_0²] for flow matching."""
    data = sample_2d("two_moons", 2000, seed=0)

    class Zero(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t):
            return self.w * x
    config = Train2DConfig(steps=50, batch_size=2000, lr=1e-9)
    diffusion = DiffusionConfig().build()
    eps_loss = [p.loss for p in lab2d.train_2d(Zero(), diffusion, data, config)]
    flow_loss = [p.loss for p in lab2d.train_flow_2d(Zero(), data, config)]
    scale = float(data.pow(2).mean())
    assert sum(eps_loss) / 50 == pytest.approx(1.0, abs=0.02)
    assert sum(flow_loss) / 50 == pytest.approx(1.0 + scale, abs=0.03)


def test_every_lab_sampler_starts_from_the_same_noise_and_counts_evaluations():
    eps_model, flow_model, diffusion = tiny_mlp(), tiny_mlp(), DiffusionConfig().build()
    starts = {}
    for sampler in lab2d.LAB_SAMPLERS:
        model = flow_model if sampler.startswith("flow_") else eps_model
        paths = lab2d.paths_2d(model, 50, sampler=sampler, steps=6, seed=3, diffusion=diffusion)
        assert paths.points.shape == (7, 50, 2) and paths.nfe[0] == 0
        assert paths.nfe[-1] == lab2d.evaluations(sampler, 6) and paths.tau[0] == 1 and paths.tau[-1] == 0
        starts[sampler] = paths.points[0]
    assert all(torch.equal(x, starts["ddpm"]) for x in starts.values())
    with pytest.raises(UserError, match="unknown sampler 'plms'"):
        lab2d.paths_2d(eps_model, 5, sampler="plms", steps=2, diffusion=diffusion)


@pytest.mark.parametrize("sampler", lab2d.LAB_SAMPLERS)
def test_steps_within_a_budget_use_as_much_of_it_as_they_can(sampler):
    for budget in (1, 2, 5, 10, 20, 50, 1000):
        steps = lab2d.steps_within(sampler, budget)
        assert lab2d.evaluations(sampler, steps) <= max(budget, lab2d.evaluations(sampler, 1))
        assert steps == 1 or lab2d.evaluations(sampler, steps + 1) > budget


def test_straightness_is_zero_for_straight_paths_at_constant_speed():
    """Liu et al.'s S: 0 for x(τ) = x_0 + τ(x_1 − x_0); ∫(2τ − 1)² dτ = ⅓ for x = τ² x_1 (straight, speeding
    up); for the corner (1, 1) → (0, 1) → (0, 0) in steps of Δτ = ½, velocities (2, 0) and (0, 2) against the
    straight (1, 1): S = 2 / ‖(1, 1)‖² = 1."""
    tau = torch.linspace(1, 0, 11, dtype=torch.float64)
    ends = torch.tensor([[1.0, 2.0], [-3.0, 0.5]], dtype=torch.float64)
    line = lab2d.Paths2D(tau[:, None, None] * ends, tau, list(range(11)))
    assert lab2d.straightness(line) == pytest.approx(0.0, abs=1e-12)
    uneven = lab2d.Paths2D((tau**2)[:, None, None] * ends, tau, list(range(11)))  # straight, but speeding up
    assert lab2d.straightness(uneven) > 0.3
    corner = torch.tensor([[[1.0, 1.0]], [[0.0, 1.0]], [[0.0, 0.0]]], dtype=torch.float64)
    bent = lab2d.Paths2D(corner, torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64), [0, 1, 2])
    assert lab2d.straightness(bent) == pytest.approx(1.0)


def test_fit_against_evaluations_covers_every_sampler_and_budget():
    real = sample_2d("two_moons", 300, seed=4)
    diffusion = DiffusionConfig().build()
    points = list(lab2d.fit_against_evaluations(real, eps_model=tiny_mlp(), diffusion=diffusion,
                                                flow_model=tiny_mlp(), budgets=(5, 10)))
    # Heun spends 2 evaluations a step but 1 on the last (5 steps: 9); the flow's Heun 2 on every step (2: 4)
    assert [(p.sampler, p.steps, p.nfe) for p in points] == [
        ("ddpm", 5, 5), ("ddpm", 10, 10), ("ddim", 5, 5), ("ddim", 10, 10), ("euler", 5, 5), ("euler", 10, 10),
        ("heun", 3, 5), ("heun", 5, 9), ("flow_euler", 5, 5), ("flow_euler", 10, 10), ("flow_heun", 2, 4),
        ("flow_heun", 5, 10)]
    assert all(p.swd > 0 for p in points) and [p.budget for p in points] == [5, 10] * 6
    only_eps = list(lab2d.fit_against_evaluations(real, eps_model=tiny_mlp(), diffusion=diffusion, budgets=(5,)))
    assert [p.sampler for p in only_eps] == ["ddpm", "ddim", "euler", "heun"]
