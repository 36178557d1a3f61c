"""Hugging Face ZeroGPU, used only where the `spaces` package is installed (on Spaces); elsewhere nothing changes.

On a ZeroGPU Space a GPU is attached only while a function decorated with `spaces.GPU` runs, in the
process that runs it. So there the Sample tab's callbacks are decorated, and sampling runs in a thread of
that process (`SamplerPool(in_process=True)`) instead of the child process it uses everywhere else. Off
ZeroGPU (`SPACES_ZERO_GPU` unset), `spaces.GPU` itself changes nothing, and without `spaces` neither does `GPU`.
"""

from __future__ import annotations

import os

try:
    import spaces
except ImportError:  # not on Hugging Face Spaces
    spaces = None

SAMPLE_SECONDS = 120  # what a sampling call may hold the GPU for (ZeroGPU's default is 60)


def zero_gpu() -> bool:
    """Whether this process runs on a ZeroGPU Space."""
    return spaces is not None and bool(os.environ.get("SPACES_ZERO_GPU"))


def GPU(fn=None, *, duration: int = SAMPLE_SECONDS):
    """`spaces.GPU(duration=…)` where `spaces` is installed, else the function unchanged (`@GPU` or `@GPU(duration=…)`)."""
    if spaces is None:
        return fn if fn is not None else (lambda f: f)
    decorate = spaces.GPU(duration=duration)
    return decorate(fn) if fn is not None else decorate
