"""Deployment settings from the environment: demo mode, its caps, and where training runs are kept.

    DDPM_DEMO=1|0        demo mode; on by default on Hugging Face Spaces (which sets SPACE_ID), else off
    DDPM_MAX_RUNS=N      training runs at once (default: 1 on up to 3 CPU cores, else 2)
    DDPM_RUNS_DIR=DIR    local mode's run folders (default <repo>/runs/, git-ignored)
    DDPM_SAMPLE_MEMORY_MB=N  memory one sampling run may plan to use (default: 1024 in demo mode,
                         else no cap beyond half of what is free)

`load()` reads DDPM_DEMO and DDPM_MAX_RUNS when a tab is built, so one process can host a demo and a
local app side by side (the tests do); `runs_dir()` reads DDPM_RUNS_DIR each time a run starts.

Demo mode is for a public server: no folder path (uploads only), uploads capped in count and bytes,
smaller runs, each session's uploads and runs in its own temporary folder, deleted when it ends.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ddpm_core.errors import UserError
from server.uploads import UploadLimits

ROOT = Path(__file__).resolve().parent.parent
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}

DEMO_UPLOADS = UploadLimits(max_files=500, max_upload_bytes=50 * 2**20, max_zip_entries=2_000,
                            max_unzipped_bytes=200 * 2**20, max_ratio=100)
LOCAL_UPLOADS = UploadLimits(max_files=100_000, max_upload_bytes=4 * 2**30, max_zip_entries=200_000,
                             max_unzipped_bytes=8 * 2**30, max_ratio=100)


@dataclass(frozen=True)
class Settings:
    """What the Train tab allows on this deployment."""

    demo: bool
    max_steps: int
    max_image_size: int
    max_batch_size: int
    max_concurrent_runs: int
    uploads: UploadLimits


def demo_mode() -> bool:
    """DDPM_DEMO if set (1/0, true/false, yes/no, on/off), else whether this runs on Hugging Face Spaces."""
    value = os.environ.get("DDPM_DEMO")
    if value is None:
        return bool(os.environ.get("SPACE_ID"))
    if value.strip().lower() not in _TRUE | _FALSE:
        raise UserError("settings.demo", "DDPM_DEMO must be 1 or 0, got {value!r}", value=value)
    return value.strip().lower() in _TRUE


def default_max_runs() -> int:
    """Two runs share a 2-core CPU badly: each took 2.7× as long as alone (vs 2× run one after the other)."""
    return 2 if (os.cpu_count() or 1) >= 4 else 1


def load() -> Settings:
    """The settings as the environment says now."""
    runs = int(os.environ.get("DDPM_MAX_RUNS") or default_max_runs())
    if runs < 1:
        raise UserError("settings.at_least_one", "{name} must be at least 1, got {value!r}", name="DDPM_MAX_RUNS",
                        value=runs)
    if demo_mode():
        return Settings(demo=True, max_steps=2_000, max_image_size=64, max_batch_size=64,
                        max_concurrent_runs=runs, uploads=DEMO_UPLOADS)
    return Settings(demo=False, max_steps=1_000_000, max_image_size=128, max_batch_size=1024,
                    max_concurrent_runs=runs, uploads=LOCAL_UPLOADS)


def runs_dir() -> Path:
    """Where local mode keeps run folders (`<name>/model.safetensors`)."""
    return Path(os.environ.get("DDPM_RUNS_DIR") or ROOT / "runs").expanduser().resolve()


def imports_dir() -> Path:
    """Where local mode keeps models imported from diffusers folders (`<name>.safetensors`)."""
    return Path(os.environ.get("DDPM_IMPORTS_DIR") or ROOT / "imported").expanduser().resolve()


def sessions_dir() -> Path:
    """Per-session temporary folders (uploads; in demo mode also runs), one per session id."""
    return Path(tempfile.gettempdir()) / "ddpm-explorer-sessions"


def max_file_bytes() -> int:
    """The largest single upload Gradio accepts: a zip of images or a checkpoint (images check their own 25 MB)."""
    return 64 * 2**20 if demo_mode() else 1024 * 2**20


def sample_memory_bytes() -> int | None:
    """The cap on one sampling run's working memory (images × activations), or None for no cap."""
    value = os.environ.get("DDPM_SAMPLE_MEMORY_MB")
    if value is None or not value.strip():
        return 1024 * 2**20 if demo_mode() else None
    megabytes = int(value)
    if megabytes < 1:
        raise UserError("settings.at_least_one", "{name} must be at least 1, got {value!r}",
                        name="DDPM_SAMPLE_MEMORY_MB", value=value)
    return megabytes * 2**20


def queue_options() -> dict:
    """queue() options: four events at a time (each event type's own limits, e.g. training runs, stay lower);
    a public server also caps how many may wait, so a flood gets "queue is full" instead of hour-long waits."""
    return {"default_concurrency_limit": 4, **({"max_size": 64} if demo_mode() else {})}


def launch_options() -> dict:
    """launch() options from the environment; demo mode also closes Gradio's /monitoring page (open to anyone).

    show_error: Gradio's own refusals (a file that was not uploaded, a full queue) reach the page as
    their message instead of a bare "Error"; callbacks turn their own errors into messages (ui/errors.py).
    """
    options = {"max_file_size": max_file_bytes(), "show_error": True}
    return {**options, "enable_monitoring": False} if demo_mode() else options
