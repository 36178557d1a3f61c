"""Fit against network evaluations: DDPM, DDIM, the probability-flow ODE (Euler, Heun) and flow matching in the 2-D lab.

For two moons and the swiss roll, and several seeds: train the lab's MLP as an ε-network (L_simple) and, for the
same time, as a flow-matching velocity; sample N points with each sampler at each budget of network evaluations
(NFE), and print the sliced Wasserstein distance to N fresh data points divided by the noise floor (the same
distance between two independent samples of the data), median over the seeds. Heun's steps cost 2 evaluations
(the ε-ODE's last step 1), so its NFE is the largest that fits the budget. Goal: some sampler within 2× of the
floor at ≤ 20 evaluations.

    .venv/bin/python bench/bench_flow.py [--budget 20] [--seeds 3] [--n 1000] [--nfe 5 10 20 50 100]
                                         [--reference 1000] [--shapes two_moons swiss_roll] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import torch

from common import machine  # noqa: E402, F401  (puts the repo on sys.path)
from ddpm_core.config import DiffusionConfig  # noqa: E402
from ddpm_core.data2d import sample_2d  # noqa: E402
from ddpm_core.distances import sliced_wasserstein  # noqa: E402
from ddpm_core.lab2d import (Train2DConfig, fit_against_evaluations, paths_2d, sampler_frames_2d,  # noqa: E402
                             steps_within, straightness, train_2d, train_flow_2d)
from ddpm_core.mlp import DenoiserMLP  # noqa: E402

DIFFUSION = DiffusionConfig(rescale=True)  # the lab's default: linear, T = 1000
SAMPLERS = ("ddpm", "ddim", "euler", "heun", "flow_euler", "flow_heun")
LABELS = {"ddpm": "DDPM (Alg. 2)", "ddim": "DDIM η = 0", "euler": "ε-ODE Euler", "heun": "ε-ODE Heun",
          "flow_euler": "flow Euler", "flow_heun": "flow Heun"}


def steps_per_second(train, probe_steps: int = 150) -> float:
    """Training steps a second of `train(steps)` on this machine now."""
    start = time.perf_counter()
    for _ in train(probe_steps):
        pass
    return probe_steps / (time.perf_counter() - start)


def trainers(data: torch.Tensor, seed: int):
    diffusion = DIFFUSION.build()
    config = lambda steps: replace(Train2DConfig(), steps=steps, seed=seed)  # noqa: E731
    return {"eps": lambda steps: train_2d(DenoiserMLP(), diffusion, data, config(steps)),
            "flow": lambda steps: train_flow_2d(DenoiserMLP(), data, config(steps))}


def run(shape: str, seed: int, steps: dict[str, int], n: int, budgets: tuple[int, ...], reference: tuple[int, ...]):
    """One seed: both networks trained, every sampler at every budget; returns (rows, facts)."""
    torch.manual_seed(seed)
    data = sample_2d(shape, 20_000, seed=1000 + seed)
    models, facts = {}, {}
    for kind, train in trainers(data, seed).items():
        start = time.perf_counter()
        *_, last = train(steps[kind])
        models[kind], facts[f"{kind}_train_s"] = last.model, time.perf_counter() - start
    real, other = sample_2d(shape, n, seed=2000 + seed), sample_2d(shape, n, seed=3000 + seed)
    floor = sliced_wasserstein(other, real)
    diffusion = DIFFUSION.build()
    start = time.perf_counter()
    points = list(fit_against_evaluations(real, eps_model=models["eps"], diffusion=diffusion, flow_model=models["flow"],
                                          samplers=SAMPLERS, budgets=budgets, seed=seed))
    points += list(fit_against_evaluations(real, eps_model=models["eps"], diffusion=diffusion,
                                           samplers=("ddpm", "ddim"), budgets=reference, seed=seed))
    facts["sample_s"], facts["floor"] = time.perf_counter() - start, floor
    for sampler in SAMPLERS:  # points flung far out (the data, of unit scale, has none beyond radius 5), at 20 NFE
        model = models["flow" if sampler.startswith("flow_") else "eps"]
        *_, last = sampler_frames_2d(model, n, sampler=sampler, steps=steps_within(sampler, 20), seed=seed,
                                     diffusion=diffusion)
        facts[f"far_{sampler}"] = float((last.x.norm(dim=1) > 5).float().mean())
    for sampler, kind in (("heun", "eps"), ("flow_heun", "flow")):  # how straight the paths are (100 evaluations)
        paths = paths_2d(models[kind], 500, sampler=sampler, steps=50, seed=seed, diffusion=diffusion)
        facts[f"straight_{sampler}"] = straightness(paths)
    return {(p.sampler, p.budget): (p.nfe, p.swd / floor) for p in points}, facts


def print_table(shape: str, per_seed: list[dict], facts: list[dict], budgets, reference, goal_nfe: int = 20) -> None:
    columns = list(budgets) + list(reference)
    median = lambda key: statistics.median(f[key] for f in facts)  # noqa: E731
    print(f"\n{shape}: SWD / noise floor, median of {len(per_seed)} seeds (floor {median('floor'):.4f}); "
          f"ε-net {median('eps_train_s'):.1f} s, flow net {median('flow_train_s'):.1f} s of training; "
          f"sampling all cells {median('sample_s'):.0f} s")
    print(f"{'NFE budget →':<16}" + "".join(f"{b:>12}" for b in columns) + f"{'|x| > 5 @20':>13}")
    best = None
    for sampler in SAMPLERS:
        cells = []
        for budget in columns:
            values = [rows[(sampler, budget)] for rows in per_seed if (sampler, budget) in rows]
            if not values:
                cells.append(f"{'—':>12}")
                continue
            nfe, ratio = values[0][0], statistics.median(v[1] for v in values)
            cells.append(f"{ratio:>8.2f} ({nfe})" if nfe != budget else f"{ratio:>12.2f}")
            if nfe <= goal_nfe and (best is None or ratio < best[0]):
                best = (ratio, sampler, nfe)
        print(f"{LABELS[sampler]:<16}" + "".join(cells) + f"{median(f'far_{sampler}'):>12.2%}")
    print(f"(a cell's NFE in brackets where it is below the budget)  straightness S of the paths (Liu et al. "
          f"2023; 0 = straight at constant speed), Heun with 50 steps: ε-ODE {median('straight_heun'):.2f}, "
          f"flow {median('straight_flow_heun'):.2f}")
    ratio, sampler, nfe = best
    print(f"best at ≤ {goal_nfe} NFE: {LABELS[sampler]} at {nfe} NFE, {ratio:.2f}× the floor → "
          f"{'PASS' if ratio <= 2 else 'MISS'} (goal ≤ 2×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of training for each network")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n", type=int, default=1000, help="points generated and compared per cell")
    parser.add_argument("--nfe", type=int, nargs="+", default=[5, 10, 20, 50, 100], help="NFE budgets, every sampler")
    parser.add_argument("--reference", type=int, nargs="*", default=[1000], help="NFE budgets for DDPM and DDIM only")
    parser.add_argument("--shapes", nargs="+", default=["two_moons", "swiss_roll"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest for this small MLP)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("machine:", machine())
    data = sample_2d("two_moons", 20_000, seed=0)
    steps = {kind: int(steps_per_second(train) * args.budget * 0.95) for kind, train in trainers(data, 0).items()}
    print(f"training speed → steps in {args.budget:.0f} s: ε-network {steps['eps']}, flow matching {steps['flow']} "
          f"(batch {Train2DConfig.batch_size}; the lab's default is {Train2DConfig.steps} steps)")
    start = time.perf_counter()
    for shape in args.shapes:
        per_seed, facts = [], []
        for seed in range(args.seeds):
            rows, fact = run(shape, seed, steps, args.n, tuple(args.nfe), tuple(args.reference))
            per_seed.append(rows)
            facts.append(fact)
        print_table(shape, per_seed, facts, args.nfe, args.reference)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\ntotal {time.perf_counter() - start:.0f} s; load average now {load}")


if __name__ == "__main__":
    main()
