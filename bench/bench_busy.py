"""Speed under a busy machine: training and sampling steps/s alone, beside another busy process, and side by
side (the app's Train and Sample tabs at once), under the OpenMP settings the app could choose.

On a 2-core machine two processes that each run torch with 2 OpenMP threads put 4 threads on 2 cores; GNU
OpenMP's threads spin while they wait for each other, so each process can run many times slower than half
its speed alone. Each scenario here runs its workloads as separate processes at the same time, as the app
does (training in the server, sampling in its child process), and prints steps/s over the same window:

    train   one training step of the bundled digits' settings: tiny U-Net, 16×16 grey, batch 64 (Train's default)
    sample  one DDIM step of the bundled model on 64 images (the Sample tab's default)
    busy    another program: a loop of 512×512 float32 matrix products with torch's default threads

Policies: "default" (what torch does unless told), "passive" (OMP_WAIT_POLICY=PASSIVE: waiting threads
sleep instead of spinning), "spin" (GOMP_SPINCOUNT=10000: spin briefly, then sleep), "split" (each process
uses cores ÷ processes threads), and combinations such as "passive+split".

    .venv/bin/python bench/bench_busy.py [--seconds 12] [--policies default passive split passive+split]

About 4 minutes with the defaults. Run it on a quiet machine: its subject is contention, so anything else
running makes every row slower.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, machine  # noqa: F401  (puts the repo on sys.path)

WARMUP_S = 3.0
SCENARIOS = [("train",), ("sample",), ("train", "busy"), ("sample", "busy"), ("train", "sample")]


def worker(kind: str, seconds: float) -> None:
    """Run one workload for `seconds`; print JSON {kind, steps, window} for the steps after the warm-up."""
    import torch

    step = _workload(kind)
    step()  # the first step allocates
    start = time.perf_counter()
    counted, end = 0, start + seconds
    while time.perf_counter() < end:
        step()
        if time.perf_counter() - start >= WARMUP_S:
            counted += 1  # steps that ended inside the window (from the warm-up's end to the last one)
    window = time.perf_counter() - start - WARMUP_S
    print(json.dumps({"kind": kind, "steps": counted, "window": window, "threads": torch.get_num_threads()}))


def _workload(kind: str):
    import contextlib

    import torch

    torch.manual_seed(0)
    if kind == "busy":
        a = torch.randn(512, 512)
        return lambda: a @ a
    if kind == "train":
        from ddpm_core.config import DiffusionConfig
        from ddpm_core.train import TrainConfig, make_ema, training_step
        from ddpm_core.unet import UNet, preset

        model = UNet(preset("tiny", 16, 1))
        ema, optimizer = make_ema(model, 0.995), torch.optim.AdamW(model.parameters(), lr=5e-4)
        diffusion, config, x0 = DiffusionConfig().build(), TrainConfig(), torch.randn(64, 1, 16, 16)
        return lambda: training_step(model, model, ema, optimizer, diffusion, x0, config, contextlib.nullcontext())
    if kind == "sample":
        from ddpm_core.checkpoints import load_checkpoint
        from ddpm_core.samplers import ddim_step

        checkpoint = load_checkpoint(ROOT / "checkpoints" / "digits.safetensors")
        model, diffusion, x = checkpoint.model, checkpoint.diffusion, torch.randn(64, 1, 16, 16)
        torch.set_flush_denormal(True)

        def one() -> None:
            with torch.inference_mode():
                ddim_step(model, diffusion, x, 500, 480)
        return one
    raise ValueError(kind)


def run(kinds: tuple[str, ...], policy: str, seconds: float) -> dict[str, float]:
    """Start `kinds` as processes at once under `policy`; steps/s of each (the busy process is not reported)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if "passive" in policy:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if "spin" in policy:  # GNU OpenMP: spin this many times before sleeping (default 300,000; passive: 0)
        env["GOMP_SPINCOUNT"] = "10000"
    if "split" in policy:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // len(kinds)))
    processes = [subprocess.Popen([sys.executable, __file__, "--worker", kind, "--seconds", str(seconds)],
                                  env=env, stdout=subprocess.PIPE, text=True) for kind in kinds]
    rates = {}
    for process in processes:
        out, _ = process.communicate(timeout=seconds + 120)
        report = json.loads(out.strip().splitlines()[-1])
        rates[report["kind"]] = report["steps"] / max(report["window"], 1e-9)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--policies", nargs="+", default=["default", "passive", "spin", "split", "passive+split"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.seconds)
        return
    print(machine())
    alone: dict[tuple[str, str], float] = {}
    print(f"\nsteps/s over {args.seconds - WARMUP_S:.0f} s after a {WARMUP_S:.0f} s warm-up; in brackets: × of the "
          "same workload alone under the same policy (2 processes sharing 2 cores fairly: about 0.5×)\n")
    print(f"{'scenario':<16}" + "".join(f"{p:>22}" for p in args.policies))
    for kinds in SCENARIOS:
        cells = {p: run(kinds, p, args.seconds) for p in args.policies}
        for kind in (k for k in kinds if k != "busy"):
            row = f"{kind + (' + ' + '+'.join(k for k in kinds if k != kind) if len(kinds) > 1 else ''):<16}"
            for policy in args.policies:
                rate = cells[policy][kind]
                if len(kinds) == 1:
                    alone[(kind, policy)] = rate
                    row += f"{rate:>22.1f}"
                else:
                    row += f"{rate:>13.1f} ({rate / alone[(kind, policy)]:.2f}×)"
            print(row, flush=True)
    print("\n" + machine())


if __name__ == "__main__":
    main()
