"""2-D lab: how close does the MLP get to the data after at most 30 s of CPU training?

For two moons and the swiss roll: measure this machine's training speed, choose the number of steps
that fits the time budget (the cosine learning-rate decay needs the count up front), train with the
lab's defaults, sample 2,000 points with Algorithm 2, and print the sliced Wasserstein distance to
2,000 fresh data points beside the noise floor (the same distance between two independent samples of
the data), over several seeds. Goal: ratio ≤ 2 after ≤ 30 s of training.

    .venv/bin/python bench/bench_lab2d.py [--budget 30] [--seeds 3] [--shapes two_moons swiss_roll]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from common import machine  # noqa: E402, F401  (puts the repo on sys.path)
from ddpm_core.config import DiffusionConfig  # noqa: E402
from ddpm_core.data2d import sample_2d  # noqa: E402
from ddpm_core.distances import energy_distance, sliced_wasserstein  # noqa: E402
from ddpm_core.lab2d import Train2DConfig, reverse_2d, train_2d  # noqa: E402
from ddpm_core.mlp import DenoiserMLP  # noqa: E402

DIFFUSION = DiffusionConfig(rescale=True)  # the lab's default: linear, T = 1000
N = 2000


def steps_per_second(data: torch.Tensor, probe_steps: int = 300) -> float:
    diffusion = DIFFUSION.build()
    start = time.perf_counter()
    for _ in train_2d(DenoiserMLP(), diffusion, data, replace(Train2DConfig(), steps=probe_steps)):
        pass
    return probe_steps / (time.perf_counter() - start)


def run(shape: str, steps: int, seed: int) -> dict:
    torch.manual_seed(seed)
    diffusion = DIFFUSION.build()
    data = sample_2d(shape, 20_000, seed=1000 + seed)
    start = time.perf_counter()
    *_, last = train_2d(DenoiserMLP(), diffusion, data, replace(Train2DConfig(), steps=steps, seed=seed))
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    *_, (_, generated) = reverse_2d(last.model, diffusion, N, seed=seed, every=10**9)
    sample_s = time.perf_counter() - start
    real, other = sample_2d(shape, N, seed=2000 + seed), sample_2d(shape, N, seed=3000 + seed)
    swd, floor = sliced_wasserstein(generated, real), sliced_wasserstein(other, real)
    return {"train_s": train_s, "sample_s": sample_s, "swd": swd, "floor": floor, "ratio": swd / floor,
            "energy_ratio": energy_distance(generated, real) / energy_distance(other, real)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds of training")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--shapes", nargs="+", default=["two_moons", "swiss_roll"])
    args = parser.parse_args()
    print("machine:", machine())
    rate = steps_per_second(sample_2d("two_moons", 20_000, seed=0))
    steps = int(rate * args.budget * 0.95)  # 5 % margin for the speed measurement's noise
    print(f"training speed {rate:.0f} steps/s (batch {Train2DConfig.batch_size}) → {steps} steps in "
          f"{args.budget:.0f} s; lab default is {Train2DConfig.steps} steps")
    print(f"{'shape':<12} {'seed':>4} {'train s':>8} {'sample s':>9} {'SWD':>8} {'floor':>8} {'ratio':>6} {'energy×':>8}")
    for shape in args.shapes:
        ratios = []
        for seed in range(args.seeds):
            r = run(shape, steps, seed)
            ratios.append(r["ratio"])
            print(f"{shape:<12} {seed:>4} {r['train_s']:>8.1f} {r['sample_s']:>9.1f} {r['swd']:>8.4f} "
                  f"{r['floor']:>8.4f} {r['ratio']:>6.2f} {r['energy_ratio']:>8.2f}")
        median = statistics.median(ratios)
        print(f"{shape:<12} median SWD ratio {median:.2f} → {'PASS' if median <= 2 else 'MISS'} (goal ≤ 2)")


if __name__ == "__main__":
    main()
