"""DDPM Explorer's core: the math of denoising diffusion (Ho et al. 2020), importable with no UI."""

from ddpm_core.diffusion import GaussianDiffusion
from ddpm_core.schedules import SCHEDULES, make_beta_schedule

__all__ = ["GaussianDiffusion", "SCHEDULES", "make_beta_schedule"]
__version__ = "0.1.0"
