"""The digits sample-quality metric (scripts/digits_metric.py): golden values and a short classifier run."""

from __future__ import annotations

import importlib.util
import json
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


# ---- class-balanced Fréchet distance and the class-balance test -----------------------------------

def test_balanced_subsets_hold_exactly_the_counts_asked_for():
    # The pool is the reference's own rows plus junk rows of a class that the counts leave out: every balanced
    # subset is then the reference itself (distance 0 to the last rounding), while plain random subsets pick junk.
    reference_rows = gaussian(60, 4, 20) @ gaussian(4, 4, 21)
    classes = torch.tensor([0] * 25 + [1] * 35)
    pool = torch.cat([reference_rows, gaussian(40, 4, 22) + 5.0])
    pool_classes = torch.cat([classes, torch.full((40,), 2)])
    reference = dm.feature_stats(reference_rows)
    counts = torch.tensor([25, 35, 0])
    assert dm.balanced_frechet(pool, pool_classes, reference, counts) == pytest.approx(0.0, abs=1e-8)
    assert dm.frechet_at_size(pool, reference, size=60) > 1.0


def test_balanced_frechet_is_nan_when_a_class_is_short():
    features, classes = gaussian(30, 3, 23), torch.tensor([0] * 20 + [1] * 10)
    reference = dm.feature_stats(gaussian(50, 3, 24))
    assert math.isnan(dm.balanced_frechet(features, classes, reference, torch.tensor([10, 11])))
    assert math.isfinite(dm.balanced_frechet(features, classes, reference, torch.tensor([10, 10])))


def test_balanced_frechet_ignores_the_class_mix_that_the_plain_figure_pays_for():
    # Two far-apart clusters, the reference 50/50. A pool drawn 80/20 from the same clusters: the plain subsets
    # carry the wrong mix (a mean shift of 0.3 × the 10-unit gap, ~9 in ‖Δμ‖² alone); the balanced ones do not
    # (their estimate is the small-sample bias, D²/N-sized, well under 1 here).
    centre = torch.tensor([10.0, 0.0], dtype=torch.float64)
    reference_rows = torch.cat([gaussian(200, 2, 25), gaussian(200, 2, 26) + centre])
    pool = torch.cat([gaussian(800, 2, 27), gaussian(200, 2, 28) + centre])
    pool_classes = torch.tensor([0] * 800 + [1] * 200)
    reference = dm.feature_stats(reference_rows)
    balanced = dm.balanced_frechet(pool, pool_classes, reference, torch.tensor([200, 200]))
    assert balanced < 0.5 < 5.0 < dm.frechet_at_size(pool, reference, size=400)


def test_class_balance_p_matches_the_chi_square_tails_in_closed_form():
    # Two degrees of freedom (3 classes): P(χ²_2 ≥ x) = exp(−x/2). One (2 classes): erfc(√(x/2)).
    predictions = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    chi2 = (50 - 100 / 3) ** 2 / (100 / 3) + (30 - 100 / 3) ** 2 / (100 / 3) + (20 - 100 / 3) ** 2 / (100 / 3)
    assert dm.class_balance_p(predictions, torch.ones(3)) == pytest.approx(math.exp(-chi2 / 2), rel=1e-10)
    two = torch.tensor([0] * 60 + [1] * 40)
    chi2 = (60 - 70) ** 2 / 70 + (40 - 30) ** 2 / 30  # shares 0.7 / 0.3, given as counts
    assert dm.class_balance_p(two, torch.tensor([7, 3])) == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-10)
    assert dm.class_balance_p(torch.arange(10).repeat(5), torch.ones(10)) == pytest.approx(1.0)


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


@pytest.fixture(scope="module")
def quick_metric(splits):
    """The metric on a classifier trained for one epoch: enough to read features, not to judge digits."""
    train, reference, check = splits
    return dm.DigitsMetric(dm.train_classifier(train, epochs=1), reference, check, shares=torch.ones(10))


def _keep_snapshot(run: Path, step: int, wall_s: float) -> None:
    from ddpm_core.checkpoints import save_checkpoint
    from ddpm_core.config import DiffusionConfig
    from ddpm_core.unet import UNet, UNetConfig

    config = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                        dropout=0.0, num_classes=10)
    torch.manual_seed(step)
    save_checkpoint(run / f"model_step{step}.safetensors", None, UNet(config), diffusion=DiffusionConfig(timesteps=20),
                    step=step, training={"conditional": True, "p_uncond": 0.5},
                    dataset={"root": "digits", "classes": [str(k) for k in range(10)], "class_counts": [1] * 10})
    with (run / "metrics.jsonl").open("a") as log:
        log.write(json.dumps({"step": step, "loss": 0.1, "lr": 1e-3, "wall_s": wall_s}) + "\n")


def test_the_curve_scores_every_kept_snapshot_at_each_w_against_wall_minutes(quick_metric, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    _keep_snapshot(run, 2, 30.0)
    _keep_snapshot(run, 10, 90.0)
    args = dm.parse_args(["--curve", str(run), "--per-class", "2", "--steps", "3", "--guidance-scales", "0,2"])
    points = dm.curve(quick_metric, args)
    assert [(p["step"], p["w"], p["wall_minutes"]) for p in points] == [(2, 0.0, 0.5), (2, 2.0, 0.5), (10, 0.0, 1.5),
                                                                         (10, 2.0, 1.5)]
    for p in points:
        assert p["n"] == 20 and len(p["per_class"]) == 10 and 0 <= p["accuracy"] <= 1
        assert math.isnan(p["balanced_frechet"])  # 20 images cannot hold check's ~18 of every digit
        assert p["frechet"] > 0 and 0 <= p["balance_p"] <= 1
    printed = capsys.readouterr().out
    assert "n/a" in printed and printed.count("\n") == 1 + len(points)


def test_real_digits_at_random_are_the_mean_of_their_draws(quick_metric, splits):
    train = splits[0]
    mean, (sd_plain, sd_balanced) = dm.real_at_random(quick_metric, train, draws=3, seed=5)
    generator = torch.Generator().manual_seed(5)
    # scored again here: float32 convolutions agree between calls to ~1e-7, hence rel=1e-5
    draws = [quick_metric.score(train.images[torch.randperm(len(train), generator=generator)[:500]]) for _ in range(3)]
    assert mean.n == 500
    assert mean.frechet == pytest.approx(sum(d.frechet for d in draws) / 3, rel=1e-5)
    # (this one-epoch classifier may read too few of some digit in a draw: then balanced is nan, and so its mean)
    assert mean.balanced_frechet == pytest.approx(sum(d.balanced_frechet for d in draws) / 3, rel=1e-5, nan_ok=True)
    assert mean.confidence == pytest.approx(sum(d.confidence for d in draws) / 3, rel=1e-5)
    plain = torch.tensor([d.frechet for d in draws], dtype=torch.float64)
    assert sd_plain == pytest.approx(float(plain.std()), rel=1e-3) and sd_plain > 0


def test_the_curve_of_a_run_without_snapshots_says_how_to_keep_them(quick_metric, tmp_path):
    with pytest.raises(SystemExit, match="--keep-every"):
        dm.curve(quick_metric, dm.parse_args(["--curve", str(tmp_path)]))


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
    metric = dm.DigitsMetric(model, reference, check, shares=torch.ones(10))
    real, noise = metric.score(check.images, check.labels), metric.score(dm.noise_images(len(check)))
    assert real.confidence > noise.confidence
    assert real.class_entropy > 3.0  # the held-out digits cover all ten classes
    assert real.frechet * 5 < noise.frechet
    # check balanced by its own labels is check itself in every subset, its rows shuffled (the matrix square
    # root of a near-singular covariance carries that reordering's rounding to ~1e-8 relative)
    assert real.balanced_frechet == pytest.approx(real.frechet, rel=1e-6)
    assert real.balance_p > 0.5  # ~18 of each digit, read right
