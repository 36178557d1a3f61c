"""The 2-D lab's core: data generators, forward statistics, distances, the sampler step, and training."""

import math

import pytest
import torch
from PIL import Image, ImageDraw

from ddpm_core.config import DiffusionConfig
from ddpm_core.data2d import MAX_POINTS, SHAPES, sample_2d
from ddpm_core.distances import energy_distance, sliced_wasserstein
from ddpm_core.lab2d import Train2DConfig, reverse_2d, train_2d
from ddpm_core.losses import regression_target, simple_loss
from ddpm_core.mlp import DenoiserMLP, MLPConfig
from ddpm_core.samplers import ddpm_step


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shapes_are_centred_unit_scale_and_reproducible(shape):
    points = sample_2d(shape, 4000, seed=3)
    assert points.shape == (4000, 2) and points.dtype == torch.float32
    assert points.mean(0).abs().max() < 1e-5 and points.std().item() == pytest.approx(1.0, abs=1e-4)
    assert torch.equal(points, sample_2d(shape, 4000, seed=3))
    assert not torch.equal(points, sample_2d(shape, 4000, seed=4))


def test_two_moons_leave_the_middle_empty():
    points = sample_2d("two_moons", 4000, seed=0)
    # The arcs pass 0.62 (raw units, ≈ 0.9 after scaling) from the centroid; with noise of std 0.06
    # (≈ 0.09 scaled) hardly a point comes within 0.3 of it.
    assert (points.norm(dim=1) < 0.3).float().mean() < 0.005


def test_points_from_an_image_follow_its_dark_pixels(tmp_path):
    image = Image.new("RGB", (100, 100), "white")
    ImageDraw.Draw(image).rectangle([10, 10, 29, 89], fill="black")  # a tall dark bar on the left
    path = tmp_path / "bar.png"
    image.save(path)
    points = sample_2d("image", 3000, seed=0, image=str(path))
    width, height = points.max(0).values - points.min(0).values
    assert height / width == pytest.approx(80 / 20, rel=0.1)


def test_points_from_a_word():
    points = sample_2d("text", 2000, seed=0, word="DDPM")
    width, height = points.max(0).values - points.min(0).values
    assert width > 2 * height  # a word is wide


@pytest.mark.parametrize("kwargs,message", [
    (dict(shape="text", n=100, word="   "), "Type a word"),
    (dict(shape="text", n=100, word="x" * 40), "up to 16 characters"),
    (dict(shape="two_moons", n=MAX_POINTS + 1), "from 2 to 20,000"),
    (dict(shape="two_moons", n=1), "from 2 to 20,000"),
    (dict(shape="spiral", n=100), "Unknown shape"),
    (dict(shape="image", n=100), "Upload an image"),
])
def test_bad_requests_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_2d(**kwargs)


def test_a_blank_image_has_no_dark_pixels(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("RGB", (50, 50), (250, 250, 250)).save(path)
    with pytest.raises(ValueError, match="no dark pixels"):
        sample_2d("image", 100, image=str(path))


def test_forward_chain_ends_in_standard_normal():
    """At t = T the Markov chain has mean ≈ 0 and covariance ≈ I whatever the shape."""
    n = 20_000
    diffusion = DiffusionConfig().build()
    x_T = diffusion.q_sample_chain(sample_2d("swiss_roll", n, seed=1).double(), diffusion.num_timesteps - 1,
                                   generator=torch.Generator().manual_seed(0))
    # Mean: SE 1/√n. Covariance entries: SE ≈ √(1/n) off the diagonal, √(2/n) on it. 5 SE each.
    assert x_T.mean(0).abs().max() < 5 / math.sqrt(n)
    cov = torch.cov(x_T.T)
    assert (cov.diagonal() - 1).abs().max() < 5 * math.sqrt(2 / n)
    assert cov[0, 1].abs() < 5 / math.sqrt(n)


def test_distances_are_zero_for_equal_clouds_and_grow_with_a_shift():
    a = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    assert sliced_wasserstein(a, a) == 0 and abs(energy_distance(a, a)) < 1e-12
    # Shifting a cloud by d moves every 1-D projection by ⟨d, θ⟩: the sliced W1 is E|⟨d, θ⟩| = 2|d|/π in 2-D.
    shift = torch.tensor([0.5, 0.0])
    assert sliced_wasserstein(a, a + shift, projections=4000) == pytest.approx(2 * 0.5 / math.pi, rel=0.03)
    assert energy_distance(a, a + shift) > energy_distance(a, a + shift / 4) > 0


def test_simple_loss_with_a_perfect_eps_model_is_zero():
    diffusion = DiffusionConfig(timesteps=50).build()
    x0 = torch.randn(64, 2, dtype=torch.float64)
    noise = torch.randn(64, 2, dtype=torch.float64)
    t = torch.randint(0, 50, (64,))
    oracle = lambda x_t, tt: diffusion.predict_eps_from_x0(x_t, tt, x0)  # noqa: E731
    assert simple_loss(oracle, diffusion, x0, t=t, noise=noise).item() < 1e-20
    for prediction in ("x0", "v"):
        target = regression_target(diffusion, prediction, x0, t, noise)
        assert simple_loss(lambda *_: target, diffusion, x0, prediction, t=t, noise=noise).item() < 1e-20


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_ddpm_step_has_the_posterior_mean_and_the_chosen_variance(variance):
    """With the true ε, x̂_0 = x_0, so x_{t−1} ~ N(μ̃_t(x_t, x_0), σ_t²): check both over many draws."""
    diffusion = DiffusionConfig().build()
    t, n = 300, 40_000
    x0 = torch.tensor([0.7, -0.4], dtype=torch.float64).expand(n, 2)
    eps = torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x_t = diffusion.q_sample(x0, t, eps)
    oracle = lambda x, tt: diffusion.predict_eps_from_x0(x, tt, x0)  # noqa: E731
    step = ddpm_step(oracle, diffusion, x_t, t, variance=variance, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(step.pred_x0, x0, atol=1e-9) and torch.allclose(step.pred_eps, eps, atol=1e-9)
    mean, _, _ = diffusion.q_posterior_mean_variance(x0, x_t, t)
    residual = step.prev_sample - mean
    sigma2 = (diffusion.betas if variance == "beta" else diffusion.posterior_variance)[t].item()
    assert residual.mean(0).abs().max() < 5 * math.sqrt(sigma2 / n)
    assert (residual.var(0) - sigma2).abs().max() < 5 * sigma2 * math.sqrt(2 / (n - 1))


def test_ddpm_step_matches_algorithm_2_for_eps_models():
    """μ̃_t(x_t, x̂_0(ε)) equals Algorithm 2's 1/√α_t (x_t − β_t/√(1−ᾱ_t) ε)."""
    diffusion = DiffusionConfig().build()
    x_t, eps = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    for t in (1, 500, 999):
        step = ddpm_step(lambda *_: eps, diffusion, x_t, t, variance="beta", generator=torch.Generator())
        mean, _, _ = diffusion.q_posterior_mean_variance(step.pred_x0, x_t, t)
        alpha, abar, beta = diffusion.alphas[t], diffusion.alphas_cumprod[t], diffusion.betas[t]
        algorithm_2 = (x_t - beta / (1 - abar).sqrt() * eps) / alpha.sqrt()
        assert torch.allclose(mean, algorithm_2, atol=1e-10)
    last = ddpm_step(lambda *_: eps, diffusion, x_t, 0, generator=torch.Generator())
    assert torch.allclose(last.prev_sample, last.pred_x0, atol=1e-9)  # t = 1: no noise, x_0 = x̂_0


def test_a_short_training_measurably_improves_the_fit():
    torch.manual_seed(0)
    diffusion = DiffusionConfig(timesteps=100, rescale=True).build()
    data = sample_2d("two_moons", 4000, seed=1)
    real = sample_2d("two_moons", 1000, seed=2)
    model = DenoiserMLP(MLPConfig(hidden=64, blocks=2))

    def fit(model):
        *_, (_, x) = reverse_2d(model, diffusion, 1000, seed=3, every=1000)
        return sliced_wasserstein(x, real)

    before = fit(model.eval())
    progress = list(train_2d(model, diffusion, data, Train2DConfig(steps=400, batch_size=256)))
    after = fit(progress[-1].model)
    assert progress[-1].step == 400
    assert sum(p.loss for p in progress[-50:]) / 50 < 0.8 * sum(p.loss for p in progress[:50]) / 50
    assert after < 0.5 * before


def test_reverse_yields_from_T_down_to_0():
    diffusion = DiffusionConfig(timesteps=20).build()
    model = DenoiserMLP(MLPConfig(hidden=16, blocks=1)).eval()
    steps = [t for t, _ in reverse_2d(model, diffusion, 10, every=5)]
    assert steps == [19, 14, 9, 4, -1]  # indices: the paper's t = 20, 15, 10, 5 and x_0


def test_train_config_is_checked():
    with pytest.raises(ValueError, match="steps must be from 1"):
        next(train_2d(DenoiserMLP(), DiffusionConfig().build(), torch.zeros(4, 2), Train2DConfig(steps=0)))


def test_respacing_keeps_alpha_bar_at_the_kept_steps():
    from ddpm_core.samplers import respace

    diffusion = DiffusionConfig().build()
    short, use = respace(diffusion, 50)
    assert short.num_timesteps == 50 and use[0] == 0 and use[-1] == 999
    torch.testing.assert_close(short.alphas_cumprod, diffusion.alphas_cumprod[use], rtol=1e-12, atol=0)
    same, every = respace(diffusion, 1000)
    torch.testing.assert_close(same.betas, diffusion.betas, rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="from 1 to T = 1000"):
        respace(diffusion, 0)


def test_respaced_sampling_with_an_oracle_recovers_the_data_point():
    """A model that knows the true ε of a fixed x_0 leads Algorithm 2 back to x_0, in 20 or 1000 steps."""
    from ddpm_core.samplers import sample

    diffusion = DiffusionConfig().build()
    target = torch.tensor([[0.3, -0.6]]).expand(64, 2)
    oracle = lambda x, t: diffusion.predict_eps_from_x0(x, t, target)  # noqa: E731
    for steps in (20, None):
        out = sample(oracle, diffusion, (64, 2), steps=steps, clip=False, seed=1)
        torch.testing.assert_close(out, target, atol=1e-4, rtol=0)
