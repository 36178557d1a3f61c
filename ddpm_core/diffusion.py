"""The Gaussian diffusion process: q(x_t | x_0), q(x_t | x_{t-1}), the posterior q(x_{t-1} | x_t, x_0), and
the fixed variances of the reverse process p_θ(x_{t-1} | x_t).

Timestep convention, written down once for the whole package
-----------------------------------------------------------
The paper numbers the noising steps t = 1..T, with t = 0 the clean image x_0. Every public function
of `ddpm_core` takes and returns **0-based indices** ``i = t − 1``: every per-step tensor here
(`betas`, `alphas_cumprod`, ...) has length T, ``betas[0]`` is β_1 and ``betas[T − 1]`` is β_T;
``q_sample(x0, 0)`` is x_1, one step of noise, and ``q_sample(x0, T − 1)`` is x_T. The clean image
x_0 has index −1 (``INDEX_X0``), where a sampler's chain ends. The paper's t appears only at a UI's
edge, converted by `paper_t` and `index_of`, the one place that adds or subtracts the 1.

Everything is dimension-agnostic: x can be images (B, C, H, W), 2-D points (B, 2) or anything
with the batch first. Schedules are computed in float64; `_extract` casts to the dtype of x.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ddpm_core.errors import UserError

Tensor = torch.Tensor
INDEX_X0 = -1  # the index of x_0 itself: the end of every reverse chain
VARIANCES = ("beta", "beta_tilde")  # σ_t² of p_θ: β_t (the paper's default) or β̃_t (Ho et al. 2020, §3.2)


def paper_t(index):
    """The paper's t (1..T, and 0 for x_0) of a 0-based index (0..T − 1, and −1 for x_0); an int, or an array
    or tensor of them."""
    return int(index) + 1 if isinstance(index, int) else index + 1


def index_of(t):
    """The 0-based index of the paper's step t (t = 0, the clean x_0, is index −1); an int, or an array or
    tensor of them."""
    return int(t) - 1 if isinstance(t, int) else t - 1


def _as_index(t, batch: int, device: torch.device) -> Tensor:
    """Turn an int or a tensor of 0-based indices into a LongTensor of shape (batch,)."""
    if isinstance(t, int):
        return torch.full((batch,), t, dtype=torch.long, device=device)
    return t.to(device=device, dtype=torch.long).expand(batch) if t.ndim == 0 else t.to(device)


class GaussianDiffusion:
    """Per-timestep constants of a DDPM forward process and the Gaussians built from them.

    Attributes are float64 tensors of shape [T] named as in the field: `betas` (β_t), `alphas`
    (α_t = 1 − β_t), `alphas_cumprod` (ᾱ_t = Π_{s≤t} α_s), `alphas_cumprod_prev` (ᾱ_{t−1}, with
    ᾱ_0 = 1), `sqrt_alphas_cumprod`, `sqrt_one_minus_alphas_cumprod`, `snr` (ᾱ_t / (1 − ᾱ_t)),
    `posterior_variance` (β̃_t), `posterior_log_variance_clipped`, `posterior_mean_coef1/2`.
    """

    def __init__(self, betas):
        betas = torch.as_tensor(betas, dtype=torch.float64).detach().cpu()
        if betas.ndim != 1 or betas.numel() == 0:
            raise ValueError(f"betas must be a non-empty 1-D sequence, got shape {tuple(betas.shape)}")
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise UserError("diffusion.betas_range", "every β_t must lie in (0, 1)")
        self.num_timesteps = betas.numel()
        self.device = torch.device("cpu")
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.alphas_cumprod_prev = torch.cat([betas.new_ones(1), self.alphas_cumprod[:-1]])
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - self.alphas_cumprod).sqrt()
        self.snr = self.alphas_cumprod / (1.0 - self.alphas_cumprod)
        self.sqrt_recip_alphas_cumprod = (1.0 / self.alphas_cumprod).sqrt()
        self.sqrt_recipm1_alphas_cumprod = (1.0 / self.alphas_cumprod - 1.0).sqrt()
        self.sqrt_alphas = self.alphas.sqrt()
        self.sqrt_betas = betas.sqrt()
        self.posterior_variance = self.posterior_variance_beta_tilde()
        self.posterior_log_variance_clipped = self.first_step_clipped(self.posterior_variance).log()
        self.posterior_mean_coef1, self.posterior_mean_coef2 = self.posterior_mean_coefs()
        # σ_t² of p_θ(x_{t−1} | x_t) for each choice, and its log, per index (see `reverse_variance`)
        self.reverse_variance_beta = self.first_step_clipped(betas)
        self.reverse_variance_beta_tilde = self.first_step_clipped(self.posterior_variance)
        self.reverse_log_variance_beta = self.reverse_variance_beta.log()
        self.reverse_log_variance_beta_tilde = self.reverse_variance_beta_tilde.log()

    # ---- constants ---------------------------------------------------------------------------

    def posterior_variance_beta_tilde(self) -> Tensor:
        """β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t  (Ho et al. 2020, Eq. 7). β̃_1 = 0."""
        return self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)

    def first_step_clipped(self, variance: Tensor) -> Tensor:
        """A per-step variance with its value at t = 1 replaced by β̃_2: the t = 1 rule, in this one place.

        β̃_1 = 0 has no logarithm, and β_1 = 1e-4 would make the decoder p_θ(x_0 | x_1) far too sharp, so
        the reference implementation (and so Ho et al.'s reported bound) uses β̃_2 at t = 1 for either
        choice of σ². With T = 1 there is no β̃_2 to borrow and β_1 is the only non-zero choice.
        """
        if self.num_timesteps == 1:
            return self.betas.clone()
        return torch.cat([self.posterior_variance[1:2], variance[1:]])

    def posterior_mean_coefs(self) -> tuple[Tensor, Tensor]:
        """μ̃_t = coef1·x_0 + coef2·x_t, coef1 = √ᾱ_{t−1}β_t/(1−ᾱ_t), coef2 = √α_t(1−ᾱ_{t−1})/(1−ᾱ_t) (Eq. 7)."""
        denom = 1.0 - self.alphas_cumprod
        coef1 = self.alphas_cumprod_prev.sqrt() * self.betas / denom
        coef2 = self.alphas.sqrt() * (1.0 - self.alphas_cumprod_prev) / denom
        return coef1, coef2

    # ---- device handling ---------------------------------------------------------------------

    def to(self, device) -> "GaussianDiffusion":
        """Move every per-step tensor to `device` (float32 on MPS, which has no float64)."""
        device = torch.device(device)
        dtype = torch.float32 if device.type == "mps" else torch.float64
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                setattr(self, name, value.to(device=device, dtype=dtype))
        self.device = device
        return self

    def _extract(self, a: Tensor, t, x: Tensor) -> Tensor:
        """Gather a[t] for a batch of indices and shape it (B, 1, 1, ...) to broadcast against x.

        An int t (one step for the whole batch, as in a sampler's loop) gives a[t] as a 0-d tensor
        instead, which broadcasts the same: two tiny ops instead of five, on every call of every step.
        """
        if isinstance(t, int):
            return a[t].to(device=x.device, dtype=x.dtype)
        index = _as_index(t, x.shape[0], a.device)
        out = a.gather(0, index).to(device=x.device, dtype=x.dtype)
        return out.reshape(x.shape[0], *([1] * (x.ndim - 1)))

    # ---- the forward process -----------------------------------------------------------------

    def q_mean_variance(self, x0: Tensor, t) -> tuple[Tensor, Tensor]:
        """Mean and variance of q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)  (Ho et al. 2020, Eq. 4)."""
        mean = self._extract(self.sqrt_alphas_cumprod, t, x0) * x0
        variance = self._extract(1.0 - self.alphas_cumprod, t, x0).expand_as(x0)
        return mean, variance

    def q_sample(self, x0: Tensor, t, noise: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Sample from q(x_t | x_0): x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε  (Ho et al. 2020, Eq. 4)."""
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        return (self._extract(self.sqrt_alphas_cumprod, t, x0) * x0
                + self._extract(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise)

    def q_step(self, x_prev: Tensor, t, noise: Tensor | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """Sample from q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I)  (Ho et al. 2020, Eq. 2)."""
        if noise is None:
            noise = torch.randn(x_prev.shape, generator=generator, device=x_prev.device,
                                dtype=x_prev.dtype)
        return (self._extract(self.sqrt_alphas, t, x_prev) * x_prev
                + self._extract(self.sqrt_betas, t, x_prev) * noise)

    def q_chain(self, x0: Tensor, t: int,
                generator: torch.Generator | None = None) -> Iterator[tuple[int, Tensor]]:
        """Run the Markov chain q(x_s | x_{s−1}) (Eq. 2) from x_0 up to index t, yielding (index, x) at every
        index from 0 to t (t = −1 yields nothing: x_0 is where the chain starts).

        Each step draws fresh noise, so a particle's path is a (discretised) Brownian trajectory.
        """
        if not INDEX_X0 <= t < self.num_timesteps:
            raise ValueError(f"t must be an index from −1 (x_0) to T − 1 = {self.num_timesteps - 1}, got {t}")
        x = x0
        for index in range(t + 1):
            x = self.q_step(x, index, generator=generator)
            yield index, x

    def q_sample_chain(self, x0: Tensor, t: int, generator: torch.Generator | None = None) -> Tensor:
        """Sample x at index t by composing t + 1 single steps q(x_s | x_{s−1}) (Eq. 2).

        In distribution this equals `q_sample(x0, t)` (Eq. 4); it exists to show that. t = −1 returns x_0.
        """
        x = x0
        for _, x in self.q_chain(x0, t, generator):
            pass
        return x

    def q_posterior_mean(self, x0: Tensor, x_t: Tensor, t) -> Tensor:
        """μ̃_t(x_t, x_0), the mean of q(x_{t−1} | x_t, x_0)  (Ho et al. 2020, Eq. 7)."""
        # coef1·x_0 + coef2·x_t, accumulated in place: one full-size buffer instead of three (the
        # sampler's hot path, where each fresh buffer costs as much as the arithmetic)
        mean = self._extract(self.posterior_mean_coef2, t, x_t) * x_t
        return mean.addcmul_(x0, self._extract(self.posterior_mean_coef1, t, x_t))

    def reverse_variance(self, t, x: Tensor, variance: str = "beta") -> tuple[Tensor, Tensor]:
        """σ_t² and log σ_t² of p_θ(x_{t−1} | x_t) at index t, shaped to broadcast against x (Ho et al. 2020, §3.2).

        `variance` is "beta" (σ_t² = β_t, the paper's default) or "beta_tilde" (σ_t² = β̃_t, the posterior's);
        at t = 1 either is β̃_2 (`first_step_clipped`).
        """
        if variance not in VARIANCES:
            raise UserError("diffusion.variance_unknown", "unknown variance {variance!r}; choose one of {choices}",
                            variance=variance, choices=VARIANCES)
        return (self._extract(getattr(self, f"reverse_variance_{variance}"), t, x),
                self._extract(getattr(self, f"reverse_log_variance_{variance}"), t, x))

    def q_posterior_mean_variance(self, x0: Tensor, x_t: Tensor, t) -> tuple[Tensor, Tensor, Tensor]:
        """Mean, variance and clipped log-variance of q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I)  (Eq. 6–7)."""
        mean = self.q_posterior_mean(x0, x_t, t)
        variance = self._extract(self.posterior_variance, t, x_t).expand_as(x_t)
        log_variance = self._extract(self.posterior_log_variance_clipped, t, x_t).expand_as(x_t)
        return mean, variance, log_variance

    # ---- what a network predicts, converted (ε, x_0 and v parameterisations) ----------------------

    def predict_x0_from_eps(self, x_t: Tensor, t, eps: Tensor) -> Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t, Eq. 4 solved for x_0 (Ho et al. 2020, Eq. 15)."""
        x0 = self._extract(self.sqrt_recip_alphas_cumprod, t, x_t) * x_t  # in place below, as μ̃_t
        return x0.addcmul_(eps, self._extract(self.sqrt_recipm1_alphas_cumprod, t, x_t), value=-1)

    def predict_eps_from_x0(self, x_t: Tensor, t, x0: Tensor) -> Tensor:
        """ε̂ = (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t), Eq. 4 solved for ε."""
        return ((self._extract(self.sqrt_recip_alphas_cumprod, t, x_t) * x_t - x0)
                / self._extract(self.sqrt_recipm1_alphas_cumprod, t, x_t))

    def score_from_eps(self, x_t: Tensor, t, eps: Tensor) -> Tensor:
        """∇_x log q(x_t) ≈ s(x_t, t) = −ε / √(1 − ᾱ_t): the score of the noised data (Song et al. 2021, Eq. 4
        with Ho et al.'s ε; exact for the true ε-predictor E[ε | x_t])."""
        return eps / -self._extract(self.sqrt_one_minus_alphas_cumprod, t, x_t)

    def velocity(self, x0: Tensor, t, eps: Tensor) -> Tensor:
        """v = √ᾱ_t ε − √(1 − ᾱ_t) x_0, the v-prediction target (Salimans & Ho 2022, §4)."""
        return (self._extract(self.sqrt_alphas_cumprod, t, x0) * eps
                - self._extract(self.sqrt_one_minus_alphas_cumprod, t, x0) * x0)

    def predict_x0_from_v(self, x_t: Tensor, t, v: Tensor) -> Tensor:
        """x̂_0 = √ᾱ_t x_t − √(1 − ᾱ_t) v (Salimans & Ho 2022, §4)."""
        return (self._extract(self.sqrt_alphas_cumprod, t, x_t) * x_t
                - self._extract(self.sqrt_one_minus_alphas_cumprod, t, x_t) * v)
