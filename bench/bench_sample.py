"""Sampling speed: the sampler's overhead beside the network, and images/s against diffusers' schedulers.

Times the app's real sampling path, `SamplingRun(checkpoint, config).frames()` iterated to the end (what
the UI and the CLI run), with the tiny U-Net preset at 32×32 RGB (random weights), batch 64, fp32 on
the CPU, beside the canonical diffusers loop driving the same network:

    for t in scheduler.timesteps: x = scheduler.step(net(x, t), t, x, generator=g).prev_sample

with DDPMScheduler / DDIMScheduler configured to the same math (linear β 1e-4 → 0.02, T = 1000,
σ² = β ("fixed_large"), x̂_0 clipped, ε-prediction, linspace timesteps, η = 0 for DDIM).

1. Sampler overhead, the share of the loop's wall time spent outside the network (goal ≤ 1 %), two ways:
   forward hooks time every forward call (Σ forward vs the loop), and the same number of bare forward
   passes timed on their own (bare vs the loop). DDPM respaced to 50 steps, DDIM 50 steps, and the
   full --ddpm-steps DDPM (hooks only; --full adds its bare passes).
2. Images/s for --ddpm-steps DDPM and 50-step DDIM, ours and diffusers interleaved in the same run
   (medians), and the ratio ours / diffusers (goal ≥ 1.0× on the CPU).
3. Agreement: the final images of ours and diffusers from the same x_T (and, for DDPM, the same noise).
4. CUDA, where present: the same on the GPU, ours in fp32 and "auto" (bf16 autocast, channels_last).

    .venv/bin/pip install -r bench/requirements-bench.txt     # diffusers, for the bench scripts only
    .venv/bin/python bench/bench_sample.py [--quick] [--full] [--ddpm-steps 1000] [--repeats 1]

About 6–8 min on 2 CPU cores (one 1000-step run of batch 64 takes 2–3 min there); --quick about 1 min.
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

from common import CACHE, machine  # importing common puts the repo on sys.path

import torch

from ddpm_core.checkpoints import Checkpoint, load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.sample import SampleConfig, SamplingRun, fast_model
from ddpm_core.samplers import sampling_timesteps
from ddpm_core.unet import UNet, preset

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


# Ours (like guided-diffusion) re-derives ε̂ from the clipped x̂_0 before the DDIM update; diffusers does so
# only with use_clipped_model_output=True. With False, a random network's images differ by up to 2.
DDIM_STEP = {"eta": 0.0, "use_clipped_model_output": True}


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
    scheduler, extra = schedulers(steps, ddim), (DDIM_STEP if ddim else {})

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
             bare: bool = False, diffusers: bool = True) -> Jobs:
    """Ours (per precision), diffusers and/or bare forward passes, for one sampler and step count."""
    group, ddim, jobs = group_name(sampler, steps), sampler == "ddim", {}
    for precision in precisions:
        config = SampleConfig(n=s.n, sampler=sampler, steps=None if steps == T else steps, seed=SEED,
                              device=s.device, precision=precision)
        jobs[group, f"ours {precision}"] = lambda c=config: run_ours(s.checkpoint, c, s.clock)
        if bare:
            model = fast_model(s.checkpoint.model, torch.device(s.device), precision)
            jobs[group, f"bare {precision}"] = lambda m=model: run_bare(m, steps, s.n, s.device)
    if diffusers:
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
    print(f"{'loop':<22}{'steps':>6}{'loop s':>9}{'Σ fwd s':>9}{'outside ms/step':>17}"
          f"{'overhead (hooks)':>18}{'(bare)':>10}{'':>3}goal ≤ {GOAL_OVERHEAD:.0%}")
    for group in groups:
        sampler, steps = group.split()
        for loop in loops:
            timings = results.get((group, loop))
            if not timings:
                continue
            hooks, bare = median(t.overhead for t in timings), bare_overhead(results, group, loop)
            outside = median((t.loop_s - t.forward_s) / max(t.calls, 1) * 1e3 for t in timings)
            verdict = "" if hooks != hooks or not loop.startswith("ours") else (
                "PASS" if hooks <= GOAL_OVERHEAD else "MISS")
            print(f"{loop + ' ' + sampler:<22}{steps:>6}{median(t.loop_s for t in timings):>9.2f}"
                  f"{median(t.forward_s for t in timings):>9.2f}{outside:>17.2f}{pct(hooks):>18}{pct(bare):>10}"
                  f"{'':>3}{verdict}")
    print()


def pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.2f} %"


def per_step(timings: list[Timing]) -> tuple[float, float]:
    """Median forward and outside-forward seconds per step (nan without hooks)."""
    return (median(t.forward_s / t.calls for t in timings if t.calls),
            median((t.loop_s - t.forward_s) / t.calls for t in timings if t.calls))


def print_speed(results: Results, groups: list[str], ours: list[str], n: int) -> None:
    """img/s from median loop times; 'at equal fwd' puts each loop's own outside time on the forward time
    of all runs (Σ fwd from the hooks), which a shared machine's load disturbs far less than the wall times."""
    print(f"{'run':<10}{'steps':>6}  {'loop':<14}{'img/s':>9}{'s/run':>9}{'ours/diffusers':>16}{'at equal fwd':>14}"
          f"{'':>3}goal ≥ {GOAL_RATIO:.1f}×")
    for group in groups:
        theirs = results[group, "diffusers fp32"]
        reference = n / median(t.loop_s for t in theirs)
        for loop in ours + ["diffusers fp32"]:
            rate = n / median(t.loop_s for t in results[group, loop])
            text, equal, verdict = "", "", ""
            if not loop.startswith("diffusers"):
                forward = per_step([*results[group, loop], *theirs])[0]
                equal_ratio = (forward + per_step(theirs)[1]) / (forward + per_step(results[group, loop])[1])
                text, verdict = f"{rate / reference:.3f}×", "PASS" if rate / reference >= GOAL_RATIO else "MISS"
                equal = "n/a" if equal_ratio != equal_ratio else f"{equal_ratio:.4f}×"
            sampler, steps = group.split()
            print(f"{sampler:<10}{steps:>6}  {loop:<14}{rate:>9.3f}{n / rate:>9.2f}{text:>16}{equal:>14}"
                  f"{'':>3}{verdict}")
    print()


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float().cpu() - b.float().cpu()).abs().max().item()


def stride_count(gap: int) -> int | None:
    """A num_inference_steps k for which diffusers' DDIM stride T // k equals `gap`, if there is one."""
    return next((k for k in range(1, T + 1) if T // k == gap), None)


def ddim_on_our_steps(net: torch.nn.Module, steps: int, n: int, device: str) -> torch.Tensor | None:
    """diffusers' DDIM on exactly our timesteps and predecessors, its fixed stride set step by step."""
    scheduler = schedulers(steps, ddim=True)
    timesteps = sampling_timesteps(T, steps).flip(0).tolist()
    counts = [stride_count(t - t_prev) for t, t_prev in zip(timesteps, timesteps[1:] + [-1])]
    if None in counts:
        return None
    generator = torch.Generator(device).manual_seed(SEED)
    with torch.inference_mode():
        x = torch.randn((n, *SHAPE), generator=generator, device=device)
        for t, count in zip(timesteps, counts):
            scheduler.num_inference_steps = count  # step() takes prev = t − T // num_inference_steps
            eps = net(x, torch.full((n,), t, device=device))
            x = scheduler.step(eps, t, x, **DDIM_STEP).prev_sample
    return x


def print_agreement(results: Results, groups: list[str], s: Setup, ddim_steps: int) -> None:
    """Max |ours − diffusers| of the final images from the same x_T (DDPM: the same noise draws too)."""
    print("agreement of the final images, max |ours − diffusers| (images in [−1, 1]):")
    for group in groups:
        for loop in [k[1] for k in results if k[0] == group and k[1].startswith("ours")]:
            ours = results[group, loop]
            print(f"  {group:<10} {loop:<10} {max_diff(ours[0].final, results[group, 'diffusers fp32'][0].final):.2e}"
                  f"   (ours run to run: {max_diff(ours[0].final, ours[-1].final):.1e})")
    timesteps = sampling_timesteps(T, ddim_steps).tolist()
    gaps = [b - a for a, b in zip(timesteps, timesteps[1:])]
    odd = sum(gap != T // ddim_steps for gap in gaps)
    print(f"  DDIM {ddim_steps}: both visit linspace(0, {T - 1}, {ddim_steps}).round(), but diffusers' "
          f"DDIMScheduler.step takes its predecessor as t − {T}//{ddim_steps} = t − {T // ddim_steps}, where {odd} of "
          f"our {len(gaps)} gaps differ (diffusers issue #12633),")
    matched = ddim_on_our_steps(s.reference, ddim_steps, s.n, s.device)
    ours = results[group_name("ddim", ddim_steps), "ours fp32"][0].final
    text = "n/a (no k gives T // k = every gap)" if matched is None else f"{max_diff(ours, matched):.2e}"
    print(f"  so the difference above is diffusers' stride; with its num_inference_steps set per step so that "
          f"the stride is our gap, ours fp32 vs diffusers: {text}")
    print()


# ---- the sections ----------------------------------------------------------------------------------------

def merge(results: Results, more: Results) -> Results:
    for key, timings in more.items():
        results.setdefault(key, []).extend(timings)
    return results


def cpu_section(path: Path, args) -> None:
    s = make_setup(path, "cpu", args.batch, clocked=True)
    warm_up(s, ("fp32",))
    respaced, ddim, full = (group_name("ddpm", args.respaced_steps), group_name("ddim", args.ddim_steps),
                            group_name("ddpm", args.ddpm_steps))
    short = {**jobs_for(s, "ddpm", args.respaced_steps, bare=True, diffusers=False),
             **jobs_for(s, "ddim", args.ddim_steps, bare=True)}
    results = interleaved(short, args.short_repeats)
    merge(results, interleaved(jobs_for(s, "ddpm", args.ddpm_steps, bare=args.full), args.repeats))
    print(f"CPU, fp32, {torch.get_num_threads()} threads, batch {args.batch}, {SHAPE[1]}×{SHAPE[2]} RGB; medians over "
          f"{args.short_repeats} interleaved repeats ({args.repeats} for {full})\n")
    print("sampler overhead: share of the loop's wall time outside the network's forward calls")
    print_overhead(results, [respaced, ddim, full], ["ours fp32", "diffusers fp32"])
    print("images per second: ours = SamplingRun(...).frames() to the end, diffusers = its scheduler loop")
    print_speed(results, [full, ddim], ["ours fp32"], args.batch)
    print_agreement(results, [full, ddim], s, args.ddim_steps)
    if not args.quick and all(getattr(args, name) == value for name, value in DEFAULTS.items()):
        one_run = median(t.loop_s for t in results[full, "ours fp32"])
        print(f"note: defaults lowered to stay near 8 min on 2 cores: one {T}-step run takes {one_run:.0f} s here, "
              f"so the {T}-step pair runs once (not twice), the other runs twice (not 3 times), and the respaced "
              f"DDPM has {args.respaced_steps} steps (not 100); --repeats 2 --short-repeats 3 --respaced-steps 100 "
              f"takes ~11–15 min\n")
    s.clock.remove()


def cuda_section(path: Path, args, device: str = "cuda") -> None:
    """Speed without hooks (ours fp32 and auto vs diffusers fp32), then the overhead with synchronising hooks."""
    precisions = ("fp32", "auto")
    s = make_setup(path, device, args.batch, clocked=False)
    warm_up(s, precisions)
    groups = [group_name("ddpm", args.ddpm_steps), group_name("ddim", args.ddim_steps)]
    speed = interleaved({**jobs_for(s, "ddpm", args.ddpm_steps, precisions),
                         **jobs_for(s, "ddim", args.ddim_steps, precisions)}, args.cuda_repeats)
    name = torch.cuda.get_device_name() if device == "cuda" else device
    print(f"CUDA: {name}, batch {args.batch}; ours fp32 and auto (bf16 autocast, "
          f"channels_last), diffusers fp32; medians over {args.cuda_repeats} interleaved repeats, no hooks")
    print_speed(speed, groups, ["ours fp32", "ours auto"], args.batch)
    print_agreement(speed, groups, s, args.ddim_steps)
    c = make_setup(path, device, args.batch, clocked=True)
    warm_up(c, precisions)
    overhead = interleaved({**jobs_for(c, "ddpm", args.respaced_steps, precisions, bare=True, diffusers=False),
                            **jobs_for(c, "ddim", args.ddim_steps, precisions, bare=True)}, args.cuda_repeats)
    print("CUDA sampler overhead (hooks synchronise before each clock reading, so the loops run slower here)")
    print_overhead(overhead, [group_name("ddpm", args.respaced_steps), groups[1]],
                   ["ours fp32", "ours auto", "diffusers fp32"])


DEFAULTS = {"ddpm_steps": 1000, "respaced_steps": 50, "ddim_steps": 50, "repeats": 1, "short_repeats": 2,
            "cuda_repeats": 5}
QUICK = {"ddpm_steps": 50, "respaced_steps": 20, "ddim_steps": 10, "repeats": 1, "short_repeats": 2,
         "cuda_repeats": 2}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~1 min smoke run: " + ", ".join(
        f"{k.replace('_', '-')} {v}" for k, v in QUICK.items()))
    parser.add_argument("--ddpm-steps", type=int, help="steps of the DDPM speed comparison (default 1000 = T)")
    parser.add_argument("--respaced-steps", type=int, help="steps of the respaced DDPM overhead run (default 50)")
    parser.add_argument("--ddim-steps", type=int, help="DDIM steps (default 50)")
    parser.add_argument("--repeats", type=int, help="repeats of the --ddpm-steps runs (default 1)")
    parser.add_argument("--short-repeats", type=int, help="repeats of the DDIM and respaced runs (default 2)")
    parser.add_argument("--cuda-repeats", type=int, help="repeats of every CUDA run (default 5)")
    parser.add_argument("--full", action="store_true", help="also time --ddpm-steps bare forward passes")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK[name] if args.quick else default)
    return args


def main() -> None:
    import diffusers

    args = parse_args()
    print("machine:", machine())
    print(f"diffusers {diffusers.__version__}; tiny U-Net preset, random weights; T = {T}, linear β, σ² = β, "
          f"clipped x̂_0\n")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ddpm-bench-sample-") as folder:
        path = make_checkpoint(Path(folder))
        cpu_section(path, args)
        if torch.cuda.is_available():
            cuda_section(path, args)
        else:
            print("CUDA: skipped (torch.cuda.is_available() is False on this machine)\n")
    print(f"total {time.perf_counter() - start:.0f} s")
    print("machine:", machine())
    shutil.rmtree(CACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
