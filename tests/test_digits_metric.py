"""The digits sample-quality metric (scripts/digits_metric.py): golden values and a short classifier run."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "assets" / "digits"


def _load_script():
    spec = importlib.util.spec_from_file_location("digits_metric", ROOT / "scripts" / "digits_metric.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


dm = _load_script()


def gaussian(n: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---- Fréchet distance ---------------------------------------------------------------------------

def test_frechet_distance_of_a_set_with_itself_is_zero():
    x = gaussian(500, 16, 0) @ gaussian(16, 16, 1)  # a correlated, full-rank covariance
    assert dm.frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_shifted_set_is_the_squared_shift():
    x = gaussian(400, 8, 2) @ gaussian(8, 8, 3)
    shift = torch.linspace(-1, 2, 8, dtype=torch.float64)
    assert dm.frechet_distance_of(x, x + shift) == pytest.approx(float(shift.square().sum()), rel=1e-8)


def test_frechet_distance_of_independent_shifted_gaussians_is_near_the_closed_form():
    # Same law up to a shift: the expected estimate is ‖Δμ‖² plus a bias of order D²/N (here ~0.1–0.2).
    n, dim = 20_000, 4
    shift = torch.tensor([3.0, 0.0, -1.0, 2.0], dtype=torch.float64)
    a, b = gaussian(n, dim, 4), gaussian(n, dim, 5) + shift
    assert dm.frechet_distance_of(a, b) == pytest.approx(float(shift.square().sum()), abs=0.05)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    # Commuting covariances: FD = ‖Δμ‖² + Σ_i (σ1_i − σ2_i)².
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    std1, std2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 2.0, 1.5])
    expected = float((mu1 - mu2).square().sum() + (std1 - std2).square().sum())  # 5 + 4 + 0 + 1
    got = dm.frechet_distance(mu1, torch.diag(std1 ** 2), mu2, torch.diag(std2 ** 2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_is_symmetric_for_non_commuting_covariances():
    a = gaussian(300, 6, 6) @ gaussian(6, 6, 7)
    b = gaussian(300, 6, 8) @ gaussian(6, 6, 9) + 0.5
    assert dm.frechet_distance_of(a, b) == pytest.approx(dm.frechet_distance_of(b, a), rel=1e-8)


def test_frechet_distance_handles_singular_covariances():
    # Dead classifier units give zero-variance features; the PSD square root must not produce NaN.
    x = torch.cat([gaussian(200, 3, 10), torch.zeros(200, 2, dtype=torch.float64)], dim=1)
    assert dm.frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)
    assert math.isfinite(dm.frechet_distance_of(x, gaussian(200, 5, 11)))


def test_sqrtm_psd_squares_back():
    m = gaussian(10, 10, 12)
    sigma = m @ m.T
    root = dm.sqrtm_psd(sigma)
    assert torch.allclose(root @ root, sigma, atol=1e-9)


# ---- confidence and class entropy ---------------------------------------------------------------

def test_class_entropy_of_a_uniform_histogram_is_log2_10():
    predictions = torch.arange(10).repeat(7)
    assert dm.class_entropy_bits(predictions) == pytest.approx(math.log2(10), abs=1e-12)


def test_class_entropy_of_a_single_class_is_zero():
    assert dm.class_entropy_bits(torch.full((50,), 3)) == 0.0


def test_class_entropy_of_two_equal_classes_is_one_bit():
    assert dm.class_entropy_bits(torch.tensor([1, 7] * 20)) == pytest.approx(1.0, abs=1e-12)


def test_confidence_and_sure_share_lie_in_their_ranges():
    logits = gaussian(200, 10, 13) * 4
    probs = logits.softmax(dim=1)
    confidence = dm.mean_confidence(probs)
    assert 0.1 <= confidence <= 1.0
    assert 0.0 <= dm.sure_share(probs) <= 1.0
    assert dm.mean_confidence(torch.eye(10)) == 1.0
    assert dm.mean_confidence(torch.full((5, 10), 0.1)) == pytest.approx(0.1)
    assert dm.sure_share(torch.eye(10)) == 1.0


def test_class_accuracy_is_the_share_assigned_to_the_class_asked_for():
    requested = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 0, 0, 3, 1, 0, 2, 2])  # class 0: 3 of 4, class 1: 1 of 2, class 2: 2 of 2
    per_class, overall = dm.class_accuracy(torch.eye(10)[predicted], requested)
    assert per_class[:3].tolist() == [0.75, 0.5, 1.0] and overall == 6 / 8
    assert per_class[3:].isnan().all()  # classes nobody asked for have no accuracy


def test_frechet_at_size_uses_all_of_a_small_set():
    features = gaussian(50, 4, 14)
    reference = dm.feature_stats(gaussian(100, 4, 15))
    assert dm.frechet_at_size(features, reference, size=50) == pytest.approx(
        dm.frechet_distance(*dm.feature_stats(features), *reference))


# ---- baselines and augmentation -----------------------------------------------------------------

def test_baselines_stay_in_pixel_range():
    noise = dm.noise_images(8, seed=0)
    assert noise.shape == (8, 1, 16, 16) and noise.min() >= -1 and noise.max() <= 1
    assert torch.equal(noise, dm.noise_images(8, seed=0))
    blurred = dm.blurred_images(torch.full((2, 1, 16, 16), -1.0))
    assert torch.allclose(blurred, torch.full_like(blurred, -1.0))


def test_augment_keeps_the_background_black():
    x = torch.full((4, 1, 16, 16), -1.0)
    assert torch.allclose(dm.augment(x, torch.Generator().manual_seed(0)), x)


# ---- the bundled digits and the classifier ------------------------------------------------------

@pytest.fixture(scope="module")
def splits():
    return dm.split_digits(dm.load_digits(DIGITS))


def test_bundled_digits_load_as_1797_labelled_images(splits):
    train, reference, check = splits
    assert len(train) + len(reference) + len(check) == 1797
    assert len(train) == pytest.approx(0.8 * 1797, abs=10)
    assert abs(len(reference) - len(check)) <= 10
    for part in splits:
        assert part.images.shape[1:] == (1, 16, 16)
        assert part.images.min() >= -1 and part.images.max() <= 1
        assert set(part.labels.tolist()) == set(range(10))


def test_a_short_training_recognises_held_out_digits(splits):
    train, reference, check = splits
    model = dm.train_classifier(train, epochs=5)
    assert dm.accuracy(model, reference) >= 0.90
    metric = dm.DigitsMetric(model, reference, size=len(check))
    real, noise = metric.score(check.images), metric.score(dm.noise_images(len(check)))
    assert real.confidence > noise.confidence
    assert real.class_entropy > 3.0  # the held-out digits cover all ten classes
    assert real.frechet * 5 < noise.frechet
