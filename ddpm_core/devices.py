"""Which device computes: the CPU by default, CUDA or Apple MPS when present and asked for."""

from __future__ import annotations

import torch

from ddpm_core.errors import UserError


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def available_devices() -> list[str]:
    """'cpu' and whichever accelerators this machine has."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if _mps_available():
        devices.append("mps")
    return devices


def pick_device(name: str | None = None) -> torch.device:
    """'auto' (or None) picks CUDA, then Apple MPS, then the CPU; a named device must exist."""
    if name in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise UserError("device.unknown", "{name!r} is not a device; choose auto, cpu, cuda or mps", name=name) from None
    if device.type == "cuda" and not torch.cuda.is_available() or (device.type == "mps" and not _mps_available()):
        raise UserError("device.absent", "device {name!r} is not present on this machine; present here: {present}",
                        name=name, present=", ".join(available_devices()))
    return device
