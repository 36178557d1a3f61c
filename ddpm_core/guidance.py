"""Class labels and classifier-free guidance (Ho & Salimans 2022): label dropout, the guided prediction, and the
class names a checkpoint records.

One network is both conditional and unconditional: training replaces each label by the null class ∅ with
probability p_uncond (`drop_labels`), so ε_θ(x_t, ∅) learns the unconditional model. Sampling mixes the two:

    ε̃ = ε_θ(x_t, ∅) + w · (ε_θ(x_t, c) − ε_θ(x_t, ∅))

Convention for w, written down once: w = 0 is the unconditional model, w = 1 the plain conditional one, and
w > 1 pushes past it, towards images the label explains best. Ho & Salimans write ε̃ = (1 + w′) ε_c − w′ ε_∅,
so their w′ = w − 1 (their w′ = 0.3 is our 1.3); diffusers' `guidance_scale` is our w.

The samplers keep calling `model(x, t)`: `guided(network, labels, w)` is that model, so DDPM, DDIM, the ODE
solvers, progressive decoding and the bound work with a conditional network unchanged. Guidance works for any
parameterisation: x̂_0 and v are affine in ε at a fixed x_t and t, and 1 − w + w = 1, so mixing the network's
x_0- or v-predictions is the same as mixing the ε's they stand for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ddpm_core.errors import UserError

Tensor = torch.Tensor
Network = Callable[..., Tensor]  # network(x, t, labels) → prediction, labels (B,) with ∅ = num_classes
MAX_GUIDANCE = 20.0
DEFAULT_P_UNCOND = 0.1  # Ho & Salimans 2022, §4.1: 0.1 or 0.2 did best on ImageNet 64×64
DEFAULT_GUIDANCE = 2.0  # the app's w: measured on the bundled digits model (checkpoints/README.md)
ALL_CLASSES = "all"  # the class request for one row per class


def guided_eps(eps_cond: Tensor, eps_uncond: Tensor, w: float) -> Tensor:
    """ε̃ = ε_θ(x_t, ∅) + w · (ε_θ(x_t, c) − ε_θ(x_t, ∅))  (Ho & Salimans 2022, Eq. 6, with w = 1 + their w)."""
    return eps_uncond + w * (eps_cond - eps_uncond)


def check_guidance(w: float) -> float:
    """w itself if it lies in [0, MAX_GUIDANCE]; UserError otherwise."""
    if not 0.0 <= w <= MAX_GUIDANCE:  # also refuses NaN
        raise UserError("guidance.range", "the guidance scale w must lie in [0, {high:g}], got {w}",
                        high=MAX_GUIDANCE, w=w)
    return float(w)


def guided_prediction(network: Network, x_t: Tensor, t: Tensor, labels: Tensor, w: float, null_class: int
                      ) -> Tensor:
    """The guided ε̃ (or x̂_0, v̂) at x_t (B, C, H, W): `guided_eps` of the network given `labels` (B,) and ∅.

    Both predictions come from one forward pass over a batch of 2B (labels, then ∅). w = 1 needs only the
    conditional half and w = 0 only the unconditional: those take one pass of B and return it exactly.
    """
    if w == 1.0:
        return network(x_t, t, labels)
    null = torch.full_like(labels, null_class)
    if w == 0.0:
        return network(x_t, t, null)
    both = network(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([labels, null]))  # (2B, C, H, W)
    eps_cond, eps_uncond = both.chunk(2)
    return guided_eps(eps_cond, eps_uncond, w)


def guided(network: Network, labels: Tensor, w: float, null_class: int) -> Callable[[Tensor, Tensor], Tensor]:
    """The model(x, t) the samplers call: `guided_prediction` with these labels (B,) and w."""
    check_guidance(w)
    return lambda x, t: guided_prediction(network, x, t, labels.to(x.device), w, null_class)


def drop_labels(labels: Tensor, p_uncond: float, null_class: int, generator: torch.Generator | None = None
                ) -> Tensor:
    """Each label replaced by ∅ (`null_class`) independently with probability p_uncond (Ho & Salimans 2022,
    Algorithm 1): the same network learns ε_θ(x_t, ∅)."""
    drop = torch.rand(labels.shape, generator=generator, device=labels.device) < p_uncond
    return torch.where(drop, torch.full_like(labels, null_class), labels)


# ---- class names: what a checkpoint records, and a request for some of them --------------------------------

def class_names(config: dict) -> tuple[str, ...] | None:
    """The class names a checkpoint's configuration records (`dataset["classes"]`), or None: unconditional."""
    classes = (config.get("dataset") or {}).get("classes")
    return tuple(classes) if isinstance(classes, list) and classes else None


def requested_labels(classes: Sequence[str] | None, request: str | None, per_class: int) -> Tensor | None:
    """Labels (N,) for a class request: `per_class` of one class name, or with ALL_CLASSES `per_class` of each
    class in order (one row per class); None for no request (the null class ∅, or an unconditional model).

    UserError for a class the checkpoint lacks or a request to an unconditional checkpoint.
    """
    if request is None:
        return None
    if not classes:
        raise UserError("guidance.unconditional", "this checkpoint is unconditional (trained without class labels): "
                        "it cannot draw a class; leave the class and the guidance out")
    if request == ALL_CLASSES:
        return torch.arange(len(classes)).repeat_interleave(per_class)
    if request not in classes:
        raise UserError("guidance.class_unknown", "the checkpoint has no class {name!r}; its classes are {classes}",
                        name=request, classes=", ".join(classes))
    return torch.full((per_class,), list(classes).index(request), dtype=torch.long)
