"""Importing the paper's models: conversion time, parameters and file size per released layout, and the CPU time
of one forward pass (ours beside diffusers' UNet2DModel), with what that means for sampling and the bound.

For the layouts of google/ddpm-cifar10-32 (32², 35.7 M parameters) and of the 256² releases (CelebA-HQ, LSUN;
114 M), each with random weights (nothing is downloaded): build diffusers' UNet2DModel, save it as a diffusers
folder (config.json, diffusion_pytorch_model.safetensors, scheduler_config.json), time
`ddpm_core.convert.convert` on it, load the checkpoint, and time one forward pass with
`convert.forward_seconds` (median of --repeats after a warm-up) beside diffusers' own forward on the same
input, printing their largest difference.

    .venv/bin/pip install -r bench/requirements-bench.txt     # diffusers, for the bench scripts only
    .venv/bin/python bench/bench_convert.py [--batch 16] [--batch-256 1] [--repeats 3] [--skip-256] [--threads 1]

About 2 min on 2 CPU cores, most of it the 256² forward passes (one image takes 10–25 s there).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import CACHE, machine  # importing common puts the repo on sys.path

import torch

from ddpm_core import convert as conv
from ddpm_core.checkpoints import load_checkpoint

RELEASE = dict(in_channels=3, out_channels=3, layers_per_block=2, norm_num_groups=32, norm_eps=1e-6,
               attention_head_dim=None, flip_sin_to_cos=False, freq_shift=1, downsample_padding=0)
LAYOUTS = {  # label → (a release's folder name, its UNet2DModel config)
    "CIFAR-10 32²": ("ddpm-cifar10-32", dict(
        RELEASE, sample_size=32, block_out_channels=(128, 256, 256, 256),
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"))),
    "256² (CelebA-HQ, LSUN)": ("ddpm-ema-church-256", dict(
        RELEASE, sample_size=256, block_out_channels=(128, 128, 256, 256, 512, 512),
        down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4)),
}
SCHEDULER = {"_class_name": "DDPMScheduler", "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "linear",
             "num_train_timesteps": 1000, "variance_type": "fixed_small", "clip_sample": True}


def diffusers_forward_seconds(net, x: torch.Tensor, t: torch.Tensor, repeats: int) -> tuple[float, torch.Tensor]:
    times, out = [], None
    with torch.inference_mode():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            out = net(x, t).sample
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:]), out


def measure(name: str, release: str, config: dict, folder: Path, batch: int, repeats: int) -> dict:
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    net = UNet2DModel(**config).eval()
    source = folder / release  # named as the release, so the data set is guessed as for the real files
    net.save_pretrained(source)
    (source / conv.SCHEDULER_NAME).write_text(json.dumps(SCHEDULER))
    result = conv.convert(source, folder / "converted.safetensors")
    start = time.perf_counter()
    checkpoint = load_checkpoint(result.path)
    load_s = time.perf_counter() - start
    ours_s = conv.forward_seconds(checkpoint, batch, repeats)
    x = torch.randn(batch, 3, config["sample_size"], config["sample_size"], generator=torch.Generator().manual_seed(1))
    t = torch.full((batch,), 500)
    theirs_s, reference = diffusers_forward_seconds(net, x, t, repeats)
    with torch.inference_mode():
        difference = (checkpoint.model(x, t) - reference).abs().max().item()
    return {"name": name, "parameters": result.parameters, "megabytes": result.bytes / 1e6, "convert_s": result.seconds,
            "load_s": load_s, "batch": batch, "ours_s": ours_s, "theirs_s": theirs_s, "difference": difference,
            "dataset": result.dataset.get("title", "?")}


def report(row: dict) -> None:
    per_image = row["ours_s"] / row["batch"]
    print(f"{row['name']}: {row['parameters']:,} parameters, {row['megabytes']:.1f} MB checkpoint "
          f"(one set of float32 weights), data set guessed: {row['dataset']}")
    print(f"  convert {row['convert_s']:.1f} s (read, map, sha256, atomic write), load {row['load_s']:.1f} s")
    print(f"  one forward pass of {row['batch']}: ours {row['ours_s']:.3f} s, diffusers {row['theirs_s']:.3f} s "
          f"(ours at {row['theirs_s'] / row['ours_s']:.2f}× diffusers' speed); "
          f"max |difference| {row['difference']:.1e}")
    jobs = [("16 images, DDPM 1,000 steps", 16 * 1000), ("16 images, DDIM 50 steps", 16 * 50),
            ("bits/dim of 100 images (T = 1,000 terms each)", 100 * 1000)]
    if row["name"].startswith("CIFAR"):
        jobs.append(("bits/dim of the 10,000 CIFAR-10 test images (the paper's 3.75)", 10_000 * 1000))
    for label, evaluations in jobs:
        estimate = conv.CostEstimate(row["ours_s"], row["batch"], evaluations)
        print(f"  {label}: about {estimate.seconds / 3600:,.1f} h ({estimate.seconds / 60:,.0f} min)")
    print(f"  ({per_image:.3f} s per image and step)")
    print()


def main() -> None:
    import diffusers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="forward batch for the 32² model (default 16)")
    parser.add_argument("--batch-256", type=int, default=1, help="forward batch for the 256² model (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed forward passes after the warm-up (default 3)")
    parser.add_argument("--skip-256", action="store_true", help="only the CIFAR-10 layout")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, the core count)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print("machine:", machine())
    print(f"diffusers {diffusers.__version__}; random weights in the releases' layouts; fp32 on the CPU\n")
    start = time.perf_counter()
    for index, (name, (release, config)) in enumerate(LAYOUTS.items()):
        if index and args.skip_256:
            break
        with tempfile.TemporaryDirectory(prefix="ddpm-bench-convert-") as folder:
            batch = args.batch if index == 0 else args.batch_256
            report(measure(name, release, config, Path(folder), batch, args.repeats if index == 0 else 1))
    print(f"total {time.perf_counter() - start:.0f} s")
    print("machine:", machine())
    shutil.rmtree(CACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
