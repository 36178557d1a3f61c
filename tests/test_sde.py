"""The continuous view against exact answers: β(τ) from the schedule, the forward SDE's marginals, and the reverse
SDE and probability-flow ODE with the exact score of Gaussian data N(μ, s²I), whose every marginal is known."""

import math

import pytest
import torch

from ddpm_core import sde
from ddpm_core.config import DiffusionConfig
from ddpm_core.errors import UserError
from ddpm_core.samplers import ddpm_step, network_evaluations, sample_loop

DIFFUSION = DiffusionConfig().build()  # the paper's linear schedule, T = 1000
T = DIFFUSION.num_timesteps
MU, S2 = torch.tensor([0.5, -1.0], dtype=torch.float64), 0.25  # the data: N(μ, s²I)
N = 20_000  # samples in the statistical tests
# Solver error constants on this problem: the global error after N steps is ≈ K·h^p with h = 1/steps. The
# order test below measures max error × steps^p ≈ 1.0 for Euler (p = 1) and ≈ 5 for Heun (p = 2) on the
# way to x_0, and Euler–Maruyama's weak error × steps ≈ 0.6 (mean and variance pushed through its linear
# recursion); twice these bound the bias each statistical test allows beside its standard errors.
K_EULER, K_HEUN, K_EM = 2.0, 10.0, 2.0


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These loops run thousands of small element-wise ops, which more threads only slow down (on a loaded
    2-core machine, ten times)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def abar(t):
    return DIFFUSION.alphas_cumprod[t]


def marginal(t):
    """Mean and variance of q(x_t) for data N(μ, s²I): N(√ᾱ_t μ, (ᾱ_t s² + 1 − ᾱ_t) I)."""
    return abar(t).sqrt() * MU, abar(t) * S2 + 1 - abar(t)


def exact_eps(x, t):
    """E[ε | x_t] for data N(μ, s²I): the ε-predictor whose score −ε/√(1 − ᾱ_t) is exactly ∇log q(x_t)."""
    a = DIFFUSION.alphas_cumprod[t].view(-1, 1)
    return (1 - a).sqrt() * (x - a.sqrt() * MU) / (a * S2 + 1 - a)


def counting(model):
    """The model, and a list whose length is the number of calls made to it."""
    calls = []

    def counted(x, t):
        calls.append(int(t[0]))
        return model(x, t)
    return counted, calls


def noise(n=N, seed=0):
    return torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def assert_law(x, mean, var, bias):
    """Sample mean and variance of x (n, d) equal `mean` and `var` within 4 standard errors plus `bias`:
    the mean's SE is √(var/n), the variance's √(2/(n − 1))·var (Gaussian x)."""
    n = x.shape[0]
    assert (x.mean(0) - mean).abs().max() < 4 * math.sqrt(var / n) + bias
    assert (x.var(0) - var).abs().max() < 4 * var * math.sqrt(2 / (n - 1)) + bias


# ---- time and β(τ) --------------------------------------------------------------------------------

def test_tau_puts_x_T_at_1_and_x_0_at_0():
    assert sde.tau_of(T - 1, T) == 1.0 and sde.tau_of(-1, T) == 0.0 and sde.tau_of(0, T) == 1 / T
    assert torch.equal(sde.tau_of(torch.tensor([0, 499]), T), torch.tensor([0.001, 0.5]))


def test_beta_integrates_to_minus_log_alpha_over_every_step():
    """∫β over step i is −log α_i (β is linear within a step: the trapezoid of its knots is exact), so
    exp(−∫_0^{τ_i} β) is ᾱ_i at every knot, t = 1 and t = T included."""
    knots = sde.beta(DIFFUSION, torch.arange(T + 1, dtype=torch.float64) / T)
    per_step = (knots[:-1] + knots[1:]) / (2 * T)
    torch.testing.assert_close(per_step, -torch.log(DIFFUSION.alphas), rtol=1e-6, atol=0)
    alpha_bar = torch.exp(-torch.cumsum(per_step, 0))
    torch.testing.assert_close(alpha_bar[[0, T - 1]], DIFFUSION.alphas_cumprod[[0, T - 1]], rtol=1e-6, atol=0)
    # β(τ) ≈ T·β_i (Song et al. 2021, App. B: β(i/T) = T β_i): 0.1 at τ = 0 and 20 at τ = 1
    assert float(sde.beta(DIFFUSION, 0.0005)) == pytest.approx(0.1, rel=1e-3)
    assert float(sde.beta(DIFFUSION, 1.0)) == pytest.approx(20.2, rel=2e-3)
    torch.testing.assert_close(sde.beta_rates(DIFFUSION), -T * torch.log1p(-DIFFUSION.betas))


def test_drift_and_diffusion_coefficient_are_the_vp_sde():
    x = noise(8)
    for tau in (0.0, 0.3, 1.0):
        b = sde.beta(DIFFUSION, tau)
        torch.testing.assert_close(sde.drift(DIFFUSION, x, tau), -0.5 * b * x)
        assert float(sde.diffusion_coefficient(DIFFUSION, tau)) ** 2 == pytest.approx(float(b))
    per_point = torch.tensor([0.2, 0.9], dtype=torch.float64)  # one τ per point broadcasts over its coordinates
    torch.testing.assert_close(sde.drift(DIFFUSION, x[:2], per_point),
                               -0.5 * sde.beta(DIFFUSION, per_point)[:, None] * x[:2])


# ---- the forward SDE --------------------------------------------------------------------------------

@pytest.mark.parametrize("substeps", [1, 2])
def test_euler_maruyama_marginals_match_q_xt_given_x0(substeps):
    """From a fixed x_0, x at index t has mean √ᾱ_t x_0 and variance 1 − ᾱ_t (Eq. 4) within standard errors.

    Euler–Maruyama's own bias: per step the mean shrinks by 1 − β_i/2 instead of √(1 − β_i) ≈ 1 − β_i/2 − β_i²/8,
    at most Σβ_i²/8 < 0.017 relative (0.007 at this x_0's scale), and the variance's fixed point is
    1/(1 − β_i/4), 0.5 % high at most: allowed as `bias` = 0.01.
    """
    x0 = torch.tensor([1.5, -0.5], dtype=torch.float64).expand(N, 2)
    want = {0, 99, 499, 999}
    seen = {}
    for index, x in sde.forward_sde_chain(DIFFUSION, x0, T - 1, substeps=substeps,
                                          generator=torch.Generator().manual_seed(substeps)):
        if index in want:
            seen[index] = x
    assert sorted(seen) == sorted(want)
    for index, x in seen.items():
        a = abar(index)
        x_c = x - a.sqrt() * x0[0]  # centred on the exact mean; the exact variance is the same for each coordinate
        assert_law(x_c, torch.zeros(2, dtype=torch.float64), float(1 - a), bias=0.01)


def test_the_forward_chain_checks_its_arguments():
    x0 = torch.zeros(2, 2)
    assert list(sde.forward_sde_chain(DIFFUSION, x0, -1)) == []  # x_0 is where the chain starts
    for bad in (T, -2):
        with pytest.raises(UserError, match="t must be an index") as info:
            next(sde.forward_sde_chain(DIFFUSION, x0, bad))
        assert info.value.code == "continuous.index"
    with pytest.raises(UserError, match="substeps must be from 1 to 100"):
        next(sde.forward_sde_chain(DIFFUSION, x0, 5, substeps=0))


# ---- the reverse SDE and the probability-flow ODE with the exact score ---------------------------------

def ode_image_of_standard_normal():
    """Mean and variance of the exact flow's image of x_T ~ N(0, I) (not quite q(x_T): ᾱ_T = 4e-5).

    The exact probability-flow ODE keeps (x − m_τ)/√v_τ fixed (m, v the marginal's mean and variance), and the
    last step's x̂_0 = μ + s²√ᾱ_0/v_0 (x − m_0); so x_0 = μ + c (x_T − m_T), c = s²√ᾱ_0/√(v_0 v_T).
    This is N(μ, s²I) up to s√ᾱ_T ≈ 0.003 in the mean (one SE at this n) and 0.1 % in the variance.
    """
    (_, v_0), (m_T, v_T) = marginal(0), marginal(T - 1)
    c = S2 * abar(0).sqrt() / (v_0 * v_T).sqrt()
    return MU - c * m_T, float(c**2)


@pytest.mark.parametrize("method, steps, allowance", [("euler", 1000, K_EULER / 1000), ("heun", 100, K_HEUN / 100**2)])
def test_the_probability_flow_ode_maps_noise_to_the_data(method, steps, allowance):
    """With the exact score, Euler (all T steps) and Heun (100 steps, 199 evaluations) carry N(0, I) samples to
    N(μ, s²I): 4 standard errors of n = 20,000 plus the solver's error K·h^p."""
    frames = list(sde.continuous_loop(exact_eps, DIFFUSION, noise(), method=method, steps=steps))
    mean, var = ode_image_of_standard_normal()
    assert_law(frames[-1].step.prev_sample, mean, var, allowance)
    assert (mean - MU).abs().max() < 0.004 and var == pytest.approx(S2, rel=2e-3)


def test_the_reverse_sde_maps_noise_to_the_data():
    """Euler–Maruyama of the reverse-time SDE over all T steps with the exact score draws x_0 ~ p(x_0 | x_T);
    over x_T ~ N(0, I) that is N(μ − k m_T, s² − s⁴ᾱ_T/v_T + k²), k = s²√ᾱ_T/v_T: N(μ, s²I) to 2e-3.
    Tolerance: 4 SE plus the scheme's weak error K_EM·h."""
    m_T, v_T = marginal(T - 1)
    k = S2 * abar(T - 1).sqrt() / v_T
    mean, var = MU - k * m_T, float(S2 - S2**2 * abar(T - 1) / v_T + k**2)
    frames = list(sde.continuous_loop(exact_eps, DIFFUSION, noise(seed=1), method="sde",
                                      generator=torch.Generator().manual_seed(2)))
    assert len(frames) == T and frames[-1].nfe == T
    assert_law(frames[-1].step.prev_sample, mean, var, K_EM / T)


def exact_flow(x_T, t):
    """The exact probability-flow ODE's solution at index t from x_T at index T − 1: (x − m)/√v stays fixed."""
    (m_t, v_t), (m_T, v_T) = marginal(t), marginal(T - 1)
    return m_t + (v_t / v_T).sqrt() * (x_T - m_T)


def solve_to(step, x_T, end, steps):
    """`steps` equal steps of a solver from index T − 1 down to index `end`."""
    ts = torch.linspace(T - 1, end, steps + 1, dtype=torch.float64).round().long().tolist()
    x = x_T
    for t, t_prev in zip(ts, ts[1:]):
        x = step(exact_eps, DIFFUSION, x, t, t_prev).prev_sample
    return x


def test_heun_is_second_order_and_euler_first_order():
    """Halving the step divides Heun's error by about 4 and Euler's by about 2, on the exact score's smooth
    problem from τ = 1 to τ = 0.1 (index 99): 900 indices in 30, 60 and 120 equal steps."""
    x_T = noise(64, seed=3)
    want = exact_flow(x_T, 99)
    for step, ratio in ((sde.euler_step, 2.0), (sde.heun_step, 4.0)):
        errors = [float((solve_to(step, x_T, 99, n) - want).abs().max()) for n in (30, 60, 120)]
        for coarse, fine in zip(errors, errors[1:]):
            assert coarse / fine == pytest.approx(ratio, rel=0.1), (step.__name__, errors)


def test_one_reverse_sde_step_is_ddpm_to_first_order():
    """Over one index, Euler–Maruyama of the reverse SDE and Algorithm 2 (σ² = β) differ by O(β_t^{3/2}) with the
    same z: the coefficients 1/√α_t vs 1 + β_t/2 and √β_t vs g√Δτ agree to first order in β_t."""
    x = noise(256, seed=4)
    for t in (100, 500, 999):
        beta = float(DIFFUSION.betas[t])
        em = sde.reverse_sde_step(exact_eps, DIFFUSION, x, t, t - 1, generator=torch.Generator().manual_seed(5))
        ddpm = ddpm_step(exact_eps, DIFFUSION, x, t, generator=torch.Generator().manual_seed(5))
        assert (em.prev_sample - ddpm.prev_sample).abs().max() < 10 * beta**1.5
        assert (ddpm.prev_sample - x).abs().max() > beta**0.5  # the step itself is O(√β_t)
        torch.testing.assert_close(em.pred_x0, ddpm.pred_x0)


# ---- frames and network evaluations -----------------------------------------------------------------

@pytest.mark.parametrize("method, steps", [("sde", 7), ("euler", 7), ("heun", 7), ("heun", 1), ("euler", None)])
def test_frames_count_steps_and_network_evaluations(method, steps):
    model, calls = counting(exact_eps)
    frames = list(sde.continuous_loop(model, DIFFUSION, noise(4), method=method, steps=steps,
                                      generator=torch.Generator().manual_seed(0)))
    count = steps or T
    assert [f.index for f in frames] == list(range(1, count + 1)) and frames[-1].count == count
    assert frames[0].t == T - 1 and frames[-1].t_prev == -1
    assert all(a.t_prev == b.t for a, b in zip(frames, frames[1:]))
    nfe = [0, *(f.nfe for f in frames)]
    per_step = [b - a for a, b in zip(nfe, nfe[1:])]
    assert frames[-1].nfe == len(calls) == network_evaluations("heun" if method == "heun" else "ddim", count)
    if method == "heun" and count > 1:
        assert frames[0].nfe == 2 and set(per_step[:-1]) == {2} and per_step[-1] == 1
        assert calls[:2] == [frames[0].t, frames[0].t_prev]  # the corrector asks about the step's end
    torch.testing.assert_close(frames[-1].step.prev_sample, frames[-1].step.pred_x0)  # x_0 = x̂_0 at the end


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_sample_loop_runs_the_ode_on_ddims_subsequence(sampler):
    """sample_loop's "euler" and "heun" are sde's solvers over the indices DDIM visits, with `nfe` on each frame."""
    x_T = noise(16, seed=6)
    ours = list(sample_loop(exact_eps, DIFFUSION, x_T, sampler=sampler, steps=12))
    ddim = list(sample_loop(exact_eps, DIFFUSION, x_T, sampler="ddim", steps=12))
    direct = list(sde.continuous_loop(exact_eps, DIFFUSION, x_T, method=sampler, steps=12))
    assert [(f.t, f.t_prev) for f in ours] == [(f.t, f.t_prev) for f in ddim] == [(f.t, f.t_prev) for f in direct]
    assert [f.nfe for f in ours] == [f.nfe for f in direct] and [f.nfe for f in ddim] == list(range(1, 13))
    assert torch.equal(ours[-1].step.prev_sample, direct[-1].step.prev_sample)
    assert ours[-1].nfe == network_evaluations(sampler, 12)
    # the exact flow's x_0 within the solver's K·h^p (DDIM, exact only when ε̂ is constant along a path, is
    # 0.22 away here)
    (_, v_0), (m_T, v_T) = marginal(0), marginal(T - 1)
    exact = MU + S2 * abar(0).sqrt() / (v_0 * v_T).sqrt() * (x_T - m_T)
    allowed = K_EULER / 12 if sampler == "euler" else K_HEUN / 12**2
    assert (ours[-1].step.prev_sample - exact).abs().max() < allowed


def test_a_chain_from_a_real_x_t_with_an_x0_oracle():
    """Progressive decoding with the ODE: from x_t at index 299 an oracle that knows x_0 leads back to it."""
    x0 = torch.tensor([[0.5, -0.8]], dtype=torch.float64).expand(8, 2)
    x_t = DIFFUSION.q_sample(x0, 299, generator=torch.Generator().manual_seed(0))
    for sampler in ("euler", "heun"):
        frames = list(sample_loop(lambda x, t: x0, DIFFUSION, x_t, sampler=sampler, steps=10, start=299,
                                  prediction="x0"))
        assert frames[0].t == 299 and len(frames) == 10
        torch.testing.assert_close(frames[-1].step.prev_sample, x0, atol=1e-9, rtol=0)


def test_unknown_methods_and_bad_pairs_are_refused():
    with pytest.raises(UserError, match="unknown method 'rk4'"):
        next(sde.continuous_loop(exact_eps, DIFFUSION, noise(2), method="rk4"))
    with pytest.raises(ValueError, match="from −1 to t − 1"):
        sde.heun_step(exact_eps, DIFFUSION, noise(2), 5, 5)
