"""DDPM and DDIM samplers against the math: oracles that know x_0, η = 1 against DDPM, determinism, devices."""

import math

import pytest
import torch

from ddpm_core.config import DiffusionConfig
from ddpm_core.samplers import (ddim_sigma, ddim_step, ddpm_step, respace, sample, sample_loop,
                                sampling_timesteps)

DIFFUSION = DiffusionConfig().build()  # the paper's linear schedule, T = 1000
X0 = torch.tensor([[0.5, -0.8, 0.1]], dtype=torch.float64).expand(16, 3)


def oracle(diffusion, x0, prediction="eps"):
    """A "network" that knows x_0 and answers with the true ε, x_0 or v of any x_t."""
    def model(x_t, t):
        eps = diffusion.predict_eps_from_x0(x_t, t, x0)
        return {"eps": eps, "x0": x0, "v": diffusion.velocity(x0, t, eps)}[prediction]
    return model


def test_sampling_timesteps_span_the_chain_evenly():
    use = sampling_timesteps(1000, 50)
    assert len(use) == 50 and use[0] == 0 and use[-1] == 999
    gaps = use.diff()
    assert gaps.min() >= 20 and gaps.max() <= 21  # 999/49 = 20.39
    assert torch.equal(sampling_timesteps(1000), torch.arange(1000))
    assert sampling_timesteps(1000, 1).tolist() == [999]
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="from 1 to T = 1000"):
            sampling_timesteps(1000, bad)


def test_ddim_sigma_at_eta_1_is_the_respaced_posterior_std():
    """η = 1: σ_τ² equals β̃ of the process respaced to the same subsequence (Song et al. 2021, §4.1)."""
    short, use = respace(DIFFUSION, 40)
    abar = DIFFUSION.alphas_cumprod[use]
    sigma = ddim_sigma(abar[1:], abar[:-1], 1.0)
    torch.testing.assert_close(sigma**2, short.posterior_variance[1:], rtol=1e-10, atol=0)
    assert torch.equal(ddim_sigma(abar[1:], abar[:-1], 0.0), torch.zeros(39, dtype=torch.float64))


@pytest.mark.parametrize("steps", [1000, 37])
def test_ddim_with_eta_1_is_ddpm_with_beta_tilde(steps):
    """Same seed, same x_T: DDIM η = 1 and DDPM σ² = β̃ draw the same noise and give the same chain."""
    model = lambda x, t: torch.sin(3 * x) * (1 + t.view(-1, 1) / 1000)  # noqa: E731 (any smooth "network")
    x_T = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    runs = {}
    for sampler, kwargs in (("ddim", {"eta": 1.0}), ("ddpm", {"variance": "beta_tilde"})):
        g = torch.Generator().manual_seed(1)
        runs[sampler] = [f.step.prev_sample for f in sample_loop(model, DIFFUSION, x_T, sampler=sampler, steps=steps,
                                                                  generator=g, **kwargs)]
    assert len(runs["ddim"]) == len(runs["ddpm"]) == steps
    for ddim, ddpm in zip(runs["ddim"], runs["ddpm"]):
        torch.testing.assert_close(ddim, ddpm, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("steps", [1000, 50, 3])
def test_ddim_with_an_oracle_recovers_x0(prediction, steps):
    x_T = torch.randn(X0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    frames = list(sample_loop(oracle(DIFFUSION, X0, prediction), DIFFUSION, x_T, sampler="ddim", steps=steps,
                              prediction=prediction))
    torch.testing.assert_close(frames[-1].step.prev_sample, X0, atol=1e-9, rtol=0)
    torch.testing.assert_close(frames[0].step.pred_x0, X0, atol=1e-9, rtol=0)  # already exact at t = T


@pytest.mark.parametrize("prediction", ["x0", "v"])
def test_ddpm_recovers_x0_for_x0_and_v_prediction_oracles(prediction):
    out = sample(oracle(DIFFUSION, X0.float(), prediction), DIFFUSION, X0.shape, steps=25, prediction=prediction,
                 clip=False, seed=2)
    torch.testing.assert_close(out, X0.float(), atol=1e-4, rtol=0)


def test_ddim_eta_0_is_deterministic_and_the_seed_matters():
    model = lambda x, t: 0.5 * x  # noqa: E731
    shape = (4, 1, 8, 8)
    a = sample(model, DIFFUSION, shape, sampler="ddim", steps=20, seed=7)
    b = sample(model, DIFFUSION, shape, sampler="ddim", steps=20, seed=7)
    c = sample(model, DIFFUSION, shape, sampler="ddim", steps=20, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    x_T = torch.randn(shape, generator=torch.Generator().manual_seed(7))
    ends = [list(sample_loop(model, DIFFUSION, x_T, sampler="ddim", steps=20,
                             generator=torch.Generator().manual_seed(s)))[-1].step.prev_sample for s in (1, 2)]
    assert torch.equal(*ends)  # η = 0 draws no noise after x_T: the generator is irrelevant


def test_ddpm_is_reproducible_for_a_seed():
    model = lambda x, t: 0.5 * x  # noqa: E731
    a, b = (sample(model, DIFFUSION, (4, 1, 8, 8), steps=30, seed=3) for _ in range(2))
    assert torch.equal(a, b)


def test_ddim_step_mean_and_variance_match_equation_12():
    """With the true ε, x̂_0 = x_0; x_prev ~ N(√ᾱ_prev x_0 + √(1−ᾱ_prev−σ²) ε, σ²): check over many draws."""
    n, t, t_prev, eta = 40_000, 600, 400, 0.6
    x0 = torch.tensor([0.7, -0.4], dtype=torch.float64).expand(n, 2)
    eps = torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x_t = DIFFUSION.q_sample(x0, t, eps)
    step = ddim_step(oracle(DIFFUSION, x0), DIFFUSION, x_t, t, t_prev, eta=eta,
                     generator=torch.Generator().manual_seed(2))
    abar_t, abar_prev = DIFFUSION.alphas_cumprod[t], DIFFUSION.alphas_cumprod[t_prev]
    sigma2 = (eta**2 * (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)).item()
    mean = abar_prev.sqrt() * x0 + (1 - abar_prev - sigma2).sqrt() * eps
    residual = step.prev_sample - mean
    assert residual.mean(0).abs().max() < 5 * math.sqrt(sigma2 / n)
    assert (residual.var(0) - sigma2).abs().max() < 5 * sigma2 * math.sqrt(2 / (n - 1))


def test_frames_count_down_from_index_T_minus_1_to_x0():
    model = lambda x, t: 0 * x  # noqa: E731
    x_T = torch.randn(2, 3)
    for sampler, steps in (("ddpm", None), ("ddpm", 10), ("ddim", 10), ("ddim", 1)):
        frames = list(sample_loop(model, DIFFUSION, x_T, sampler=sampler, steps=steps))
        count = steps or 1000
        assert [f.index for f in frames] == list(range(1, count + 1))
        assert frames[0].t == 999 and frames[-1].t_prev == -1  # x_T is index T − 1, x_0 is index −1
        assert all(a.t_prev == b.t and a.t > a.t_prev for a, b in zip(frames, frames[1:]))


def test_the_last_ddpm_step_adds_no_noise_and_clipping_bounds_x0():
    model = lambda x, t: -5 * x  # noqa: E731 (an ε̂ that puts x̂_0 far outside [−1, 1])
    x_t = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    clipped = ddpm_step(model, DIFFUSION, x_t, 0, clip=True)
    assert clipped.pred_x0.abs().max() <= 1 and torch.equal(clipped.prev_sample, clipped.pred_x0)
    assert ddpm_step(model, DIFFUSION, x_t, 0, clip=False).pred_x0.abs().max() > 1
    # the clipped x̂_0 and the ε̂ it implies still describe the same x_t
    step = ddpm_step(model, DIFFUSION, x_t, 500, clip=True, generator=torch.Generator())
    rebuilt = DIFFUSION.q_sample(step.pred_x0, 500, step.pred_eps)
    torch.testing.assert_close(rebuilt, x_t, atol=1e-5, rtol=0)


def test_bad_sampler_settings_are_refused():
    model = lambda x, t: x  # noqa: E731
    x_T = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="unknown sampler"):
        next(sample_loop(model, DIFFUSION, x_T, sampler="plms"))  # (euler and heun are samplers now)
    with pytest.raises(ValueError, match="η must lie in"):
        next(sample_loop(model, DIFFUSION, x_T, sampler="ddim", steps=5, eta=1.5))
    with pytest.raises(ValueError, match="unknown variance"):
        next(sample_loop(model, DIFFUSION, x_T, variance="big"))


def _accelerators():
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found or [pytest.param("cuda", marks=pytest.mark.skip(reason="no CUDA or MPS device here"))]


@pytest.mark.parametrize("device", _accelerators())
def test_cpu_and_accelerator_agree_in_fp32(device, monkeypatch):
    """The same x_T and weights: deterministic DDIM and the U-Net agree across devices within 1e-4.

    TF32 is switched off: with it, CUDA convolutions round inputs to 10 mantissa bits (~1e-3 relative).
    Stochastic samplers draw different noise per device (each device has its own generator), so only
    the deterministic path can be compared value by value.
    """
    from ddpm_core.unet import UNet, UNetConfig

    if device == "cuda":
        monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
        monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(0)
    net = UNet(UNetConfig(image_size=16, channels=3, base_channels=16, channel_mults=(1, 2),
                          attention_resolutions=(8,), dropout=0.0)).eval()
    x_T = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    results = []
    for where in ("cpu", device):
        model, diffusion = net.to(where), DiffusionConfig().build().to(where)
        frames = list(sample_loop(model, diffusion, x_T.to(where), sampler="ddim", steps=20, clip=True))
        results.append(frames[-1].step.prev_sample.cpu())
    torch.testing.assert_close(results[1], results[0], atol=1e-4, rtol=0)


@pytest.mark.parametrize("sampler, steps", [("ddpm", None), ("ddpm", 12), ("ddim", 12)])
def test_a_chain_can_start_from_a_real_x_t(sampler, steps):
    """Progressive decoding: from x_t = q(x_t | x_0) at t = 300 an oracle leads back to that x_0."""
    x_t = DIFFUSION.q_sample(X0, 299, generator=torch.Generator().manual_seed(0))
    frames = list(sample_loop(oracle(DIFFUSION, X0), DIFFUSION, x_t, sampler=sampler, steps=steps, start=299,
                              generator=torch.Generator().manual_seed(1)))
    assert len(frames) == (steps or 300) and frames[0].t == 299 and frames[-1].t_prev == -1
    torch.testing.assert_close(frames[-1].step.prev_sample, X0, atol=1e-6, rtol=0)
    for bad in (-1, 1000):
        with pytest.raises(ValueError, match="start must be an index from 0 to T − 1 = 999"):
            next(sample_loop(oracle(DIFFUSION, X0), DIFFUSION, x_t, start=bad))


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_p_mean_variance_is_the_posterior_at_the_predicted_x0(variance):
    """p_θ(x_{t−1} | x_t): mean μ̃_t(x_t, x̂_0) with x̂_0 from ε̂ (Eq. 15), variance β_t or β̃_t (β̃_2 at t = 1)."""
    from ddpm_core.samplers import p_mean_variance

    x_t = torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    model = lambda x, t: 0.3 * x  # noqa: E731 (any ε̂)
    for t in (0, 1, 999):
        p = p_mean_variance(model, DIFFUSION, x_t, t, variance=variance)
        abar, beta = DIFFUSION.alphas_cumprod[t].item(), DIFFUSION.betas[t].item()
        abar_prev = DIFFUSION.alphas_cumprod_prev[t].item()
        x0 = (x_t - math.sqrt(1 - abar) * 0.3 * x_t) / math.sqrt(abar)
        mean = (math.sqrt(abar_prev) * beta * x0 + math.sqrt(1 - beta) * (1 - abar_prev) * x_t) / (1 - abar)
        torch.testing.assert_close(p.pred_x0, x0, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(p.mean, mean, rtol=1e-10, atol=1e-10)
        want, _ = DIFFUSION.reverse_variance(t, x_t, variance)
        assert p.variance.item() == want.item() and p.log_variance.item() == pytest.approx(math.log(want.item()))


def test_ddpm_step_draws_from_p_mean_variance():
    """Algorithm 2 line 4: x_{t−1} = μ_θ + σ_t z with z from the generator, and z = 0 at t = 1."""
    from ddpm_core.samplers import p_mean_variance

    x_t = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    model = lambda x, t: 0.1 * x  # noqa: E731
    for variance in ("beta", "beta_tilde"):
        for t in (0, 5):
            step = ddpm_step(model, DIFFUSION, x_t, t, variance=variance, generator=torch.Generator().manual_seed(6))
            p = p_mean_variance(model, DIFFUSION, x_t, t, variance=variance)
            z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
            want = p.mean if t == 0 else p.mean + p.variance.sqrt() * z
            torch.testing.assert_close(step.prev_sample, want, rtol=0, atol=1e-12)


def test_model_score_of_an_exact_eps_model_is_the_gaussian_score():
    """With the exact ε-model of data N(μ, s²I), s_θ = −ε̂/√(1 − ᾱ_t) is the noised marginal's score."""
    from ddpm_core.samplers import model_score

    mu, s2 = torch.tensor([0.5, -1.0], dtype=torch.float64), 0.2

    def exact_eps(x, t):
        abar = DIFFUSION.alphas_cumprod[t].view(-1, 1)
        return (1 - abar).sqrt() * (x - abar.sqrt() * mu) / (abar * s2 + 1 - abar)
    x = torch.randn(32, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    for t in (0, 300, 999):
        abar = DIFFUSION.alphas_cumprod[t]
        want = -(x - abar.sqrt() * mu) / (abar * s2 + 1 - abar)
        torch.testing.assert_close(model_score(exact_eps, DIFFUSION, x, t), want, rtol=1e-10, atol=1e-10)


# ---- the probability-flow ODE samplers ("euler", "heun"; ddpm_core/sde.py) and network evaluations ------------

def test_every_frame_counts_network_evaluations():
    """One evaluation per step for DDPM, DDIM and Euler; Heun two, but one on the last step: 2S − 1 in all."""
    from ddpm_core.samplers import SAMPLERS, network_evaluations

    assert SAMPLERS == ("ddpm", "ddim", "euler", "heun")
    calls = []

    def model(x, t):
        calls.append(t)
        return 0.1 * x
    x_T = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    for sampler in SAMPLERS:
        calls.clear()
        frames = list(sample_loop(model, DIFFUSION, x_T, sampler=sampler, steps=8, generator=torch.Generator()))
        assert frames[-1].nfe == len(calls) == network_evaluations(sampler, 8) == (15 if sampler == "heun" else 8)
        assert [f.nfe for f in frames] == ([2, 4, 6, 8, 10, 12, 14, 15] if sampler == "heun" else list(range(1, 9)))
    assert network_evaluations("heun", 1) == 1 and network_evaluations("ddpm", 1000) == 1000


@pytest.mark.parametrize("sampler", ["euler", "heun"])
@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_ode_samplers_with_an_oracle_recover_x0(sampler, prediction):
    """An oracle that knows x_0 answers with its ε, x_0 or v: every ODE step keeps x̂_0 = x_0, and the chain ends
    there."""
    x_T = torch.randn(X0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    frames = list(sample_loop(oracle(DIFFUSION, X0, prediction), DIFFUSION, x_T, sampler=sampler, steps=20,
                              prediction=prediction))
    torch.testing.assert_close(frames[-1].step.prev_sample, X0, atol=1e-9, rtol=0)
    assert all(torch.allclose(f.step.pred_x0, X0, atol=1e-9, rtol=0) for f in frames)
    # between the ends the ODE keeps the noise of x_T: x_t stays on q(x_t | x_0)'s line through it
    mid = frames[9]
    eps = DIFFUSION.predict_eps_from_x0(mid.step.prev_sample, mid.t_prev, X0)
    assert (eps.std() - 1).abs() < 0.5


def test_sample_config_and_the_cli_accept_the_ode_samplers(tmp_path, capsys):
    """SampleConfig.check, SamplingRun and `python -m ddpm_core.sample --sampler euler` run the ODE on a tiny
    checkpoint, and the description names its evaluations."""
    from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
    from ddpm_core.sample import SampleConfig, SamplingRun, describe, main
    from ddpm_core.unet import UNet, UNetConfig

    for sampler in ("euler", "heun"):
        SampleConfig(sampler=sampler, steps=10).check(1000)
    with pytest.raises(ValueError, match="unknown sampler 'rk4'"):
        SampleConfig(sampler="rk4").check(1000)
    assert SampleConfig(sampler="heun", steps=10).network_evaluations(1000) == 19
    assert SampleConfig(sampler="ddpm").network_evaluations(1000) == 1000
    assert str(describe(SampleConfig(sampler="heun"), 10)) == "Heun ODE (19 NFE), 10 steps"
    torch.manual_seed(0)
    tiny = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1,), attention_resolutions=(),
                      dropout=0.0)
    path = save_checkpoint(tmp_path / "tiny.safetensors", UNet(tiny), UNet(tiny),
                           diffusion=DiffusionConfig(timesteps=60), step=1, dataset={"name": "noise"})
    run = SamplingRun(load_checkpoint(path), SampleConfig(n=2, sampler="heun", steps=6, device="cpu"))
    frames = list(run.frames())
    assert len(frames) == run.count == 6 and frames[-1].nfe == 11
    assert frames[-1].step.prev_sample.shape == (2, 1, 16, 16)
    assert main(["--checkpoint", str(path), "--n", "2", "--sampler", "euler", "--steps", "3", "--device", "cpu",
                 "--out", str(tmp_path / "grid.png")]) == 0, capsys.readouterr().err
    assert (tmp_path / "grid.png").stat().st_size > 0
