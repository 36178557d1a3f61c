"""Distances between two point clouds: how close generated samples are to the data."""

from __future__ import annotations

import torch


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int = 512, seed: int = 0) -> float:
    """Sliced 1-Wasserstein distance: the mean over random directions θ of W_1 between the 1-D
    projections ⟨a, θ⟩ and ⟨b, θ⟩ (Rabin et al. 2011). For equal sizes W_1 in 1-D is the mean
    absolute difference of the sorted projections.
    """
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"need two (n, d) clouds of the same size, got {tuple(a.shape)} and {tuple(b.shape)}")
    g = torch.Generator().manual_seed(seed)
    directions = torch.randn(a.shape[1], projections, generator=g, dtype=torch.float64)
    directions /= directions.norm(dim=0, keepdim=True)
    pa = torch.sort(a.double().cpu() @ directions, dim=0).values
    pb = torch.sort(b.double().cpu() @ directions, dim=0).values
    return float((pa - pb).abs().mean())


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Energy distance 2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ (Székely & Rizzo 2013), V-statistic form; 0 iff equal laws."""
    a, b = a.double().cpu(), b.double().cpu()
    cross = torch.cdist(a, b).mean()
    return float(2 * cross - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())
