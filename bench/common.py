"""What every bench script shares: a private Gradio cache, the repo on sys.path, machine facts."""

from __future__ import annotations

import os
import platform
import socket
import sys
import tempfile
from pathlib import Path

# Gradio reads these at import time: no analytics, and a private cache the script deletes at the end.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
CACHE = tempfile.mkdtemp(prefix="ddpm-bench-gradio-")
os.environ["GRADIO_TEMP_DIR"] = CACHE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine() -> str:
    """CPU, core count, library versions and the load average, for the first line of a report."""
    import gradio
    import torch

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.machine()} {platform.system()} {platform.release()}, {os.cpu_count()} CPU cores, "
            f"Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads, "
            f"cpu), gradio {gradio.__version__}; load average {load}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
