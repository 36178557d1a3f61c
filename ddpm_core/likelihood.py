"""The variational bound of Ho et al. 2020 (Eq. 5), term by term, and the NLL bound in bits per dimension.

    L = L_T + Σ_{t=2..T} L_{t−1} + L_0
    L_T     = KL(q(x_T | x_0) ‖ N(0, I))                      (no parameters: how much signal is left)
    L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t))   (Gaussians: closed form)
    L_0     = −log p_θ(x_0 | x_1)                              (the discretised Gaussian decoder, Eq. 13)

Every term is averaged over the D = C·H·W dimensions and divided by ln 2, so they are bits per
dimension and their sum is the bound on −log₂ p(x_0) / D for 8-bit images scaled to [−1, 1].
Index conventions are diffusion.py's: term index i (0-based) is the paper's L_{i} for i ≥ 1 (the
KL at paper step t = i + 1), and index 0 is L_0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from ddpm_core.diffusion import GaussianDiffusion
from ddpm_core.errors import UserError
from ddpm_core.samplers import p_mean_variance

Tensor = torch.Tensor
LN2 = math.log(2.0)
BIN = 1.0 / 255.0  # half the width of one of the 256 pixel levels in [−1, 1]


def normal_kl(mean1: Tensor, logvar1: Tensor, mean2: Tensor, logvar2: Tensor) -> Tensor:
    """KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) per element, in nats: ½(log σ₂²/σ₁² + (σ₁² + (μ₁ − μ₂)²)/σ₂² − 1)."""
    return 0.5 * (logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2) - 1.0)


def discretized_gaussian_log_likelihood(x: Tensor, mean: Tensor, log_scale: Tensor) -> Tensor:
    """log p(x) per element for x on the 256-level grid of [−1, 1] under N(mean, e^{2·log_scale}) (Eq. 13).

    Each level owns the interval [x − 1/255, x + 1/255]; the two end levels extend to ∓∞, so the
    probabilities of the 256 levels sum to 1.
    """
    inv = torch.exp(-log_scale)
    upper, lower = inv * (x - mean + BIN), inv * (x - mean - BIN)
    log_cdf_upper = torch.special.log_ndtr(upper)  # log Φ(upper): the lowest level's probability
    log_sf_lower = torch.special.log_ndtr(-lower)  # log(1 − Φ(lower)): the highest level's
    # Φ(u) − Φ(l), taken in the tail nearer to the interval so that it does not cancel to 0
    delta = torch.where(lower > 0, torch.special.ndtr(-lower) - torch.special.ndtr(-upper),
                        torch.special.ndtr(upper) - torch.special.ndtr(lower))
    middle = torch.log(delta.clamp(min=1e-12))
    return torch.where(x < -1 + BIN, log_cdf_upper, torch.where(x > 1 - BIN, log_sf_lower, middle))


def prior_bits(diffusion: GaussianDiffusion, x0: Tensor) -> Tensor:
    """L_T = KL(q(x_T | x_0) ‖ N(0, I)) per image, in bits per dimension."""
    T = diffusion.num_timesteps - 1
    mean, var = diffusion.q_mean_variance(x0, T)
    kl = normal_kl(mean, var.log(), torch.zeros_like(mean), torch.zeros_like(mean))
    return kl.flatten(1).mean(1) / LN2


def term_bits(model: Callable, diffusion: GaussianDiffusion, x0: Tensor, t: int | Tensor, *, prediction: str = "eps",
              variance: str = "beta", clip: bool = False, noise: Tensor | None = None,
              generator: torch.Generator | None = None) -> Tensor:
    """L_{t} of the bound at 0-based index t, per image, in bits per dimension, on one draw x_{t+1} ~ q.

    Index 0 is the decoder term L_0 = −log p_θ(x_0 | x_1); index t ≥ 1 is the KL between the true
    posterior q(x_t | x_{t+1}, x_0) and the model's p_θ(x_t | x_{t+1}). `t` is one index for the
    batch or one per image, shape (B,).
    """
    return term(model, diffusion, x0, t, prediction=prediction, variance=variance, clip=clip, noise=noise,
                generator=generator)[0]


def distortion(x0: Tensor, pred_x0: Tensor) -> Tensor:
    """RMSE between x̂_0 and x_0 on the 0–255 pixel scale, per image (Ho et al. 2020, Fig. 5)."""
    return ((pred_x0 - x0) * 127.5).pow(2).flatten(1).mean(1).sqrt()


def term(model: Callable, diffusion: GaussianDiffusion, x0: Tensor, t: int | Tensor, *, prediction: str = "eps",
         variance: str = "beta", clip: bool = False, noise: Tensor | None = None,
         generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """(L_t in bits/dim, x̂_0) per image at index t: `term_bits` with the network's x̂_0 from that x_{t+1}."""
    x_t = diffusion.q_sample(x0, t, noise=noise, generator=generator)
    p = p_mean_variance(model, diffusion, x_t, t, prediction=prediction, variance=variance, clip=clip, lazy_eps=True)
    decoder = (lambda: -discretized_gaussian_log_likelihood(x0, p.mean, 0.5 * p.log_variance).flatten(1).mean(1)
               / LN2)
    if isinstance(t, int) and t == 0:
        return decoder(), p.pred_x0
    true_mean, _, true_log_var = diffusion.q_posterior_mean_variance(x0, x_t, t)
    kl = normal_kl(true_mean, true_log_var, p.mean, p.log_variance).flatten(1).mean(1) / LN2
    if isinstance(t, Tensor) and bool((t == 0).any()):
        kl = torch.where(t.to(kl.device) == 0, decoder(), kl)
    return kl, p.pred_x0


def strata_edges(num_timesteps: int, strata: int) -> Tensor:
    """Boundaries 0 = e_0 < e_1 = 1 < … < e_K = T of at most `strata` strata of the indices 0..T−1.

    Index 0 (L_0, the decoder term, which alone can hold a third of the bits) is a stratum of its own;
    1..T−1 is cut into runs whose widths grow geometrically, because the terms fall by orders of
    magnitude over the first steps and change slowly after: equal widths would mix t = 2 with t = 20.
    """
    if strata < 2 or num_timesteps < 2:
        return torch.tensor([0, num_timesteps])
    edges = [0]
    for value in torch.logspace(0, math.log10(num_timesteps), strata, dtype=torch.float64).tolist():
        edges.append(min(max(round(value), edges[-1] + 1), num_timesteps))  # at least one t per stratum
    return torch.tensor(edges).unique()


def stratified_timesteps(num_timesteps: int, strata: int, generator: torch.Generator | None = None,
                         draws: int = 1) -> Tensor:
    """`draws` indices drawn uniformly (with replacement) from each stratum of `strata_edges`, ascending,
    shape (K · draws,); all T indices when K · draws ≥ T."""
    edges = strata_edges(num_timesteps, strata)
    count = len(edges) - 1
    if count * draws >= num_timesteps:
        return torch.arange(num_timesteps)
    widths = (edges[1:] - edges[:-1]).repeat_interleave(draws)
    offsets = (torch.rand(count * draws, generator=generator, dtype=torch.float64) * widths).long()
    return (edges[:-1].repeat_interleave(draws) + offsets).view(count, draws).sort(1).values.flatten()


@dataclass
class Bound:
    """The bound of a batch: the terms evaluated (bits/dim, one row per image), and the total.

    `timesteps` are the 0-based indices evaluated, in descending order: (K,) shared by every image when
    every t was evaluated, or (B, K) with each image's own stratified draws, two per stratum. `weights`
    say how many of the T terms each evaluated term stands for (all 1 when every t was); `total` is per
    image, L_T included.
    """

    prior: Tensor  # (B,)
    timesteps: Tensor  # (K,) or (B, K)
    weights: Tensor  # (K,)
    terms: Tensor  # (B, K)
    distortion: Tensor  # (B, K): RMSE of x̂_0 on the 0–255 scale at each evaluated step
    draws: int = 1  # evaluated terms per stratum: 1 when every t was evaluated, else 2

    @property
    def exact(self) -> bool:
        """Whether every t was evaluated (then only the draws of x_t make the total random)."""
        return self.timesteps.ndim == 1

    @property
    def total(self) -> Tensor:
        return self.prior + (self.terms * self.weights.to(self.terms)).sum(1)

    def rate(self) -> Tensor:
        """Bits/dim received by step k when decoding from T down (L_T + the terms at t ≥ t_k), (B, K):
        the x axis of the rate–distortion curve."""
        return self.prior[:, None] + (self.terms * self.weights.to(self.terms)).cumsum(1)

    def timestep_error(self) -> Tensor:
        """Per image, the standard error of its total from drawing t (0 when every t was evaluated):
        with two draws per stratum of n_h terms, Var = Σ_h n_h² (L_h1 − L_h2)² / 4."""
        if self.draws == 1:
            return torch.zeros_like(self.prior)
        k = self.terms.shape[1] // 2 * 2  # complete pairs only (a stopped evaluation may end inside one)
        pairs = self.terms[:, :k].reshape(self.terms.shape[0], -1, 2)
        sizes = (self.weights[:k].view(-1, 2).sum(1)).to(self.terms)
        return ((sizes ** 2 * (pairs[..., 0] - pairs[..., 1]) ** 2).sum(1) / 4).sqrt()

    @property
    def standard_error(self) -> float:
        """Of the mean total over the batch: the spread of the per-image totals over √B (each image's
        draws of t and x_t are its own, so this covers both), or for one image its `timestep_error`."""
        n = self.total.numel()
        if n == 1:
            return float(self.timestep_error()[0])
        return float(self.total.std() / math.sqrt(n))


def bound_terms(model: Callable, diffusion: GaussianDiffusion, x0: Tensor, *, timesteps: Tensor | None = None,
                prediction: str = "eps", variance: str = "beta", clip: bool = False,
                generator: torch.Generator | None = None) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Yield (indices, L, RMSE of x̂_0) per image, one column of `timesteps` at a time: (K,) shared
    indices or (B, K) per image; default every index from T − 1 down."""
    steps = torch.arange(diffusion.num_timesteps - 1, -1, -1) if timesteps is None else timesteps
    for k in range(steps.shape[-1]):
        t = int(steps[k]) if steps.ndim == 1 else steps[:, k].to(x0.device)
        # no_grad around the computation, not around the yield: a generator closed in another thread would
        # otherwise restore (there) the grad mode of the thread that entered it.
        with torch.no_grad():
            bits, pred_x0 = term(model, diffusion, x0, t, prediction=prediction, variance=variance, clip=clip,
                                 generator=generator)
            shown = distortion(x0, pred_x0)
        yield steps[..., k], bits, shown


def bound_plan(num_timesteps: int, batch: int, strata: int | None = None,
               generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, int]:
    """(timesteps, weights, draws), descending: every t with weight 1, or per image two draws from each
    stratum of `strata_edges`, each weighted by half its stratum's size (every t when that is not fewer)."""
    T = num_timesteps
    edges = strata_edges(T, strata) if strata is not None else None
    if edges is None or 2 * (len(edges) - 1) >= T:
        return torch.arange(T - 1, -1, -1), torch.ones(T, dtype=torch.float64), 1
    timesteps = torch.stack([stratified_timesteps(T, strata, generator, draws=2).flip(0) for _ in range(batch)])
    weights = ((edges[1:] - edges[:-1]).double() / 2).repeat_interleave(2).flip(0)
    return timesteps, weights, 2


class BoundEvaluation:
    """The bound of a batch evaluated one timestep column at a time, so that a UI can show it fill in and
    stop it: iterate to compute (each item is the number of columns done), `result()` for the bound so far.

    A stopped evaluation's `result()` covers the columns done, from t = T down: its total is L_T plus
    those terms only, a lower estimate of the bound.
    """

    def __init__(self, model: Callable, diffusion: GaussianDiffusion, x0: Tensor, *, strata: int | None = None,
                 prediction: str = "eps", variance: str = "beta", clip: bool = False,
                 generator: torch.Generator | None = None):
        self.timesteps, self.weights, self.draws = bound_plan(diffusion.num_timesteps, x0.shape[0], strata,
                                                              generator)
        with torch.no_grad():
            self.prior = prior_bits(diffusion, x0)
        self._columns = bound_terms(model, diffusion, x0, timesteps=self.timesteps, prediction=prediction,
                                    variance=variance, clip=clip, generator=generator)
        self._terms: list[Tensor] = []
        self._distortion: list[Tensor] = []

    @property
    def columns(self) -> int:
        """How many terms each image needs: T, or two per stratum."""
        return self.timesteps.shape[-1]

    @property
    def done(self) -> int:
        return len(self._terms)

    def __iter__(self) -> Iterator[int]:
        for _, bits, rmse in self._columns:
            self._terms.append(bits)
            self._distortion.append(rmse)
            yield len(self._terms)

    def result(self) -> Bound:
        k = len(self._terms)
        if k == 0:
            raise UserError("bound.no_terms", "no term of the bound has been evaluated yet")
        return Bound(self.prior, self.timesteps[..., :k], self.weights[:k], torch.stack(self._terms, 1),
                     torch.stack(self._distortion, 1), self.draws)


def variational_bound(model: Callable, diffusion: GaussianDiffusion, x0: Tensor, *, strata: int | None = None,
                      prediction: str = "eps", variance: str = "beta", clip: bool = False,
                      generator: torch.Generator | None = None) -> Bound:
    """The whole bound for images x0 ∈ [−1, 1] on the 256-level grid: every t, or two t per stratum.

    With `strata` K (2K < T), Σ_t L_t is estimated per image by Σ_h n_h (L_h1 + L_h2)/2 (n_h the
    stratum's size, t_h1, t_h2 drawn in it): unbiased, and the two draws give its standard error.
    """
    evaluation = BoundEvaluation(model, diffusion, x0, strata=strata, prediction=prediction, variance=variance,
                                 clip=clip, generator=generator)
    for _ in evaluation:
        pass
    return evaluation.result()
