"""GaussianDiffusion against independent derivations: products, Gaussian algebra, sampling statistics."""

import math

import pytest
import torch

from ddpm_core.diffusion import GaussianDiffusion
from ddpm_core.schedules import make_beta_schedule

T = 1000


@pytest.fixture(scope="module")
def diffusion():
    return GaussianDiffusion(make_beta_schedule("linear", T))


def test_tensors_are_float64_and_indexed_by_t_minus_1(diffusion):
    names = ["betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
             "sqrt_one_minus_alphas_cumprod", "snr", "posterior_variance",
             "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2"]
    for name in names:
        value = getattr(diffusion, name)
        assert value.shape == (T,) and value.dtype == torch.float64, name
    # Index 0 is the paper's t = 1: ᾱ_1 = α_1 = 1 − β_1, and ᾱ_0 = 1.
    assert diffusion.alphas_cumprod[0].item() == 1 - 1e-4
    assert diffusion.alphas_cumprod_prev[0].item() == 1.0
    assert diffusion.alphas_cumprod_prev[T - 1].item() == diffusion.alphas_cumprod[T - 2].item()


def test_alpha_bar_in_float64_matches_an_exact_sum_of_logs():
    betas = make_beta_schedule("linear", 4000)
    diffusion = GaussianDiffusion(betas)
    exact = math.exp(math.fsum(math.log1p(-b) for b in betas.tolist()))
    assert diffusion.alphas_cumprod[-1].item() == pytest.approx(exact, rel=1e-11)
    for t in (1, 2, 1000, 4000):
        exact_t = math.exp(math.fsum(math.log1p(-b) for b in betas[:t].tolist()))
        assert diffusion.alphas_cumprod[t - 1].item() == pytest.approx(exact_t, rel=1e-11)
        snr = exact_t / (1 - exact_t)
        assert diffusion.snr[t - 1].item() == pytest.approx(snr, rel=1e-9)


def test_q_sample_with_zero_noise_is_sqrt_alpha_bar_x0(diffusion):
    x0 = torch.linspace(-1, 1, 2 * 3 * 4 * 4, dtype=torch.float64).reshape(2, 3, 4, 4)
    for t in (0, 499, T - 1):
        out = diffusion.q_sample(x0, t, noise=torch.zeros_like(x0))
        assert torch.equal(out, diffusion.sqrt_alphas_cumprod[t] * x0)


def test_first_step_closed_form_equals_one_markov_step(diffusion):
    """Boundary t = 1 (index 0): q(x_1 | x_0) and q(x_1 | x_0) via Eq. 2 are the same map."""
    x0, noise = torch.randn(4, 3, 8, 8, dtype=torch.float64), torch.randn(4, 3, 8, 8, dtype=torch.float64)
    closed = diffusion.q_sample(x0, 0, noise)
    markov = diffusion.q_step(x0, 0, noise)
    # √(1 − ᾱ_1) and √β_1 differ only by the cancellation in 1 − (1 − β_1): ~1e-12 relative in β_1.
    assert torch.allclose(closed, markov, atol=1e-13, rtol=0)
    assert torch.allclose(closed, math.sqrt(1 - 1e-4) * x0 + math.sqrt(1e-4) * noise, atol=1e-13)


def test_last_step_is_almost_pure_noise(diffusion):
    """Boundary t = T (index T−1): x_T = √ᾱ_T x_0 + √(1−ᾱ_T) ε with √ᾱ_T ≈ 0.0064."""
    x0, noise = torch.ones(1, 1, 4, 4, dtype=torch.float64), torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    abar_T = math.prod(1 - b for b in make_beta_schedule("linear", T).tolist())
    assert diffusion.q_sample(x0, T - 1, noise)[0, 0, 0, 0].item() == pytest.approx(math.sqrt(abar_T), rel=1e-12)
    mean, var = diffusion.q_mean_variance(x0, T - 1)
    assert var.max().item() == pytest.approx(1 - abar_T, rel=1e-12)


def test_per_sample_timesteps_and_scalar_timesteps_agree(diffusion):
    x0, noise = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    batch = diffusion.q_sample(x0, torch.tensor([0, 10, T - 1]), noise)
    for row, t in enumerate((0, 10, T - 1)):
        assert torch.equal(batch[row], diffusion.q_sample(x0[row:row + 1], t, noise[row:row + 1])[0])


@pytest.mark.parametrize("t", [1, 2, 10, 300, 1000])
def test_closed_form_equals_t_markov_steps_in_distribution(diffusion, t):
    """x_t from t single steps (Eq. 2) has the closed form's mean √ᾱ_t x_0 and variance 1 − ᾱ_t (Eq. 4)."""
    n = 40_000
    x0 = torch.tensor([-1.0, -0.3, 0.0, 0.5, 1.0], dtype=torch.float64).expand(n, 5)
    generator = torch.Generator().manual_seed(t)
    x = diffusion.q_sample_chain(x0, t - 1, generator=generator)
    closed = diffusion.q_sample(x0, t - 1, generator=generator)
    mean = diffusion.sqrt_alphas_cumprod[t - 1].item() * x0[0]
    var = 1 - diffusion.alphas_cumprod[t - 1].item()
    # 5 standard errors each: the sample mean has SE √(var/n), the sample variance SE var·√(2/(n−1)).
    for samples in (x, closed):
        assert (samples.mean(0) - mean).abs().max().item() < 5 * math.sqrt(var / n)
        assert (samples.var(0) - var).abs().max().item() < 5 * var * math.sqrt(2 / (n - 1))


def _posterior_by_gaussian_product(betas, t, x0, x_t):
    """q(x_{t−1}|x_t,x_0) ∝ q(x_t|x_{t−1}) q(x_{t−1}|x_0): add precisions, weight means (paper t ≥ 2)."""
    alpha = 1 - betas[t - 1]
    abar_prev = math.prod(1 - b for b in betas[:t - 1])
    precision = alpha / betas[t - 1] + 1 / (1 - abar_prev)
    var = 1 / precision
    mean = var * (math.sqrt(alpha) * x_t / betas[t - 1] + math.sqrt(abar_prev) * x0 / (1 - abar_prev))
    return mean, var


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("t", [2, 3, 50, 999, 1000])
def test_posterior_matches_the_gaussian_product(name, t):
    betas = make_beta_schedule(name, T)
    diffusion = GaussianDiffusion(betas)
    x0 = torch.tensor([[-0.7, 0.2, 0.9]], dtype=torch.float64)
    x_t = torch.tensor([[0.3, -1.1, 2.0]], dtype=torch.float64)
    mean, var, log_var = diffusion.q_posterior_mean_variance(x0, x_t, t - 1)
    for k in range(3):
        want_mean, want_var = _posterior_by_gaussian_product(betas.tolist(), t, x0[0, k].item(), x_t[0, k].item())
        assert mean[0, k].item() == pytest.approx(want_mean, rel=1e-9, abs=1e-12)
        assert var[0, k].item() == pytest.approx(want_var, rel=1e-9)
        assert log_var[0, k].item() == pytest.approx(math.log(want_var), rel=1e-9)


def test_posterior_by_numerical_bayes_on_a_grid(diffusion):
    """Normalise q(x_t|x_{t−1})·q(x_{t−1}|x_0) on a fine grid and read off its mean and variance."""
    t, x0, x_t = 40, 0.6, -0.4
    grid = torch.linspace(-4, 4, 400_001, dtype=torch.float64)
    alpha, abar_prev = diffusion.alphas[t - 1], diffusion.alphas_cumprod_prev[t - 1]
    log_p = (-(x_t - alpha.sqrt() * grid) ** 2 / (2 * (1 - alpha))
             - (grid - abar_prev.sqrt() * x0) ** 2 / (2 * (1 - abar_prev)))
    weights = torch.exp(log_p - log_p.max())
    weights /= weights.sum()
    mean_num = (weights * grid).sum().item()
    var_num = (weights * (grid - mean_num) ** 2).sum().item()
    mean, var, _ = diffusion.q_posterior_mean_variance(torch.tensor([[x0]], dtype=torch.float64),
                                                       torch.tensor([[x_t]], dtype=torch.float64), t - 1)
    assert mean.item() == pytest.approx(mean_num, abs=1e-7)
    assert var.item() == pytest.approx(var_num, rel=1e-4)


def test_posterior_at_t_equal_1_is_x0_with_zero_variance_and_clipped_log(diffusion):
    """Boundary t = 1: ᾱ_0 = 1, so q(x_0 | x_1, x_0) is a point mass at x_0; log β̃ borrows β̃_2."""
    x0, x1 = torch.tensor([[0.25]], dtype=torch.float64), torch.tensor([[-3.0]], dtype=torch.float64)
    mean, var, log_var = diffusion.q_posterior_mean_variance(x0, x1, 0)
    # coef1 = β_1 / (1 − ᾱ_1) is 1 up to the ~1e-12 cancellation in 1 − (1 − β_1).
    assert mean.item() == pytest.approx(0.25, abs=1e-12) and var.item() == 0.0
    assert log_var.item() == pytest.approx(math.log(diffusion.posterior_variance[1].item()), rel=1e-12)
    assert torch.equal(diffusion.posterior_log_variance_clipped[1:], diffusion.posterior_variance[1:].log())


def test_single_step_chain_is_valid():
    diffusion = GaussianDiffusion(make_beta_schedule("linear", 1))
    assert diffusion.alphas_cumprod.tolist() == [1 - 1e-4]
    assert torch.isfinite(diffusion.posterior_log_variance_clipped).all()


@pytest.mark.parametrize("betas,match", [([], "non-empty"), ([[0.1]], "1-D"), ([0.1, 1.0], r"\(0, 1\)"),
                                         ([0.0], r"\(0, 1\)")])
def test_bad_betas_are_refused(betas, match):
    with pytest.raises(ValueError, match=match):
        GaussianDiffusion(torch.tensor(betas, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_output_follows_the_dtype_of_x(diffusion, dtype):
    x0 = torch.zeros(2, 3, dtype=dtype)
    assert diffusion.q_sample(x0, 5).dtype == dtype
    assert diffusion.q_step(x0, 5).dtype == dtype


def _accelerators():
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found or [pytest.param("cuda", marks=pytest.mark.skip(reason="no CUDA or MPS device here"))]


def test_to_cpu_keeps_float64():
    diffusion = GaussianDiffusion(make_beta_schedule("cosine", 10)).to("cpu")
    assert diffusion.device.type == "cpu" and diffusion.alphas_cumprod.dtype == torch.float64


@pytest.mark.parametrize("device", _accelerators())
def test_results_agree_across_devices(device):
    cpu = GaussianDiffusion(make_beta_schedule("linear", T))
    other = GaussianDiffusion(make_beta_schedule("linear", T)).to(device)
    x0, noise = torch.rand(4, 3, 16, 16) * 2 - 1, torch.randn(4, 3, 16, 16)
    t = torch.tensor([0, 1, 500, T - 1])
    want = cpu.q_sample(x0, t, noise)
    got = other.q_sample(x0.to(device), t.to(device), noise.to(device)).cpu()
    assert torch.allclose(want, got, atol=1e-6)
    mean, var, _ = other.q_posterior_mean_variance(x0.to(device), want.to(device), t.to(device))
    want_mean, want_var, _ = cpu.q_posterior_mean_variance(x0, want, t)
    assert torch.allclose(mean.cpu(), want_mean, atol=1e-6) and torch.allclose(var.cpu(), want_var, atol=1e-7)


def test_chain_to_index_minus_1_is_x0_and_past_T_is_refused(diffusion):
    x0 = torch.randn(2, 3)
    assert torch.equal(diffusion.q_sample_chain(x0, -1), x0)
    assert [i for i, _ in diffusion.q_chain(x0, 2)] == [0, 1, 2]  # x_1, x_2, x_3
    assert len(list(diffusion.q_chain(x0, T - 1))) == T  # the last is x_T
    for bad in (T, -2):
        with pytest.raises(ValueError, match="from −1 \\(x_0\\) to T − 1 = 999"):
            diffusion.q_sample_chain(x0, bad)


def test_diffusion_config_builds_the_named_schedule():
    from ddpm_core.config import DiffusionConfig

    assert torch.equal(DiffusionConfig().betas(), make_beta_schedule("linear", 1000))
    cosine = DiffusionConfig(schedule="cosine", timesteps=50, cosine_s=0.02)
    assert torch.equal(cosine.build().betas, make_beta_schedule("cosine", 50, s=0.02))
    with pytest.raises(ValueError, match="unknown schedule"):
        DiffusionConfig(schedule="nope").betas()


def test_paper_t_and_index_convert_at_both_ends(diffusion):
    """The one conversion: paper t = 1 is index 0, t = T is index T − 1, and x_0 (t = 0) is index −1."""
    from ddpm_core.diffusion import INDEX_X0, index_of, paper_t

    assert (index_of(1), index_of(T), index_of(0)) == (0, T - 1, INDEX_X0) == (0, 999, -1)
    assert (paper_t(0), paper_t(T - 1), paper_t(INDEX_X0)) == (1, T, 0)
    steps = torch.tensor([1, 500, T])
    assert torch.equal(paper_t(index_of(steps)), steps)
    # β at the paper's t = 1 and t = T, read through the conversion
    assert diffusion.betas[index_of(1)].item() == pytest.approx(1e-4, rel=1e-12)
    assert diffusion.betas[index_of(T)].item() == pytest.approx(0.02, rel=1e-12)


@pytest.mark.parametrize("choice", ["beta", "beta_tilde"])
def test_reverse_variance_is_beta_or_beta_tilde_with_beta_tilde_2_at_t_1(diffusion, choice):
    """σ_t² of p_θ (Ho et al. §3.2): β_t or β̃_t for t ≥ 2; at t = 1 either choice is β̃_2 (β̃_1 = 0)."""
    x = torch.zeros(3, 2, dtype=torch.float64)
    beta_tilde_2 = diffusion.betas[1] * (1 - diffusion.alphas_cumprod[0]) / (1 - diffusion.alphas_cumprod[1])
    for index in (1, 2, 500, T - 1):
        var, log_var = diffusion.reverse_variance(index, x, choice)
        want = diffusion.betas[index] if choice == "beta" else (
            diffusion.betas[index] * (1 - diffusion.alphas_cumprod[index - 1]) / (1 - diffusion.alphas_cumprod[index]))
        assert var.item() == pytest.approx(want.item(), rel=1e-12)
        assert log_var.item() == pytest.approx(math.log(want.item()), rel=1e-12)
    var, log_var = diffusion.reverse_variance(0, x, choice)
    assert var.item() == pytest.approx(beta_tilde_2.item(), rel=1e-12)
    assert log_var.item() == pytest.approx(math.log(beta_tilde_2.item()), rel=1e-12)
    # one index per row: shaped (B, 1) to broadcast
    var, _ = diffusion.reverse_variance(torch.tensor([0, 1, T - 1]), x, choice)
    assert var.shape == (3, 1) and var[0].item() == pytest.approx(beta_tilde_2.item(), rel=1e-12)
    with pytest.raises(ValueError, match="unknown variance"):
        diffusion.reverse_variance(3, x, "large")


def test_score_of_gaussian_data_is_its_closed_form(diffusion):
    """For data N(μ, s²) the noised marginal is N(√ᾱ μ, ᾱ s² + 1 − ᾱ), whose score −(x − √ᾱ μ)/(ᾱ s² + 1 − ᾱ)
    is what −E[ε | x_t]/√(1 − ᾱ_t) gives: check `score_from_eps` with the exact conditional mean of ε."""
    mu, s2 = 0.7, 0.3 ** 2
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)[:, None]
    for index in (0, 100, T - 1):
        abar = diffusion.alphas_cumprod[index].item()
        var = abar * s2 + 1 - abar
        eps = math.sqrt(1 - abar) * (x - math.sqrt(abar) * mu) / var  # E[ε | x_t], Gaussian conditioning
        torch.testing.assert_close(diffusion.score_from_eps(x, index, eps), -(x - math.sqrt(abar) * mu) / var,
                                   rtol=1e-12, atol=1e-12)
