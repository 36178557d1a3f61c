"""The 2-D lab's noise predictor ε_θ(x_t, t): a residual MLP with sinusoidal time and input features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ddpm_core.nn import sinusoidal_embedding


@dataclass(frozen=True)
class MLPConfig:
    """Width and depth of the 2-D denoiser.

    `input_scale` multiplies the coordinates before their sinusoidal features: points of unit scale
    then vary over many periods, which lets a small MLP draw sharp shapes (Tancik et al. 2020).
    """

    data_dim: int = 2
    hidden: int = 128
    blocks: int = 3
    embedding_dim: int = 64
    input_scale: float = 25.0


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.act = nn.GELU()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.act(self.linear(h))


class DenoiserMLP(nn.Module):
    """ε_θ(x_t, t) for points: [features(x_t), features(t)] → residual MLP → ε̂ of shape (B, data_dim)."""

    def __init__(self, config: MLPConfig = MLPConfig()):
        super().__init__()
        self.config = config
        features = config.embedding_dim * (config.data_dim + 1)
        self.inp = nn.Sequential(nn.Linear(features, config.hidden), nn.GELU())
        self.blocks = nn.Sequential(*(ResidualBlock(config.hidden) for _ in range(config.blocks)))
        self.out = nn.Linear(config.hidden, config.data_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        dim = self.config.embedding_dim
        coords = [sinusoidal_embedding(x[:, i] * self.config.input_scale, dim) for i in range(x.shape[1])]
        h = torch.cat([*coords, sinusoidal_embedding(t, dim)], dim=1)  # (B, embedding_dim · (data_dim + 1))
        return self.out(self.blocks(self.inp(h)))
