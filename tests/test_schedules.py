"""β schedules against their defining formulas, endpoints, monotonicity and input validation."""

import math

import pytest
import torch

from ddpm_core.diffusion import GaussianDiffusion
from ddpm_core.schedules import SCHEDULES, make_beta_schedule


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("T", [1, 2, 10, 1000, 4000])
def test_shape_dtype_range_and_monotone(name, T):
    betas = make_beta_schedule(name, T)
    assert betas.shape == (T,) and betas.dtype == torch.float64
    assert bool(((betas > 0) & (betas < 1)).all())
    assert bool((betas[1:] >= betas[:-1]).all()), "every schedule here is non-decreasing in t"


def test_linear_endpoints_are_the_papers():
    betas = make_beta_schedule("linear", 1000)
    assert betas[0].item() == pytest.approx(1e-4, rel=1e-15)
    assert betas[-1].item() == pytest.approx(0.02, rel=1e-15)
    steps = betas.diff()
    assert torch.allclose(steps, torch.full_like(steps, (0.02 - 1e-4) / 999), rtol=1e-9, atol=0)


def test_linear_rescale_multiplies_endpoints_by_1000_over_T():
    betas = make_beta_schedule("linear", 250, rescale=True)
    assert betas[0].item() == pytest.approx(4e-4, rel=1e-14)
    assert betas[-1].item() == pytest.approx(0.08, rel=1e-14)
    # The point of rescaling: the total noise Σβ stays (almost) what T = 1000 gives.
    reference = make_beta_schedule("linear", 1000).sum().item()
    assert betas.sum().item() == pytest.approx(reference, rel=0.01)


def test_rescaled_linear_refuses_short_chains_with_a_reason():
    with pytest.raises(ValueError, match=r"rescal.*1000/T"):
        make_beta_schedule("linear", 20, rescale=True)  # β_T would be 0.02·50 = 1


def test_user_endpoints():
    betas = make_beta_schedule("linear", 11, beta_start=0.001, beta_end=0.011)
    assert torch.allclose(betas, torch.arange(1, 12, dtype=torch.float64) / 1000, atol=1e-15)


def test_quadratic_is_linear_in_sqrt_beta():
    betas = make_beta_schedule("quadratic", 100, beta_start=1e-4, beta_end=0.04)
    roots = betas.sqrt()
    assert roots[0].item() == pytest.approx(0.01) and roots[-1].item() == pytest.approx(0.2)
    assert roots.diff().diff().abs().max().item() < 1e-15


def test_sigmoid_follows_the_geodiff_definition():
    T, start, end = 50, 1e-4, 0.02
    betas = make_beta_schedule("sigmoid", T, beta_start=start, beta_end=end)
    for i in (0, 17, 49):
        u = -6 + 12 * i / (T - 1)
        assert betas[i].item() == pytest.approx(start + (end - start) / (1 + math.exp(-u)), rel=1e-12)


def test_cosine_alpha_bar_matches_nichol_dhariwal():
    T, s = 1000, 0.008
    diffusion = GaussianDiffusion(make_beta_schedule("cosine", T))
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 100, 500, 900):  # paper steps, well before the 0.999 clip bites
        assert diffusion.alphas_cumprod[t - 1].item() == pytest.approx(f(t) / f(0), rel=1e-9)
    assert make_beta_schedule("cosine", T).max().item() == pytest.approx(0.999)


@pytest.mark.parametrize("name,bound", [("linear", 1e-4), ("cosine", 1e-8), ("sigmoid", 1e-4),
                                        ("quadratic", 1e-3)])
def test_default_schedules_end_near_pure_noise(name, bound):
    diffusion = GaussianDiffusion(make_beta_schedule(name, 1000))
    assert diffusion.alphas_cumprod[-1].item() < bound
    assert diffusion.alphas_cumprod[0].item() > 0.999


@pytest.mark.parametrize("call,message", [
    (lambda: make_beta_schedule("exponential", 10), r"choose one of \['cosine', 'linear'"),
    (lambda: make_beta_schedule("linear", 0), r"from 1 to 4000"),
    (lambda: make_beta_schedule("linear", 4001), r"from 1 to 4000"),
    (lambda: make_beta_schedule("linear", 10.5), r"integer"),
    (lambda: make_beta_schedule("linear", 10, beta_end=1.5), r"\(0, 1\)"),
    (lambda: make_beta_schedule("linear", 10, beta_start=0.0), r"\(0, 1\)"),
    (lambda: make_beta_schedule("quadratic", 10, beta_start=-0.1), r"\(0, 1\)"),
    (lambda: make_beta_schedule("linear", 10, beta_end=float("nan")), r"finite number"),
    (lambda: make_beta_schedule("linear", 10, s=0.008), r"takes \['beta_end', 'beta_start', 'rescale'\]"),
    (lambda: make_beta_schedule("cosine", 10, s=-1.0), r"\[0, 1\]"),
    (lambda: make_beta_schedule("cosine", 10, max_beta=1.0), r"\(0, 1\)"),
    (lambda: make_beta_schedule("linear", 10, rescale="yes"), r"True or False"),
])
def test_bad_input_names_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()
