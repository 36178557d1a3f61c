"""Network building blocks shared by the denoisers (the 2-D MLP now, the image U-Net next)."""

from __future__ import annotations

import math

import torch


def sinusoidal_embedding(values: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style features [sin(v·ω_k), cos(v·ω_k)], ω_k = max_period^(−k/(dim/2)) (Ho et al. 2020, App. B).

    `values` of shape (B,) becomes (B, dim); `dim` must be even.
    """
    if dim % 2:
        raise ValueError(f"embedding dimension must be even, got {dim}")
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=values.device) / half)
    angles = values.float()[:, None] * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)
