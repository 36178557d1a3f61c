"""Does bf16 autocast on this CPU train as well as fp32? Same digits run in both, loss and samples compared.

Trains the bundled digits (tiny U-Net, 16×16 grey, batch 64) for --steps in fp32 and with
`--precision bf16`, prints each run's wall time, its mean loss over the last quarter of the steps,
and the digits metric of its samples (scripts/digits_metric.py: classifier confidence and Fréchet
distance to real digits). bf16 is worth turning on only where the second run is faster and as good.

    .venv/bin/python bench/bench_precision.py [--steps 800]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

from ddpm_core.config import DiffusionConfig
from ddpm_core.train import TrainConfig, train


def run(precision: str, steps: int, out: Path) -> tuple[float, float]:
    config = TrainConfig(image_size=16, channels=1, preset="tiny", batch_size=64, lr=5e-4, steps=steps,
                         warmup_steps=100, ema_decay=0.995, flip=False, save_every=steps, precision=precision)
    losses = []
    start = time.perf_counter()
    train(config, DiffusionConfig(), ROOT / "assets" / "digits", out, callback=lambda p: losses.append(p.loss))
    return time.perf_counter() - start, statistics.fmean(losses[-steps // 4:])


def metric(checkpoint: Path) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "digits_metric.py"), "--checkpoint",
                           str(checkpoint), "--n", "200", "--steps", "100"], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    return next((line for line in done.stdout.splitlines() if line.startswith("samples")), done.stderr[-300:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    args = parser.parse_args()
    print("machine:", machine())
    with tempfile.TemporaryDirectory() as folder:
        for precision in ("fp32", "bf16"):
            out = Path(folder) / precision
            seconds, loss = run(precision, args.steps, out)
            print(f"{precision}: {args.steps} steps in {seconds:.0f} s ({args.steps / seconds:.1f} steps/s); "
                  f"mean loss over the last {args.steps // 4} steps {loss:.4f}")
            print(f"      {'set':<20}{'n':>5}  confidence  sure ≥0.9  class H (bits)  balance p   Fréchet  balanced")
            print(f"      {metric(out / 'model.safetensors')}")


if __name__ == "__main__":
    main()
