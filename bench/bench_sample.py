"""Sampling speed: the sampler's overhead beside the network, and images/s against diffusers' schedulers.

Times the app's real sampling path, `SamplingRun(checkpoint, config).frames()` iterated to the end (what
the UI and the CLI run), with the tiny U-Net preset at 32×32 RGB (random weights), batch 64, fp32 on
the CPU, beside the canonical diffusers loop driving the same network:

    for t in scheduler.timesteps: x = scheduler.step(net(x, t), t, x, generator=g).prev_sample

with DDPMScheduler / DDIMScheduler configured to the same math (linear β 1e-4 → 0.02, T = 1000,
σ² = β ("fixed_large"), x̂_0 clipped, ε-prediction, linspace timesteps, η = 0 for DDIM).

1. Sampler overhead, the share of the loop's wall time spent outside the network (goal ≤ 1 %), two ways:
   forward hooks time every forward call (Σ forward vs the loop), and the same number of bare forward
   passes timed on their own (bare vs the loop). DDPM respaced to 100 steps, DDIM 50 steps, and the
   full --ddpm-steps DDPM (hooks only; --full adds its bare passes).
2. Images/s for --ddpm-steps DDPM and 50-step DDIM, ours and diffusers interleaved in the same run
   (medians), and the ratio ours / diffusers (goal ≥ 1.0× on the CPU).
3. Agreement: the final images of ours and diffusers from the same x_T (and, for DDPM, the same noise).
4. CUDA, where present: the same on the GPU, ours in fp32 and "auto" (bf16 autocast, channels_last).

    .venv/bin/pip install -r bench/requirements-bench.txt     # diffusers, for the bench scripts only
    .venv/bin/python bench/bench_sample.py [--quick] [--full] [--ddpm-steps 1000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import CACHE, ROOT, machine  # noqa: F401  (puts the repo on sys.path)

import torch  # noqa: E402

from ddpm_core.checkpoints import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from ddpm_core.config import DiffusionConfig  # noqa: E402
from ddpm_core.sample import SampleConfig, SamplingRun, fast_model  # noqa: E402
from ddpm_core.samplers import sampling_timesteps  # noqa: E402
from ddpm_core.unet import UNet, preset  # noqa: E402

T = 1000
SHAPE = (3, 32, 32)
SEED = 0
GOAL_OVERHEAD, GOAL_RATIO = 0.01, 1.0


# ---- the network and its clock -----------------------------------------------------------------------

def make_checkpoint(folder: Path) -> Path:
    """A tiny U-Net checkpoint (paper diffusion). Its zero-initialised convs get random weights, so ε̂ ≠ 0."""
    torch.manual_seed(SEED)
    net = UNet(preset("tiny", SHAPE[1], SHAPE[0])).eval()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d) and not module.weight.any():
            module.reset_parameters()
    return save_checkpoint(folder / "tiny.safetensors", net, net, diffusion=DiffusionConfig())


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class ForwardClock:
    """Σ wall time inside a module's forward calls, from forward pre- and post-hooks (synchronised on CUDA).

    Whatever the sampler does around the call (the hook dispatch included) counts as outside.
    """

    def __init__(self, module: torch.nn.Module, device: str):
        self.device, self.total, self.calls, self._start = device, 0.0, 0, 0.0
        self._handles = [module.register_forward_pre_hook(self._pre), module.register_forward_hook(self._post)]

    def _pre(self, _module, _args) -> None:
        sync(self.device)
        self._start = time.perf_counter()

    def _post(self, _module, _args, _output) -> None:
        sync(self.device)
        self.total += time.perf_counter() - self._start
        self.calls += 1

    def reset(self) -> None:
        self.total, self.calls = 0.0, 0

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


@dataclass
class Timing:
    """One timed loop: its wall time, Σ of its forward calls (nan if not clocked), and its final images."""

    loop_s: float
    forward_s: float = float("nan")
    calls: int = 0
    final: torch.Tensor | None = None

    @property
    def overhead(self) -> float:
        return (self.loop_s - self.forward_s) / self.loop_s


def _clocked(clock: ForwardClock | None, device: str, body: Callable[[], torch.Tensor]) -> Timing:
    """Run `body` between synchronised clock readings, with the forward clock (if any) reset first."""
    if clock is not None:
        clock.reset()
    sync(device)
    start = time.perf_counter()
    final = body()
    sync(device)
    loop_s = time.perf_counter() - start
    if clock is None:
        return Timing(loop_s, final=final)
    return Timing(loop_s, clock.total, clock.calls, final)


# ---- the three loops: ours, diffusers', bare forward passes --------------------------------------------

def run_ours(checkpoint: Checkpoint, config: SampleConfig, clock: ForwardClock | None) -> Timing:
    """`SamplingRun(checkpoint, config).frames()` iterated to the end (its construction is not timed)."""
    run = SamplingRun(checkpoint, config)

    def body() -> torch.Tensor:
        frame = None
        for frame in run.frames():
            pass
        return frame.step.prev_sample
    return _clocked(clock, run.device.type, body)


def schedulers(steps: int, ddim: bool):
    """diffusers' scheduler with our math: linear β, T = 1000, σ² = β, clipped x̂_0, linspace timesteps."""
    from diffusers import DDIMScheduler, DDPMScheduler

    common = dict(num_train_timesteps=T, beta_schedule="linear", beta_start=1e-4, beta_end=0.02,
                  clip_sample=True, prediction_type="epsilon", timestep_spacing="linspace")
    if ddim:
        scheduler = DDIMScheduler(set_alpha_to_one=True, **common)
    else:
        scheduler = DDPMScheduler(variance_type="fixed_large", **common)
    scheduler.set_timesteps(steps)
    return scheduler


def run_diffusers(net: torch.nn.Module, steps: int, ddim: bool, n: int, device: str,
                  clock: ForwardClock | None) -> Timing:
    """The canonical diffusers loop over `net`, x_T (and the noise) drawn from the same seed as ours."""
    scheduler, extra = schedulers(steps, ddim), ({"eta": 0.0} if ddim else {})

    def body() -> torch.Tensor:
        generator = torch.Generator(device).manual_seed(SEED)
        with torch.inference_mode():
            x = torch.randn((n, *SHAPE), generator=generator, device=device)
            for t in scheduler.timesteps:
                eps = net(x, torch.full((n,), int(t), device=device))
                x = scheduler.step(eps, t, x, generator=generator, **extra).prev_sample
        return x
    return _clocked(clock, device, body)


def run_bare(model: Callable, steps: int, n: int, device: str) -> Timing:
    """`steps` forward passes of the callable the sampler calls, on the same shapes and timesteps, alone."""
    timesteps = sampling_timesteps(T, steps).flip(0).tolist()

    def body() -> torch.Tensor:
        x = torch.randn((n, *SHAPE), device=device)
        with torch.inference_mode():
            for t in timesteps:
                out = model(x, torch.full((n,), t, device=device))
        return out
    timing = _clocked(None, device, body)
    return Timing(timing.loop_s, timing.loop_s, steps)


Jobs = dict[tuple[str, str], Callable[[], Timing]]  # (group such as "DDIM 50", loop such as "ours fp32") → job
Results = dict[tuple[str, str], list[Timing]]


def interleaved(jobs: Jobs, repeats: int) -> Results:
    """Every job once per repeat, the order reversed on every other repeat so that drift hits all alike."""
    results: Results = {key: [] for key in jobs}
    for repeat in range(repeats):
        order = list(jobs) if repeat % 2 == 0 else list(jobs)[::-1]
        for key in order:
            timing = jobs[key]()
            results[key].append(timing)
            print(f"  [{repeat + 1}/{repeats}] {key[1]}, {key[0]}: {timing.loop_s:.2f} s", file=sys.stderr, flush=True)
    return results


# ---- one device's loops ------------------------------------------------------------------------------

@dataclass
class Setup:
    """What every job on one device shares."""

    device: str
    n: int
    checkpoint: Checkpoint  # ours; SamplingRun places its network (channels_last on CUDA) in place
    reference: torch.nn.Module  # diffusers' network: the same weights, fp32, default memory format
    clock: ForwardClock | None  # on ours' network
    reference_clock: ForwardClock | None


def make_setup(path: Path, device: str, n: int, clocked: bool) -> Setup:
    checkpoint = load_checkpoint(path)
    # On the CPU both loops drive the very same module; on CUDA fast_model makes ours channels_last in place.
    reference = checkpoint.model if device == "cpu" else load_checkpoint(path).model.to(device).eval()
    clock = ForwardClock(checkpoint.model, device) if clocked else None
    if reference is checkpoint.model or not clocked:
        return Setup(device, n, checkpoint, reference, clock, clock)
    return Setup(device, n, checkpoint, reference, clock, ForwardClock(reference, device))


def group_name(sampler: str, steps: int) -> str:
    return f"{sampler.upper()} {steps}"


def jobs_for(s: Setup, sampler: str, steps: int, precisions: tuple[str, ...] = ("fp32",),
             bare: bool = False) -> Jobs:
    """Ours (per precision), diffusers, and optionally bare forward passes, for one sampler and step count."""
    group, ddim, jobs = group_name(sampler, steps), sampler == "ddim", {}
    for precision in precisions:
        config = SampleConfig(n=s.n, sampler=sampler, steps=None if steps == T else steps, seed=SEED,
                              device=s.device, precision=precision)
        jobs[group, f"ours {precision}"] = lambda c=config: run_ours(s.checkpoint, c, s.clock)
        if bare:
            model = fast_model(s.checkpoint.model, torch.device(s.device), precision)
            jobs[group, f"bare {precision}"] = lambda m=model: run_bare(m, steps, s.n, s.device)
    jobs[group, "diffusers fp32"] = lambda: run_diffusers(s.reference, steps, ddim, s.n, s.device,
                                                           s.reference_clock)
    return jobs


def warm_up(s: Setup, precisions: tuple[str, ...]) -> None:
    """Two steps of every loop, so first-call allocations and lazy imports stay out of the figures."""
    for sampler in ("ddpm", "ddim"):
        for job in jobs_for(s, sampler, 2, precisions, bare=True).values():
            job()


# ---- reports --------------------------------------------------------------------------------------------

def median(values) -> float:
    values = [v for v in values if v == v]  # drop nan
    return statistics.median(values) if values else float("nan")


def bare_overhead(results: Results, group: str, loop: str) -> float:
    """(loop − bare) / loop, paired repeat by repeat with the bare passes of the same precision; median."""
    bare = results.get((group, "bare " + loop.split()[-1]))
    if not bare:
        return float("nan")
    return median((o.loop_s - b.loop_s) / o.loop_s for o, b in zip(results[group, loop], bare))


def print_overhead(results: Results, groups: list[str], loops: list[str]) -> None:
    print(f"{'loop':<17}{'steps':>6}{'loop s':>9}{'Σ fwd s':>9}{'outside ms/step':>17}"
          f"{'overhead (hooks)':>18}{'overhead (bare)':>17}{'':>3}goal ≤ {GOAL_OVERHEAD:.0%}")
    for group in groups:
        for loop in loops:
            timings = results.get((group, loop))
            if not timings:
                continue
            steps = timings[0].calls
            hooks, bare = median(t.overhead for t in timings), bare_overhead(results, group, loop)
            outside = median((t.loop_s - t.forward_s) / max(t.calls, 1) * 1e3 for t in timings)
            verdict = "" if hooks != hooks else ("PASS" if hooks <= GOAL_OVERHEAD else "MISS")
            print(f"{loop + ' ' + group.split()[0]:<17}{group.split()[1]:>6}{median(t.loop_s for t in timings):>9.2f}"
                  f"{median(t.forward_s for t in timings):>9.2f}{outside:>17.2f}{pct(hooks):>18}{pct(bare):>17}"
                  f"{'':>3}{verdict}")
    print()


def pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.2f} %"


def print_speed(results: Results, groups: list[str], ours: list[str], n: int) -> None:
    print(f"{'run':<10}{'steps':>6}{'loop':<16}{'img/s':>9}{'s/run':>9}{'ours/diffusers':>16}{'':>3}"
          f"goal ≥ {GOAL_RATIO:.1f}×")
    for group in groups:
        reference = n / median(t.loop_s for t in results[group, "diffusers fp32"])
        for loop in ours + ["diffusers fp32"]:
            rate = n / median(t.loop_s for t in results[group, loop])
            ratio = rate / reference
            ratio_text, verdict = ("", "") if loop.startswith("diffusers") else (
                f"{ratio:.3f}×", "PASS" if ratio >= GOAL_RATIO else "MISS")
            sampler, steps = group.split()
            print(f"{sampler:<10}{steps:>6}  {loop:<14}{rate:>9.3f}{n / rate:>9.2f}{ratio_text:>16}{'':>3}{verdict}")
    print()
