"""Latency under load: many gradio_client sessions on the Forward endpoints of the demo-mode app.

Run:  cd /work/main && .venv/bin/python bench/bench_load.py [--sessions 1 8 16] [--seconds 20] [--no-training]

The app runs as a Space runs it: `python app.py` in a process of its own (DDPM_DEMO=1, two training runs
allowed at once) on a free local port; the clients run in this process, so they do not share its GIL. Each session is its own
gradio_client Client (its own Gradio session), loads its own 64×64 image once, and then, for `--seconds`,
alternates `/forward` (x_t as PNG plus its numbers: one slider step of the API) and `/views_at_t` (the
plots, histogram, equation and statistics the page asks for when t settles), at a random t each time,
back to back, with no think time. Latency is request to result, as the client sees it, including the
file download for `/forward`. Scenarios:

  (1) N sessions, nothing else running;
  (2) N sessions while two demo-mode training runs (16×16 grey, tiny U-Net, batch 16) train at once.

Prints p50 / p95 / max in ms and requests per second for each N and scenario, with the machine line.
On a 2-core machine everything shares the same two cores (server, clients, training), so the figures
are an upper bound on what a remote visitor would see from a Space of the same size.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from common import ROOT, machine  # noqa: F401  (sets up the environment first)

os.environ["DDPM_DEMO"] = "1"
os.environ["DDPM_MAX_RUNS"] = "2"

import numpy as np  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from common import free_port  # noqa: E402

LINEAR = ("linear", 1000, 1e-4, 0.02, True, 0.008)
TRAIN = (16, 1, "tiny", 16, 1e-3, 2000, 0.99, 0, False, 50, "", "linear", 1000, 1e-4, 0.02, True, 0.008)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def picture(folder: Path, index: int) -> str:
    rng = np.random.default_rng(index)
    path = folder / f"{index}.png"
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    return str(path)


def session(url: str, image: str, seconds: float, start: threading.Barrier, out: list, seed: int) -> None:
    client = Client(url, verbose=False)
    client.predict(handle_file(image), 64, "colour", seed, api_name="/load_image")
    rng = random.Random(seed)
    start.wait()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = rng.randint(0, 1000)
        began = time.perf_counter()
        client.predict(t, *LINEAR, api_name="/forward")
        out.append(("forward", (time.perf_counter() - began) * 1e3))
        began = time.perf_counter()
        client.predict(t, "cosine", *LINEAR, api_name="/views_at_t")
        out.append(("views_at_t", (time.perf_counter() - began) * 1e3))


def trainings(url: str, folder: Path, stop: threading.Event) -> list[threading.Thread]:
    """Two demo-mode training runs, each in its own session, until `stop` (then Stop is pressed)."""
    images = []
    for i in range(24):
        pixels = np.zeros((16, 16), np.uint8)
        pixels[2:14, 1 + i % 12:4 + i % 12] = 255
        Image.fromarray(pixels).save(folder / f"bar{i}.png")
        images.append(handle_file(str(folder / f"bar{i}.png")))

    def run() -> None:
        client = Client(url, verbose=False)
        job = client.submit("", images, *TRAIN, api_name="/train_start")
        stop.wait()
        client.predict(api_name="/train_stop")
        for _ in job:
            pass

    threads = [threading.Thread(target=run, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(8)  # both runs past their start-up
    return threads


def scenario(url: str, folder: Path, sessions: int, seconds: float) -> list[tuple[str, float]]:
    out: list = []
    start = threading.Barrier(sessions)
    threads = [threading.Thread(target=session, args=(url, picture(folder, i), seconds, start, out, 100 + i))
               for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def report(label: str, sessions: int, results: list[tuple[str, float]], seconds: float) -> None:
    for endpoint in ("forward", "views_at_t"):
        times = [ms for name, ms in results if name == endpoint]
        print(f"  {label:<24} {sessions:>3} sessions  {endpoint:<11} p50 {statistics.median(times):7.1f} ms   "
              f"p95 {percentile(times, 0.95):7.1f} ms   max {max(times):7.1f} ms   {len(times) / seconds:6.1f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-training", action="store_true")
    args = parser.parse_args()

    print("DDPM Explorer: latency under load, demo mode (bench/bench_load.py)")
    print("machine:", machine())
    port = free_port()
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/config", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    folder = Path(tempfile.mkdtemp(prefix="ddpm-bench-load-"))
    try:
        for sessions in args.sessions:
            report("forward only", sessions, scenario(url, folder, sessions, args.seconds), args.seconds)
        if not args.no_training:
            stop = threading.Event()
            threads = trainings(url, folder, stop)
            for sessions in args.sessions:
                report("+ 2 trainings", sessions, scenario(url, folder, sessions, args.seconds), args.seconds)
            stop.set()
            for thread in threads:
                thread.join(60)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)
    print("machine:", machine())


if __name__ == "__main__":
    main()
