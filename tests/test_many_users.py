"""Many users at once: each session gets its own answers, images, runs and files, never another's.

Twelve gradio_client sessions load twelve different images with twelve seeds and ask the Forward
endpoint for x_t at several t, all at the same time; every answer is checked, pixel for pixel, against
x_t computed independently from that session's own image and seed. Two sessions of the demo-mode app
train at the same time on different uploads under the same run name; each sees only its own run, its
checkpoint records its own data, and its files live in its own folder.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from conftest import launch_app
from ddpm_core.images import load_image
from ddpm_core.schedules import make_beta_schedule

SESSIONS = 12
STEPS_T = (0, 1, 250, 1000)
LINEAR = ("linear", 1000, 1e-4, 0.02, True, 0.008)
RESOLUTION = 64


def _picture(folder, index: int) -> str:
    """A distinct test image per session: a bright square at a position and colour of its own."""
    pixels = np.zeros((64, 64, 3), np.uint8)
    row, col = divmod(index, 4)
    pixels[8 + 12 * row:24 + 12 * row, 4 + 14 * col:20 + 14 * col] = (40 + 17 * index, 255 - 19 * index, 90 + 13 * index)
    path = folder / f"session{index:02d}.png"
    Image.fromarray(pixels).save(path)
    return str(path)


def _expected(path: str, seed: int, t: int) -> np.ndarray:
    """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε from the session's own image and seed, as 8-bit pixels."""
    x0 = load_image(path, RESOLUTION).double()
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed)).double()
    abar = math.prod(1 - b for b in make_beta_schedule("linear", 1000, rescale=True)[:t].tolist())
    x_t = (math.sqrt(abar) * x0 + math.sqrt(1 - abar) * eps).clamp(-1, 1)
    return ((x_t + 1) * 127.5).permute(1, 2, 0).numpy()


def test_concurrent_sessions_each_get_their_own_forward_process(app_url, tmp_path):
    pictures = [_picture(tmp_path, i) for i in range(SESSIONS)]
    seeds = [1000 + 37 * i for i in range(SESSIONS)]
    clients = [Client(app_url, verbose=False) for _ in range(SESSIONS)]
    barrier = threading.Barrier(SESSIONS)

    def session(i: int) -> list[tuple[int, np.ndarray, dict]]:
        client = clients[i]
        client.predict(handle_file(pictures[i]), RESOLUTION, "colour", seeds[i], api_name="/load_image")
        barrier.wait(timeout=60)  # every session has its image before anyone asks for x_t
        answers = []
        for t in STEPS_T:
            path, info = client.predict(t, *LINEAR, api_name="/forward")
            answers.append((t, np.asarray(Image.open(path)).astype(np.float64), info))
        return answers

    with ThreadPoolExecutor(SESSIONS) as pool:
        results = list(pool.map(session, range(SESSIONS)))
    for i, answers in enumerate(results):
        for t, got, info in answers:
            assert info["seed"] == seeds[i] and info["t"] == t, f"session {i} got another session's numbers"
            error = np.abs(got - _expected(pictures[i], seeds[i], t)).max()
            assert error <= 0.5 + 1e-3, f"session {i} at t={t}: off by {error} (another session's image?)"
    # Independent images really differ, so a mix-up could not pass unnoticed.
    assert np.abs(results[0][0][1] - results[1][0][1]).max() > 50


# ---- two trainings at once in demo mode --------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_url():
    """The demo-mode app (as on a Space) allowing two runs at once."""
    yield from launch_app(DDPM_DEMO="1", DDPM_MAX_RUNS="2")


def _dataset(folder, n: int, horizontal: bool) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        pixels = np.zeros((16, 16), np.uint8)
        if horizontal:
            pixels[1 + i % 12:4 + i % 12, 2:14] = 255
        else:
            pixels[2:14, 1 + i % 12:4 + i % 12] = 255
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
        files.append(handle_file(str(folder / f"{i:02d}.png")))
    return files


def test_two_concurrent_trainings_in_demo_mode_stay_apart(demo_url, tmp_path):
    from ddpm_core.checkpoints import read_config
    from test_train_tab import _settings, _status
    from server.settings import sessions_dir

    started = time.time()
    datasets = {"bars": _dataset(tmp_path / "bars", 9, True), "columns": _dataset(tmp_path / "columns", 14, False)}
    clients = {name: Client(demo_url, verbose=False) for name in datasets}
    spans = {}

    def train(name: str) -> list:
        job = clients[name].submit("", datasets[name], *_settings(30, preview_every=10, run="mine"),
                                   api_name="/train_start")
        updates = []
        for update in job:
            updates.append(update)
            if "/ 30" in _status(update) or "at step 30" in _status(update):  # a training step has run
                spans.setdefault(name, [time.monotonic()])[1:] = [time.monotonic()]
        return updates

    with ThreadPoolExecutor(2) as pool:
        runs = dict(zip(datasets, pool.map(train, datasets)))
    (a_start, a_end), (b_start, b_end) = spans.values()
    assert a_start < b_end and b_start < a_end, f"the runs did not overlap: {spans}"
    for name, updates in runs.items():
        assert "Finished run mine at step 30" in _status(updates[-1]), (name, _status(updates[-1]))
        summary = updates[-1][3]
        assert summary.startswith(f"{len(datasets[name])} images from uploads"), (name, summary)
    for name, client in clients.items():
        listing = client.predict(api_name="/train_checkpoints")
        assert listing.count("`mine`") == 1, (name, listing)
    saved = sorted(p for p in sessions_dir().glob("*/runs/mine/model.safetensors") if p.stat().st_mtime >= started)
    assert len(saved) == 2 and saved[0].parent.parent.parent != saved[1].parent.parent.parent, \
        "each session's run in its own folder"
    counts = sorted(read_config(p)["dataset"]["num_images"] for p in saved)
    assert counts == sorted(len(files) for files in datasets.values()), "each checkpoint records its own data"
