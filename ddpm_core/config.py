"""Frozen configuration dataclasses; a checkpoint's metadata stores them as JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ddpm_core.diffusion import GaussianDiffusion
from ddpm_core.schedules import DEFAULT_BETA_END, DEFAULT_BETA_START, SCHEDULE_PARAMS, make_beta_schedule


@dataclass(frozen=True)
class DiffusionConfig:
    """Which β schedule, over how many steps. Defaults are the paper's (linear 1e-4 → 0.02, T = 1000).

    `beta_start`/`beta_end`/`rescale` apply to the linear families (linear, quadratic, sigmoid);
    `cosine_s` to the cosine schedule. Fields a schedule does not use are ignored by it.
    """

    schedule: str = "linear"
    timesteps: int = 1000
    beta_start: float = DEFAULT_BETA_START
    beta_end: float = DEFAULT_BETA_END
    rescale: bool = False
    cosine_s: float = 0.008

    def schedule_params(self) -> dict:
        """The keyword arguments `make_beta_schedule` takes for this schedule."""
        if self.schedule == "cosine":
            return {"s": self.cosine_s}
        if self.schedule in SCHEDULE_PARAMS:
            return {"beta_start": self.beta_start, "beta_end": self.beta_end, "rescale": self.rescale}
        return {}

    def betas(self):
        """β_1..β_T as float64 [T]; ValueError (naming what is allowed) for a bad configuration."""
        return make_beta_schedule(self.schedule, self.timesteps, **self.schedule_params())

    def build(self) -> GaussianDiffusion:
        return GaussianDiffusion(self.betas())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
