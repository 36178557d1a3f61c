"""Training speed per U-Net preset on this machine, beside a plain diffusers loop of the same size.

For each preset, at 32×32 RGB and batch 32, times steps of the app's own training step
(`ddpm_core.train.training_step`: L_simple, backward, gradient clipping, AdamW, EMA) and of a plain
reference loop built from diffusers' `UNet2DModel` (the same layout, hence the same parameter count)
and `DDPMScheduler.add_noise`, with the same clipping, AdamW and an EMA (diffusers' EMAModel). Also
times the app's step with channels_last, with bf16 autocast, and (tiny only) with torch.compile, and
reports each run's peak memory (each configuration runs in its own process). Prints images/s medians
and the ratio app / diffusers.

    .venv/bin/pip install -r bench/requirements-bench.txt     # diffusers, for this script only
    .venv/bin/python bench/bench_train.py [--presets tiny small base] [--batch 32] [--compile]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext

from common import ROOT, machine  # noqa: F401  (puts the repo on sys.path)

STEPS = {"tiny": 24, "small": 12, "base": 5}
WARMUP = 3
# diffusers UNet2DModel layouts that match ddpm_core.unet.PRESETS block for block (same parameter count).
DIFFUSERS_LAYOUTS = {
    "tiny": dict(block_out_channels=(32, 32, 64), layers_per_block=1, norm_num_groups=8,
                 down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                 up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D")),
    "small": dict(block_out_channels=(48, 96, 96), layers_per_block=2, norm_num_groups=16,
                  down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                  up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D")),
    "base": dict(block_out_channels=(96, 192, 192, 192), layers_per_block=2, norm_num_groups=32,
                 down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D")),
}


def _timed(step, steps: int) -> list[float]:
    for _ in range(WARMUP):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def run_ours(preset_name: str, batch: int, variant: str) -> dict:
    import torch

    from ddpm_core.config import DiffusionConfig
    from ddpm_core.train import TrainConfig, make_ema, training_step
    from ddpm_core.unet import UNet, count_parameters, preset

    torch.manual_seed(0)
    model = UNet(preset(preset_name, 32, 3))
    x0 = torch.rand(batch, 3, 32, 32) * 2 - 1
    if variant == "channels_last":
        model, x0 = model.to(memory_format=torch.channels_last), x0.to(memory_format=torch.channels_last)
    net = torch.compile(model) if variant == "compile" else model
    ema = make_ema(model, 0.999)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.0)
    diffusion, config = DiffusionConfig().build(), TrainConfig()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16" else nullcontext()
    losses = []

    def step():
        losses.append(float(training_step(net, model, ema, optimizer, diffusion, x0, config, autocast)))

    start = time.perf_counter()
    step()  # for torch.compile this includes compiling
    first_s = time.perf_counter() - start
    times = _timed(step, STEPS[preset_name])
    return {"params": count_parameters(model), "times": times, "first_step_s": first_s, "loss": losses[-1]}


def run_diffusers(preset_name: str, batch: int) -> dict:
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, UNet2DModel
    from diffusers.training_utils import EMAModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, **DIFFUSERS_LAYOUTS[preset_name])
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    ema = EMAModel(unet.parameters(), decay=0.999)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=2e-4, weight_decay=0.0)
    x0 = torch.rand(batch, 3, 32, 32) * 2 - 1

    def step():
        noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (batch,))
        loss = F.mse_loss(unet(scheduler.add_noise(x0, noise, t), t).sample, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        ema.step(unet.parameters())

    step()
    times = _timed(step, STEPS[preset_name])
    return {"params": sum(p.numel() for p in unet.parameters()), "times": times}


def one(args) -> None:
    """Child process: one configuration, printed as a JSON line with its peak memory."""
    if args.impl == "diffusers":
        result = run_diffusers(args.one, args.batch)
    else:
        result = run_ours(args.one, args.batch, args.impl)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def spawn(preset_name: str, impl: str, batch: int) -> dict | None:
    command = [sys.executable, __file__, "--one", preset_name, "--impl", impl, "--batch", str(batch)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        print(f"  {preset_name}/{impl} failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small", "base"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (tiny; slow to compile)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="fp32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args)
    print("machine:", machine())
    print(f"training step, 32×32 RGB, batch {args.batch}; medians over {STEPS} steps after {WARMUP} warm-up\n")
    print(f"{'preset':<7}{'params':>12}  {'variant':<15}{'img/s':>8}{'ms/step':>9}{'vs diffusers':>14}{'peak MB':>9}")
    for name in args.presets:
        reference = spawn(name, "diffusers", args.batch)
        variants = ["fp32", "channels_last", "bf16"] + (["compile"] if args.compile and name == "tiny" else [])
        rows = [("diffusers", reference)] + [(v, spawn(name, v, args.batch)) for v in variants]
        ref_rate = args.batch / statistics.median(reference["times"]) if reference else None
        for label, result in rows:
            if result is None:
                continue
            rate = args.batch / statistics.median(result["times"])
            ratio = f"{rate / ref_rate:.2f}×" if ref_rate and label != "diffusers" else ""
            extra = f"  (first step {result['first_step_s']:.0f} s)" if label == "compile" else ""
            print(f"{name:<7}{result['params']:>12,}  {label:<15}{rate:>8.1f}{1e3 * args.batch / rate:>9.0f}"
                  f"{ratio:>14}{result['peak_rss_mb']:>9.0f}{extra}")
        print()


if __name__ == "__main__":
    main()
