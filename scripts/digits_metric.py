"""How recognisable a digits model's samples are, measured by a small classifier trained on the digits.

The yardstick is a small CNN (ddpm_core.digits_classifier) trained here on 80 % of assets/digits at
16×16 grey, read by the same loader as training (`load_image_folder`, so pixels are x = p/127.5 − 1
exactly as the model saw them), with light random affine augmentation. It is retrained on every run: it
takes seconds, is seeded, and so can never go stale. `--save-classifier PATH` also writes it (weights and
a JSON record of its classes, held-out accuracy, seed and command): checkpoints/digits_classifier.safetensors,
which the app's Sample tab reads guided samples with, is the default run saved. The other 20 % is held out
and split in two halves: `reference` (the real distribution that samples are compared with) and `check`
(real digits scored exactly like samples, the floor a perfect model would reach). Held out from the
classifier only: the diffusion model trains on all 1,797 digits, so a model that memorised them would also
score like `check`.

On a set of images X (N, 1, 16, 16) in [−1, 1] it reports
- confidence: the mean over X of the classifier's largest softmax probability (1 = sure of every image);
- sure: the share of X whose largest probability is at least 0.9;
- class entropy: H of the histogram of predicted classes, in bits (log2 10 ≈ 3.32 when all ten digits
  are equally frequent; 0 when every image looks like the same digit: mode collapse);
- Fréchet distance: FID's formula on the classifier's penultimate features (64 numbers) of X against
  those of `reference`: ‖μ_X − μ_R‖² + Tr(Σ_X + Σ_R − 2 (Σ_X Σ_R)^½) (Heusel et al. 2017, Eq. 6).
  The estimate is biased upwards for small sets, so every row is computed at the size of `check`:
  larger sets are scored as the mean over random subsets of that size.
- balanced Fréchet: the same, over random subsets that hold as many images of each digit (as the
  classifier reads them; the real rows by their labels) as `check` does; n/a when X has too few of a digit.
- balance p: how well the histogram of predicted digits fits the digits' own class shares (Pearson's
  χ² test, 9 degrees of freedom); a small p (say below 0.01) means the model draws some digits too
  often, a large one that the histogram is as even as random draws from the data would make it.

Why the two Fréchet columns. The features cluster by digit, so at this size (~180 images) the plain
figure is dominated by how many of each digit a set happens to hold. `check` holds exactly its share of
every digit (the split is made per class) and scores ~30, but any set drawn at random, as an unconditional
model draws, holds a binomial number of each (±4 around 18) and cannot: 500 real training digits drawn at
random and scored exactly as samples are score 52.9 on the plain figure (sd 6.6 over 10 draws) and 33.3
balanced (sd 3.9); the row `real (train)` below. The balanced column compares like with like, how well each
digit is drawn, and `balance p` reports the class mix apart.

Samples are drawn with Algorithm 2 over every step of the chain unless --steps respaces it to fewer: faster, but
the bundled digits models' samples then score worse (digits.safetensors: balanced Fréchet 37.0 at 250 steps,
32.5 at all 1,000).

Rows: the model's samples (with --checkpoint), the real `check` digits (floor), 500 real training digits drawn
at random and scored exactly like samples, the mean of 10 such draws (what a perfect unconditional model would get,
up to the classifier having trained on them; the sd over the draws, printed below the table, is the spread of any
figure of 500 samples), the `check` digits blurred (a sanity ceiling: right layout, no strokes) and Gaussian
noise clipped to [−1, 1] (ceiling).
Read the columns together: like most classifiers this one is fairly sure of some noise images, and
only the Fréchet distance separates blur and noise from digits by orders of magnitude.

A class-conditional checkpoint (trained with --conditional on the digit folders) is asked for --per-class
samples of every digit at each guidance scale w of --guidance-scales (guidance.py's convention: 0 is the
unconditional model, its null class; 1 the plain conditional one), and scored as above plus
- accuracy: per class and overall, the share of the samples the classifier assigns to the digit asked for
  (at w = 0 the label is ignored, so about 10 %: chance).
The w = 0 row is the null class's unconditional samples, the figures to compare with an unconditional model.
--curve RUN_DIR scores every `model_step*.safetensors` a run kept (`--keep-every` in ddpm_core.train) at w = 0
and the app's default w (or the --guidance-scales given), against the wall minutes `metrics.jsonl` recorded at
that step.

Usage (from the repository root):
    python scripts/digits_metric.py                                   # reference rows only
    python scripts/digits_metric.py --checkpoint checkpoints/digits.safetensors \\
        [--n 500] [--steps 1000] [--seed 0] [--grid samples.png] [--device cpu]
    python scripts/digits_metric.py --checkpoint checkpoints/digits_classes.safetensors \\
        [--per-class 50] [--guidance-scales 0,1,2,4] [--grid rows.png] [--json figures.json]
    python scripts/digits_metric.py --curve runs/digits_classes [--per-class 50] [--steps 1000] [--guidance-scales 0]
    python scripts/digits_metric.py --save-classifier checkpoints/digits_classifier.safetensors
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python scripts/digits_metric.py`: the core lives one level up

from ddpm_core.data import load_image_folder  # noqa: E402
from ddpm_core.digits_classifier import IMAGE_SIZE, NUM_CLASSES, DigitClassifier, classify  # noqa: E402
from ddpm_core.digits_classifier import class_accuracy, mean_confidence, save_classifier  # noqa: E402
from ddpm_core.guidance import DEFAULT_GUIDANCE, class_names, guided  # noqa: E402
from ddpm_core.images import from_uint8, to_uint8  # noqa: E402

DIGITS = ROOT / "assets" / "digits"
TRAIN_SHARE = 0.8
CLASSIFIER_SEED = 0  # fixed, so the yardstick is the same whatever --seed samples with
SURE = 0.9  # a "clearly recognisable" image: the classifier gives its digit at least this probability
FD_SUBSETS = 20
GUIDANCE_SCALES = (0.0, 1.0, 2.0, 4.0)
REAL_AT_RANDOM, REAL_DRAWS = 500, 10  # real digits drawn the way a model draws samples, scored like them


# ------------------------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Digits:
    """Images (N, 1, 16, 16) float32 in [−1, 1] and their labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> "Digits":
        return Digits(self.images[index], self.labels[index])


def load_digits(root: Path = DIGITS, image_size: int = IMAGE_SIZE) -> Digits:
    """Every digit under `root`/<label>/ through the training loader (no flips: digits are not symmetric)."""
    data = load_image_folder(root, image_size, channels=1, flip=False)
    labels = torch.tensor([int(name.split("/")[0]) for name in data.dataset.files])
    return Digits(from_uint8(data.dataset.pixels), labels)


def split_digits(digits: Digits, seed: int = CLASSIFIER_SEED) -> tuple[Digits, Digits, Digits]:
    """(train, reference, check): per class, 80 % to train and the rest alternately to the two halves."""
    generator = torch.Generator().manual_seed(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in range(NUM_CLASSES):
        index = torch.nonzero(digits.labels == label).flatten()
        index = index[torch.randperm(len(index), generator=generator)]
        cut = round(TRAIN_SHARE * len(index))
        parts[0].append(index[:cut])
        parts[1].append(index[cut::2])
        parts[2].append(index[cut + 1::2])
    return tuple(digits.subset(torch.cat(p).sort().values) for p in parts)


# ------------------------------------------------------------------------------------- classifier

def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random small affine warps: rotation ±10°, scale ×0.9–1.1, shift ±1 pixel; background stays −1."""
    n = x.shape[0]
    uniform = lambda low, high: low + (high - low) * torch.rand(n, generator=generator)  # noqa: E731
    angle, scale = uniform(-math.pi / 18, math.pi / 18), uniform(0.9, 1.1)
    shift = uniform(-1, 1), uniform(-1, 1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    pixel = 2 / x.shape[-1]  # one pixel in affine_grid's [−1, 1] coordinates
    theta = torch.stack([torch.stack([cos, -sin, shift[0] * pixel], 1),
                         torch.stack([sin, cos, shift[1] * pixel], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample pads with 0, so warp x + 1 (background 0) and shift back.
    return F.grid_sample(x + 1, grid, align_corners=False) - 1


def train_classifier(train: Digits, epochs: int = 20, batch_size: int = 64, lr: float = 3e-3,
                     seed: int = CLASSIFIER_SEED) -> DigitClassifier:
    """Train a DigitClassifier with Adam and a cosine learning rate; returns it in eval mode.

    One thread: the batches are tiny, and with more threads a busy CPU slows them ten-fold.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(train, epochs, batch_size, lr, seed)
    finally:
        torch.set_num_threads(threads)


def _train(train: Digits, epochs: int, batch_size: int, lr: float, seed: int) -> DigitClassifier:
    torch.manual_seed(seed)
    model = DigitClassifier()
    generator = torch.Generator().manual_seed(seed)
    steps = epochs * math.ceil(len(train) / batch_size)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(train), generator=generator).split(batch_size):
            loss = F.cross_entropy(model(augment(train.images[batch], generator)), train.labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def features_and_probabilities(model: DigitClassifier, x: torch.Tensor, batch_size: int = 512
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (N, 64) float64, class probabilities (N, 10)) of images x (N, 1, 16, 16) in [−1, 1]."""
    features = torch.cat([model.features(chunk) for chunk in x.float().cpu().split(batch_size)])
    return features.double(), model.head(features).softmax(dim=1)


def accuracy(model: DigitClassifier, digits: Digits) -> float:
    predictions, _ = classify(model, digits.images)
    return float((predictions == digits.labels).float().mean())


# ----------------------------------------------------------------------------------------- metrics

def sure_share(probs: torch.Tensor, threshold: float = SURE) -> float:
    """Share of images whose largest class probability is at least `threshold`."""
    return float((probs.max(dim=1).values >= threshold).float().mean())


def class_entropy_bits(predictions: torch.Tensor, num_classes: int = NUM_CLASSES) -> float:
    """Entropy H = −Σ_k p_k log2 p_k of the histogram of predicted classes (0 ≤ H ≤ log2 K)."""
    p = torch.bincount(predictions.flatten(), minlength=num_classes).double()
    p = p[p > 0] / p.sum()  # 0 · log 0 = 0
    return float(-(p * p.log2()).sum()) + 0.0  # + 0.0 turns −0.0 into 0.0


def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D), in float64, of features (N, D)."""
    features = features.double()
    return features.mean(dim=0), torch.cov(features.T).reshape(features.shape[1], features.shape[1])


def sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix, by eigendecomposition.

    The matrix is symmetrised first and eigenvalues below zero (rounding) are clamped to zero.
    """
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2): ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½).

    Σ1Σ2 is not symmetric, but it is similar to M = Σ1^½ Σ2 Σ1^½, which is symmetric PSD, so
    Tr (Σ1 Σ2)^½ = Σ_i √λ_i(M): two symmetric eigendecompositions (torch.linalg.eigh) in float64
    instead of scipy's general sqrtm, and no complex parts to discard.
    """
    mu1, sigma1, mu2, sigma2 = (t.double() for t in (mu1, sigma1, mu2, sigma2))
    root1 = sqrtm_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_root
    return float(value.clamp(min=0))


def frechet_distance_of(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D) and (M, D)."""
    return frechet_distance(*feature_stats(a), *feature_stats(b))


def frechet_at_size(features: torch.Tensor, reference: tuple[torch.Tensor, torch.Tensor], size: int,
                    subsets: int = FD_SUBSETS, seed: int = 0) -> float:
    """Mean Fréchet distance of random `size`-subsets of `features` to reference (μ, Σ).

    Its small-sample bias grows as the set shrinks, so sets are compared at one size.
    """
    if len(features) <= size:
        return frechet_distance(*feature_stats(features), *reference)
    generator = torch.Generator().manual_seed(seed)
    picks = [torch.randperm(len(features), generator=generator)[:size] for _ in range(subsets)]
    return sum(frechet_distance(*feature_stats(features[p]), *reference) for p in picks) / subsets


def balanced_frechet(features: torch.Tensor, classes: torch.Tensor, reference: tuple[torch.Tensor, torch.Tensor],
                     counts: torch.Tensor, subsets: int = FD_SUBSETS, seed: int = 0) -> float:
    """Mean Fréchet distance to reference (μ, Σ) of random subsets of `features` (N, D) that hold `counts[k]` rows of
    each class k (`classes` (N,)); nan if some class has fewer rows than that."""
    members = [torch.nonzero(classes == k).flatten() for k in range(len(counts))]
    if any(len(m) < int(c) for m, c in zip(members, counts)):
        return math.nan
    generator = torch.Generator().manual_seed(seed)
    picks = [torch.cat([m[torch.randperm(len(m), generator=generator)[:int(c)]] for m, c in zip(members, counts)])
             for _ in range(subsets)]
    return sum(frechet_distance(*feature_stats(features[p]), *reference) for p in picks) / subsets


def class_balance_p(predictions: torch.Tensor, shares: torch.Tensor) -> float:
    """p-value of Pearson's χ² test that `predictions` (N,) were drawn with the class `shares` (K,):
    χ² = Σ_k (n_k − N s_k)² / (N s_k), and p = P(χ²_{K−1} ≥ χ²) = Q((K − 1)/2, χ²/2), the regularised upper
    incomplete gamma function."""
    shares = shares.double() / shares.sum()
    expected = len(predictions) * shares
    observed = torch.bincount(predictions.flatten(), minlength=len(shares)).double()
    chi2 = ((observed - expected).square() / expected).sum()
    return float(torch.special.gammaincc(torch.tensor((len(shares) - 1) / 2, dtype=torch.float64), chi2 / 2))


@dataclass(frozen=True)
class Scores:
    """The metric of one image set; see the module docstring."""

    n: int
    confidence: float
    sure: float
    class_entropy: float
    frechet: float
    balanced_frechet: float  # nan when the set holds too few of some digit
    balance_p: float


class DigitsMetric:
    """The trained classifier, the reference statistics and the class counts of `check`: score(images) → Scores.

    `shares` are the digits' class shares in the data (the expected histogram of an unconditional model)."""

    def __init__(self, model: DigitClassifier, reference: Digits, check: Digits, shares: torch.Tensor):
        self.model, self.size, self.shares = model, len(check), shares
        self.counts = torch.bincount(check.labels, minlength=NUM_CLASSES)
        self.reference = feature_stats(features_and_probabilities(model, reference.images)[0])

    def score(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> Scores:
        """The figures of `images`; balanced by their `labels` if given (real digits), else by predicted class."""
        features, probs = features_and_probabilities(self.model, images)
        predictions = probs.argmax(dim=1)
        return Scores(len(images), mean_confidence(probs), sure_share(probs), class_entropy_bits(predictions),
                      frechet_at_size(features, self.reference, self.size),
                      balanced_frechet(features, predictions if labels is None else labels, self.reference,
                                       self.counts),
                      class_balance_p(predictions, self.shares))


# --------------------------------------------------------------------------------------- baselines

def noise_images(n: int, seed: int = 0) -> torch.Tensor:
    """Pure noise: N(0, 1) per pixel clipped to [−1, 1], shape (n, 1, 16, 16)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator).clamp(-1, 1)


def blurred_images(images: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """Real digits under a Gaussian blur (σ = 2 pixels at 16×16): the right blob in the right place."""
    from torchvision.transforms.v2 import functional as TF

    return TF.gaussian_blur(images, kernel_size=[9, 9], sigma=[sigma, sigma])


def real_at_random(metric: "DigitsMetric", train: Digits, draws: int, seed: int) -> tuple[Scores, tuple[float, float]]:
    """The mean Scores of `draws` sets of REAL_AT_RANDOM digits drawn at random from `train` and scored as samples
    are (classes as predicted), and the sd over the draws of the plain and balanced Fréchet distances."""
    generator = torch.Generator().manual_seed(seed)
    scores = [metric.score(train.images[torch.randperm(len(train), generator=generator)[:REAL_AT_RANDOM]])
              for _ in range(draws)]
    mean = Scores(*(statistics.fmean(getattr(s, f.name) for s in scores) for f in fields(Scores)))
    spread = tuple(float(torch.tensor([getattr(s, name) for s in scores]).std())  # nan if a draw's is nan
                   for name in ("frechet", "balanced_frechet"))
    return replace(mean, n=REAL_AT_RANDOM), spread


# --------------------------------------------------------------------------------------- sampling

def load_digits_checkpoint(path, device: str):
    """A checkpoint that makes 16×16 grey images, or SystemExit saying why not; a conditional one's classes must be
    the ten digits, named 0…9 as assets/digits names its folders."""
    from ddpm_core.checkpoints import load_checkpoint

    checkpoint = load_checkpoint(path, device=device)
    model_config = checkpoint.config.get("model", {})
    shape = (model_config.get("image_size"), model_config.get("channels"))
    if shape != (IMAGE_SIZE, 1):
        raise SystemExit(f"{path} makes {shape[0]}×{shape[0]} images with {shape[1]} channel(s); "
                         f"the digits metric needs {IMAGE_SIZE}×{IMAGE_SIZE} grey (1 channel).")
    classes = class_names(checkpoint.config)
    if classes is not None and classes != tuple(str(k) for k in range(NUM_CLASSES)):
        raise SystemExit(f"{path} has the classes {classes}; the digits metric needs 0…9.")
    return checkpoint


def sample_checkpoint(path: str, n: int, steps: int | None, seed: int, device: str) -> torch.Tensor:
    """n samples (n, 1, 16, 16) in [−1, 1] from a digits checkpoint's EMA network (a conditional one's null class)."""
    return sample_digits(load_digits_checkpoint(path, device), n, steps, seed, device)


def sample_digits(checkpoint, n: int, steps: int | None, seed: int, device: str, labels: torch.Tensor | None = None,
                  w: float = 1.0) -> torch.Tensor:
    """n samples (n, 1, 16, 16) in [−1, 1] (Algorithm 2 respaced to `steps`); with `labels` (n,) of a conditional
    checkpoint, guided with w (guidance.py)."""
    from ddpm_core.samplers import sample

    model = checkpoint.model
    if labels is not None:
        model = guided(model, labels.to(device), w, model.config.null_class)
    x = sample(model, checkpoint.diffusion, (n, 1, IMAGE_SIZE, IMAGE_SIZE), steps=steps,
               prediction=checkpoint.prediction, clip=True, seed=seed, device=device)
    return x.cpu()


@dataclass(frozen=True)
class GuidedScores:
    """A conditional model's samples at one guidance scale w: per-class and overall accuracy, and `Scores`."""

    w: float
    per_class: torch.Tensor  # (10,)
    accuracy: float
    scores: Scores
    seconds: float


def score_guidance(metric: "DigitsMetric", checkpoint, scales, per_class: int, steps: int | None, seed: int,
                   device: str) -> tuple[list[GuidedScores], dict[float, torch.Tensor]]:
    """`per_class` samples of every digit at each w of `scales` (the same seed, so the same x_T, at each), scored;
    and the samples by w."""
    labels = torch.arange(NUM_CLASSES).repeat_interleave(per_class)
    rows, samples = [], {}
    for w in scales:
        start = time.perf_counter()
        x = sample_digits(checkpoint, len(labels), steps, seed, device, labels, w)
        seconds = time.perf_counter() - start
        _, probs = classify(metric.model, x)
        rows.append(GuidedScores(w, *class_accuracy(probs, labels), metric.score(x), seconds))
        samples[w] = x
    return rows, samples


def save_grid(images: torch.Tensor, path: str, columns: int = 20, zoom: int = 4) -> None:
    """A grid of images (N, 1, S, S) in [−1, 1], 1-pixel grey gutters, enlarged `zoom`× (nearest)."""
    from PIL import Image
    from torchvision.utils import make_grid

    grid = make_grid(images, nrow=columns, padding=1, pad_value=0.0)[:1]  # (1, H, W)
    picture = Image.fromarray(to_uint8(grid))
    picture.resize((picture.width * zoom, picture.height * zoom), Image.NEAREST).save(path)


# ---------------------------------------------------------------------------------------------- CLI

def format_guidance_table(rows: list[GuidedScores]) -> str:
    head = "".join(f"{k:>6}" for k in range(NUM_CLASSES))
    lines = [f"{'w':>5}{'accuracy':>10}{'lowest':>8}{head}{'confidence':>12}{'Fréchet':>10}{'balanced':>10}"
             f"{'seconds':>9}"]
    for r in rows:
        cells = "".join(f"{float(a):>6.0%}" for a in r.per_class)
        lines.append(f"{r.w:>5g}{r.accuracy:>10.1%}{float(r.per_class.min()):>8.0%}{cells}{r.scores.confidence:>12.3f}"
                     f"{r.scores.frechet:>10.2f}{_figure(r.scores.balanced_frechet):>10}{r.seconds:>9.0f}")
    return "\n".join(lines)


def _figure(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def format_table(rows: list[tuple[str, Scores]]) -> str:
    lines = [f"{'set':<28}{'n':>6}{'confidence':>12}{'sure ≥0.9':>11}{'class H (bits)':>16}{'balance p':>11}"
             f"{'Fréchet':>10}{'balanced':>10}"]
    for name, s in rows:
        lines.append(f"{name:<28}{s.n:>6}{s.confidence:>12.3f}{s.sure:>11.1%}{s.class_entropy:>16.3f}"
                     f"{s.balance_p:>11.3g}{s.frechet:>10.2f}{_figure(s.balanced_frechet):>10}")
    if any(math.isnan(s.balanced_frechet) for _, s in rows):
        lines.append("n/a: the set holds fewer images of some digit than check does, so no balanced subset exists")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="a 16×16 grey digits checkpoint (.safetensors) to sample from")
    parser.add_argument("--n", type=int, default=500, help="samples to draw (default 500)")
    parser.add_argument("--per-class", type=int, default=50,
                        help="a conditional checkpoint: samples of each digit at each guidance scale (default 50)")
    parser.add_argument("--guidance-scales",
                        help="a conditional checkpoint: the w to score, comma-separated (default 0,1,2,4; "
                             f"with --curve 0,{DEFAULT_GUIDANCE:g}: the null class and the app's default w)")
    parser.add_argument("--curve", metavar="RUN_DIR",
                        help="score the model_step*.safetensors a run kept, against its wall minutes")
    parser.add_argument("--json", help="also write the figures as JSON")
    parser.add_argument("--steps", type=int,
                        help="respaced sampling steps (default: all T, Algorithm 2 exactly; fewer are faster, "
                             "and the bundled models' samples score worse with them)")
    parser.add_argument("--seed", type=int, default=0, help="seed for sampling and the noise row")
    parser.add_argument("--grid", help="also save the first 200 samples as a PNG grid here")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--save-classifier", metavar="PATH",
                        help="also write the trained classifier here (.safetensors, with its held-out accuracy)")
    return parser.parse_args(argv)


def _guidance_rows(metric: DigitsMetric, args) -> tuple[list[tuple[str, Scores]], dict]:
    """A conditional checkpoint's guidance table (printed), its w = 0 row as the null class's samples, and JSON."""
    checkpoint = load_digits_checkpoint(args.checkpoint, args.device)
    scales = _scales(args, GUIDANCE_SCALES)
    rows, samples = score_guidance(metric, checkpoint, scales, args.per_class, args.steps, args.seed, args.device)
    print(f"{args.per_class} samples of each digit, {_steps_text(args.steps)}, at each w:")
    print(format_guidance_table(rows))
    if args.grid:
        shown = DEFAULT_GUIDANCE if DEFAULT_GUIDANCE in samples else scales[-1]
        columns = min(args.per_class, 20)
        rows_of_digits = samples[shown].view(NUM_CLASSES, args.per_class, 1, IMAGE_SIZE, IMAGE_SIZE)[:, :columns]
        save_grid(rows_of_digits.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE), args.grid, columns=columns)
        print(f"wrote {args.grid}: one row per digit, w = {shown:g}")
    table = [(f"samples, w = {r.w:g}" + (" (null class)" if r.w == 0 else ""), r.scores) for r in rows]
    record = {"guidance": [{"w": r.w, "accuracy": r.accuracy, "per_class": r.per_class.tolist(),
                            "confidence": r.scores.confidence, "frechet": r.scores.frechet,
                            "balanced_frechet": r.scores.balanced_frechet, "balance_p": r.scores.balance_p,
                            "seconds": r.seconds}
                           for r in rows]}
    return table, record


def _steps_text(steps: int | None) -> str:
    return "every step of the chain" if steps is None else f"{steps} respaced steps"


def _scales(args, default: tuple[float, ...]) -> list[float]:
    return [float(w) for w in args.guidance_scales.split(",")] if args.guidance_scales else list(default)


def _snapshots(run: Path) -> list[tuple[int, Path]]:
    """(step, file) of the run's kept checkpoints, by step."""
    found = [(int(m.group(1)), p) for p in run.glob("model_step*.safetensors")
             if (m := re.fullmatch(r"model_step(\d+)\.safetensors", p.name))]
    return sorted(found)


def curve(metric: DigitsMetric, args) -> list[dict]:
    """The figures of every kept checkpoint of a run at each w (by default 0, the null class, and the app's
    DEFAULT_GUIDANCE), against the wall minutes its metrics.jsonl recorded at that step: one point per step and w."""
    from ddpm_core.metrics import read_metrics

    run = Path(args.curve)
    snapshots = _snapshots(run)
    if not snapshots:
        raise SystemExit(f"{run} holds no model_step*.safetensors (train with --keep-every to keep them)")
    wall = {row["step"]: row.get("wall_s") for row in read_metrics(run)}
    scales = _scales(args, (0.0, DEFAULT_GUIDANCE))
    points = []
    print(f"{'step':>6}{'minutes':>9}{'w':>5}{'accuracy':>10}{'lowest':>8}{'confidence':>12}{'balance p':>11}"
          f"{'Fréchet':>10}{'balanced':>10}")
    for step, path in snapshots:
        checkpoint = load_digits_checkpoint(path, args.device)
        rows, _ = score_guidance(metric, checkpoint, scales, args.per_class, args.steps, args.seed, args.device)
        minutes = (wall.get(step) or math.nan) / 60
        for r in rows:
            points.append({"step": step, "wall_minutes": minutes, "w": r.w, "accuracy": r.accuracy,
                           "per_class": r.per_class.tolist(), **vars(r.scores)})
            print(f"{step:>6}{minutes:>9.1f}{r.w:>5g}{r.accuracy:>10.1%}{float(r.per_class.min()):>8.0%}"
                  f"{r.scores.confidence:>12.3f}{r.scores.balance_p:>11.3g}{r.scores.frechet:>10.2f}"
                  f"{_figure(r.scores.balanced_frechet):>10}", flush=True)
    return points


def write_classifier(model: DigitClassifier, path: str, train: Digits, reference: Digits, check: Digits,
                     argv: list[str]) -> None:
    """Save the classifier with what it was trained on, how well it does on the held-out digits, and the command."""
    held_out = Digits(torch.cat([reference.images, check.images]), torch.cat([reference.labels, check.labels]))
    save_classifier(model, path, {
        "accuracy": round(accuracy(model, held_out), 4), "held_out": len(held_out), "trained_on": len(train),
        "data": "assets/digits", "seed": CLASSIFIER_SEED,
        "split": f"per class, {TRAIN_SHARE:.0%} to train (split_digits, seed {CLASSIFIER_SEED})",
        "command": shlex.join(["python", "scripts/digits_metric.py", *argv]),
        "torch": torch.__version__})
    print(f"wrote {path} ({Path(path).stat().st_size:,} bytes)")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    start = time.perf_counter()
    digits = load_digits()
    train, reference, check = split_digits(digits)
    model = train_classifier(train)
    metric = DigitsMetric(model, reference, check, shares=torch.bincount(digits.labels, minlength=NUM_CLASSES))
    print(f"classifier: loaded the digits and trained on {len(train)} of them in "
          f"{time.perf_counter() - start:.1f} s; held-out accuracy {accuracy(model, reference):.1%} "
          f"(reference, n={len(reference)}), {accuracy(model, check):.1%} (check, n={len(check)})")
    if args.save_classifier:
        write_classifier(model, args.save_classifier, train, reference, check, argv)
    rows, record = [], {}
    if args.curve:
        record["curve"] = curve(metric, args)
    elif args.checkpoint and class_names(load_digits_checkpoint(args.checkpoint, args.device).config):
        rows, record = _guidance_rows(metric, args)
    elif args.checkpoint:
        start = time.perf_counter()
        samples = sample_checkpoint(args.checkpoint, args.n, args.steps, args.seed, args.device)
        print(f"sampled {args.n} images in {_steps_text(args.steps)} in {time.perf_counter() - start:.1f} s")
        rows.append(("samples", metric.score(samples)))
        if args.grid:
            save_grid(samples[:200], args.grid)
            print(f"wrote {args.grid}")
    real_mean, spread = real_at_random(metric, train, REAL_DRAWS, args.seed)
    rows += [("real (check)", metric.score(check.images, check.labels)),
             (f"real (train), {REAL_AT_RANDOM} at random", real_mean),
             ("real, blurred σ=2", metric.score(blurred_images(check.images), check.labels)),
             ("noise", metric.score(noise_images(len(check), args.seed)))]
    print(f"Fréchet distance to the reference digits (n={len(reference)}), each set scored at n={len(check)}")
    print(format_table(rows))
    print(f"real (train): the mean of {REAL_DRAWS} draws of {REAL_AT_RANDOM}; their sd, the spread of any such figure "
          f"of {REAL_AT_RANDOM} samples: Fréchet {spread[0]:.1f}, balanced {spread[1]:.1f}")
    if args.json:
        record["sets"] = {name: vars(scores) for name, scores in rows}
        Path(args.json).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
