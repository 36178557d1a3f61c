"""The variational bound against closed forms: Gaussian KL by Monte Carlo, L_T, an oracle, the decoder's bins."""

import math

import pytest
import torch

from ddpm_core.config import DiffusionConfig
from ddpm_core.likelihood import (discretized_gaussian_log_likelihood, normal_kl, prior_bits,
                                  strata_edges, stratified_timesteps, term_bits, variational_bound)

DIFFUSION = DiffusionConfig().build()  # linear β 1e-4 → 0.02, T = 1000
LEVELS = torch.arange(256, dtype=torch.float64) / 127.5 - 1  # the 256 pixel values in [−1, 1]


def _images(n=3, shape=(1, 4, 4), seed=0):
    g = torch.Generator().manual_seed(seed)
    return LEVELS[torch.randint(0, 256, (n, *shape), generator=g)]


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    m1, v1, m2, v2 = 0.3, 0.5, -0.2, 1.7
    n = 400_000
    x = m1 + math.sqrt(v1) * torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    log_ratio = (-0.5 * math.log(v1) - (x - m1) ** 2 / (2 * v1)) - (-0.5 * math.log(v2) - (x - m2) ** 2 / (2 * v2))
    closed = normal_kl(*(torch.tensor(v, dtype=torch.float64) for v in (m1, math.log(v1), m2, math.log(v2))))
    assert abs(log_ratio.mean() - closed) < 5 * log_ratio.std() / math.sqrt(n)  # 5 standard errors
    assert normal_kl(*(torch.tensor(0.0),) * 4) == 0


def test_decoder_probabilities_sum_to_one_over_the_256_levels():
    for mean, log_scale in ((0.0, math.log(0.01)), (0.97, math.log(0.2)), (-1.3, math.log(0.003)), (0.5, -9.0)):
        log_p = discretized_gaussian_log_likelihood(LEVELS, torch.full_like(LEVELS, mean),
                                                    torch.full_like(LEVELS, log_scale))
        assert abs(log_p.exp().sum().item() - 1) < 1e-6, (mean, log_scale)


def test_decoder_matches_the_gaussian_mass_of_each_bin():
    """Bin i holds Φ((x_i + 1/255 − μ)/σ) − Φ((x_i − 1/255 − μ)/σ); the end bins reach to ∓∞ (math.erf here)."""
    mean, scale = 0.1, 0.4
    phi = lambda x: 0.5 * (1 + math.erf((x - mean) / (scale * math.sqrt(2))))  # noqa: E731
    log_p = discretized_gaussian_log_likelihood(LEVELS, torch.full_like(LEVELS, mean),
                                                torch.full_like(LEVELS, math.log(scale)))
    for i in (0, 1, 100, 140, 254, 255):
        x = LEVELS[i].item()
        mass = (1.0 if i == 255 else phi(x + 1 / 255)) - (0.0 if i == 0 else phi(x - 1 / 255))
        assert log_p[i].exp().item() == pytest.approx(mass, rel=1e-9)


def test_prior_term_is_near_zero_for_the_default_schedule():
    x0 = _images(4, (3, 8, 8))
    bits = prior_bits(DIFFUSION, x0)
    # closed form per dimension: ½(ᾱ_T x² + (1−ᾱ_T) − 1 − log(1−ᾱ_T)) / ln 2 with ᾱ_T ≈ 4.0e-5
    abar = DIFFUSION.alphas_cumprod[-1]
    expected = (0.5 * (abar * x0**2 + (1 - abar) - 1 - torch.log1p(-abar))).flatten(1).mean(1) / math.log(2)
    torch.testing.assert_close(bits, expected, rtol=1e-9, atol=0)
    assert bits.max() < 1e-4


def _oracle(x0):
    return lambda x_t, t: DIFFUSION.predict_eps_from_x0(x_t, t, x0)


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_a_perfect_eps_oracle_drives_the_kl_terms_to_zero(variance):
    x0 = _images()
    for t in (1, 10, 500, 999):
        bits = term_bits(_oracle(x0), DIFFUSION, x0, t, variance=variance, generator=torch.Generator().manual_seed(t))
        if variance == "beta_tilde":
            assert bits.abs().max() < 1e-9  # same mean, same variance
        else:  # same mean; only the variance mismatch log(β/β̃) is left, in closed form
            ratio = DIFFUSION.betas[t] / DIFFUSION.posterior_variance[t]  # σ² = β_t against the posterior's β̃_t
            expected = 0.5 * (ratio.log() + 1 / ratio - 1) / math.log(2)
            torch.testing.assert_close(bits, torch.full_like(bits, float(expected)), rtol=1e-9, atol=1e-12)


def test_the_decoder_term_of_an_oracle_is_the_bin_mass_of_a_sharp_gaussian():
    x0 = _images()
    bits = term_bits(_oracle(x0), DIFFUSION, x0, 0, variance="beta_tilde")
    scale = math.exp(0.5 * DIFFUSION.posterior_log_variance_clipped[0].item())  # √β̃_2
    interior = -math.log2(math.erf(1 / 255 / (scale * math.sqrt(2))))  # mass of ±1/255 around the mean
    assert bits.max().item() <= interior + 1e-9 and bits.max().item() > 0.5 * interior


def test_a_bad_model_costs_more_bits_than_the_oracle():
    x0 = _images(4, (1, 8, 8))
    zero = lambda x_t, t: torch.zeros_like(x_t)  # noqa: E731 (predicts ε = 0 everywhere)
    good = variational_bound(_oracle(x0), DIFFUSION, x0, strata=20, generator=torch.Generator().manual_seed(0))
    bad = variational_bound(zero, DIFFUSION, x0, strata=20, generator=torch.Generator().manual_seed(0))
    assert (bad.total > good.total + 1).all()


def test_every_t_and_stratified_estimates_agree_within_their_standard_error():
    """The stratified estimate is unbiased: its mean over many draws is the all-t total."""
    x0 = _images(2, (1, 4, 4))
    T = 100
    diffusion = DiffusionConfig(timesteps=T, rescale=True).build()
    model = lambda x_t, t: 0.9 * diffusion.predict_eps_from_x0(x_t, t, x0)  # noqa: E731 (slightly wrong)
    noise = torch.Generator().manual_seed(1)
    exact = torch.stack([variational_bound(model, diffusion, x0, generator=noise).total for _ in range(20)]).mean(0)
    estimates = torch.stack([variational_bound(model, diffusion, x0, strata=10,
                                               generator=torch.Generator().manual_seed(s)).total for s in range(200)])
    se = estimates.std(0) / math.sqrt(len(estimates))
    assert ((estimates.mean(0) - exact).abs() < 5 * se + 0.02 * exact).all()


def _stratum(t, edges):
    return torch.searchsorted(edges, t, right=True) - 1


def test_strata_keep_the_decoder_term_alone_and_grow_geometrically():
    edges = strata_edges(1000, 10)
    assert edges[0] == 0 and edges[1] == 1 and edges[-1] == 1000 and len(edges) == 11
    widths = edges[1:].diff().double()
    assert (widths[1:] >= widths[:-1]).all() and widths[-1] > 50 * widths[0]  # 1 → 2, …, 464 → 1000
    assert len(strata_edges(1000, 200)) <= 201 and (strata_edges(1000, 200).diff() > 0).all()  # no empty stratum
    use = stratified_timesteps(1000, 10, torch.Generator().manual_seed(0))
    assert _stratum(use, edges).tolist() == list(range(10)) and use[0] == 0
    assert torch.equal(stratified_timesteps(5, 10), torch.arange(5))
    two = stratified_timesteps(1000, 10, torch.Generator().manual_seed(0), draws=2)
    assert _stratum(two, edges).tolist() == [k // 2 for k in range(20)]


def test_each_image_draws_its_own_timesteps_two_per_stratum():
    x0 = _images(3, (1, 4, 4))
    bound = variational_bound(_oracle(x0), DIFFUSION, x0, strata=10, generator=torch.Generator().manual_seed(0))
    assert bound.timesteps.shape == (3, 20) and not bound.exact and bound.draws == 2
    assert (bound.timesteps.diff(dim=1) <= 0).all()  # descending, as the chain is decoded
    edges = strata_edges(1000, 10)
    assert (_stratum(bound.timesteps, edges) == torch.arange(9, -1, -1).repeat_interleave(2)).all()
    assert (bound.timesteps[:, -2:] == 0).all()  # L_0 is always evaluated
    assert not torch.equal(bound.timesteps[0], bound.timesteps[1])
    assert bound.weights.sum() == 1000


def test_the_two_draw_standard_error_matches_the_spread_of_the_estimate():
    """Var of Σ_h n_h (L_h1 + L_h2)/2 is estimated by Σ_h n_h² (L_h1 − L_h2)²/4: unbiased, so its mean over
    400 runs matches the variance of the 400 estimates (whose own relative error is about √(2/400) = 7 %)."""
    x0 = _images(1, (1, 4, 4))
    T = 200
    diffusion = DiffusionConfig(timesteps=T).build()
    model = lambda x_t, t: 0.8 * diffusion.predict_eps_from_x0(x_t, t, x0)  # noqa: E731 (slightly wrong)
    bounds = [variational_bound(model, diffusion, x0, strata=8, generator=torch.Generator().manual_seed(s))
              for s in range(400)]
    totals = torch.stack([b.total[0] for b in bounds])
    estimated = torch.stack([b.timestep_error()[0] ** 2 for b in bounds]).mean()
    assert 0.75 < float(estimated / totals.var()) < 1.33
    assert bounds[0].standard_error == float(bounds[0].timestep_error()[0]) > 0  # one image: its t error


def test_per_image_timesteps_give_the_terms_of_each_image_alone():
    x0 = _images(3, (1, 4, 4))
    model = lambda x_t, t: 0.5 * DIFFUSION.predict_eps_from_x0(x_t, t, x0)  # noqa: E731
    t = torch.tensor([0, 500, 999])
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(2), dtype=x0.dtype)
    together = term_bits(model, DIFFUSION, x0, t, noise=noise)
    for i in range(3):
        alone = term_bits(lambda x_t, s: model_one(x_t, s, i), DIFFUSION, x0[i:i + 1], int(t[i]),
                          noise=noise[i:i + 1])
        torch.testing.assert_close(together[i:i + 1], alone)


def model_one(x_t, t, i):
    return 0.5 * DIFFUSION.predict_eps_from_x0(x_t, t, _images(3, (1, 4, 4))[i:i + 1])


def test_the_full_bound_has_one_term_per_step():
    x0 = _images(2, (1, 4, 4))
    diffusion = DiffusionConfig(timesteps=30, schedule="cosine").build()
    bound = variational_bound(lambda x_t, t: torch.zeros_like(x_t), diffusion, x0)
    assert bound.terms.shape == (2, 30) and bound.timesteps.tolist() == list(range(29, -1, -1))
    torch.testing.assert_close(bound.total, bound.prior + bound.terms.sum(1))
    assert bound.standard_error > 0 and bound.exact and (bound.timestep_error() == 0).all()


def test_rate_accumulates_to_the_total_and_an_oracle_has_no_distortion():
    x0 = _images(2, (1, 4, 4))
    bound = variational_bound(_oracle(x0), DIFFUSION, x0, strata=25, generator=torch.Generator().manual_seed(0))
    rate = bound.rate()
    assert rate.shape == (2, 50) and (rate.diff(dim=1) >= 0).all()  # two draws per stratum; bits only arrive
    torch.testing.assert_close(rate[:, -1], bound.total)
    assert bound.distortion.abs().max() < 1e-6  # x̂_0 is exactly x_0 at every t
    zero = variational_bound(lambda x_t, t: torch.zeros_like(x_t), DIFFUSION, x0, strata=25,
                             generator=torch.Generator().manual_seed(0))
    # ε̂ = 0: x̂_0 = x_t/√ᾱ_t, so x̂_0 − x_0 = √((1−ᾱ_t)/ᾱ_t) ε, an RMS of 127.5·√((1−ᾱ_t)/ᾱ_t) on 0–255
    abar = DIFFUSION.alphas_cumprod[zero.timesteps]
    expected = 127.5 * ((1 - abar) / abar).sqrt()
    ratio = zero.distortion / expected
    assert ((ratio > 0.4) & (ratio < 1.8)).all()  # RMS of 16 normals: outside with p ≈ 1e-5 each
