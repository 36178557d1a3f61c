"""Sample a checkpoint: a checked configuration, the device and precision, per-step statistics, and the CLI.

    python -m ddpm_core.sample --checkpoint checkpoints/digits.safetensors --n 64 --sampler ddim \\
        --steps 50 --eta 0 --seed 0 --out grid.png --gif anim.gif
    python -m ddpm_core.sample --checkpoint checkpoints/digits_classes.safetensors --class 3 --guidance 2 \\
        --out threes.png --npz threes.npz     # --class all: one row of --n per class

`SamplingRun` drives `samplers.sample_loop` for a loaded checkpoint: the UI, the CLI, the benches and
the tests all sample through it. It yields every step's frame with the tensors still on the device,
so a consumer that shows only some frames costs the loop nothing; per-step statistics (std of x_t and
the change of x̂_0) are kept on the device too, and read once at the end, so CUDA never waits.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ddpm_core.animation import ANIMATION_SUFFIXES, compose_frame, image_grid, save_animation, save_png
from ddpm_core.checkpoints import Checkpoint, CheckpointError, load_checkpoint
from ddpm_core.diffusion import paper_t
from ddpm_core.samplers import SAMPLERS, VARIANCES, Frame, network_evaluations, sample_loop, sampling_timesteps
from ddpm_core.devices import pick_device
from ddpm_core.errors import Message, UserError
from ddpm_core.guidance import ALL_CLASSES, DEFAULT_GUIDANCE, check_guidance, class_names, guided, requested_labels

PRECISIONS = ("fp32", "bf16", "auto")  # auto: bf16 autocast on CUDA, fp32 elsewhere
MAX_IMAGES = 4096  # per run, whatever the memory says
MEMORY_SHARE = 0.5  # of the memory free now that one run may plan to use
MAX_STATISTICS = 250  # per-step statistics are kept for at most about this many steps (a plot's worth)


@dataclass(frozen=True)
class SampleConfig:
    """How to sample: the paper's defaults (all T steps of Algorithm 2, σ² = β) unless changed."""

    n: int = 64
    sampler: str = "ddpm"  # ddpm, ddim, or the probability-flow ODE by euler or heun (SAMPLERS)
    steps: int | None = None  # None: all T steps
    eta: float = 0.0  # DDIM only: 0 deterministic, 1 DDPM's variance
    variance: str = "beta"  # DDPM only: σ_t² = β_t or β̃_t
    clip: bool = True  # clip x̂_0 to [−1, 1]
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    label: str | None = None  # a conditional checkpoint's class name, ALL_CLASSES (n of each), or None: ∅
    guidance: float | None = None  # classifier-free guidance w ∈ [0, 20] with a class; None: DEFAULT_GUIDANCE

    @property
    def guidance_scale(self) -> float:
        """The w a class request samples with (guidance.py's convention: 0 unconditional, 1 conditional)."""
        return DEFAULT_GUIDANCE if self.guidance is None else self.guidance

    def labels(self, classes: tuple[str, ...] | None) -> torch.Tensor | None:
        """The label of every image (N,) for a checkpoint with these class names (None: unconditional), or None
        to sample without one; UserError for a class it lacks, or a class or guidance it cannot take."""
        if self.guidance is not None and self.label is None and not classes:
            raise UserError("sample.guidance_unconditional", "this checkpoint is unconditional (trained without class "
                            "labels), so it takes no guidance; leave the guidance out")
        if self.guidance is not None and self.label is None:
            raise UserError("sample.guidance_without_class", "guidance steers towards a class: choose a class (or "
                            "all) as well, or leave the guidance out")
        return requested_labels(classes, self.label, self.n)

    def network_evaluations(self, num_timesteps: int) -> int:
        """How many times this sampling calls the network (NFE) for a process of `num_timesteps` steps."""
        return network_evaluations(self.sampler, len(sampling_timesteps(num_timesteps, self.steps)))

    def check(self, num_timesteps: int) -> None:
        """ValueError naming the first setting out of range for a process of `num_timesteps` steps."""
        if self.sampler not in SAMPLERS:
            raise UserError("sample.sampler_unknown", "unknown sampler {sampler!r}; choose one of {choices}",
                            sampler=self.sampler, choices=", ".join(SAMPLERS))
        if self.steps is not None and not 1 <= self.steps <= num_timesteps:
            raise UserError("sample.steps", "steps must be from 1 to T = {T} (the checkpoint's T), got {steps}",
                            T=num_timesteps, steps=self.steps)
        if not 0.0 <= self.eta <= 1.0:
            raise UserError("sample.eta", "η must lie in [0, 1], got {eta}", eta=self.eta)
        if self.variance not in VARIANCES:
            raise UserError("sample.variance_unknown", "unknown variance {variance!r}; choose one of {choices}",
                            variance=self.variance, choices=", ".join(VARIANCES))
        if not 1 <= self.n <= MAX_IMAGES:
            raise UserError("sample.count", "the number of images must be from 1 to {high:,}, got {n}",
                            high=MAX_IMAGES, n=self.n)
        if self.precision not in PRECISIONS:
            raise UserError("sample.precision_unknown", "unknown precision {precision!r}; choose one of {choices}",
                            precision=self.precision, choices=", ".join(PRECISIONS))
        if not 0 <= self.seed < 2**63:
            raise UserError("sample.seed", "the seed must be a non-negative integer below 2⁶³, got {seed}",
                            seed=self.seed)
        if self.guidance is not None:
            check_guidance(self.guidance)


# ---- device, precision and memory -----------------------------------------------------------------

def fast_model(model: torch.nn.Module, device: torch.device, precision: str) -> Callable:
    """The network as the sampler calls it: on `device`, channels-last on CUDA, bf16 autocast if chosen.

    The output is float32 whatever the autocast, so the sampler's arithmetic stays in float32.
    """
    model = model.to(device).eval()
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")

    def run(x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            return (model(x, t) if labels is None else model(x, t, labels)).float()
    return run


def free_memory(device: torch.device) -> int | None:
    """Bytes free for a run now: CUDA's free memory, or Linux's MemAvailable; None if unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@torch.no_grad()
def bytes_per_image(model: torch.nn.Module, shape: tuple[int, int, int]) -> int:
    """An upper bound on one image's working memory in a forward pass: every module's output summed.

    Measured with hooks on a one-image forward pass on the CPU; no_grad frees most of it sooner.
    """
    total = 0

    def count(_module, _inputs, output) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel() * 4
    device = next(model.parameters()).device
    handles = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    try:
        model(torch.zeros(1, *shape, device=device), torch.zeros(1, dtype=torch.long, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return total + 4 * int(np.prod(shape)) * 6  # x_t, x̂_0, ε̂, noise and two frames kept per image


def max_images(model: torch.nn.Module, shape: tuple[int, int, int], device: torch.device,
               memory_limit: int | None = None) -> int:
    """How many images one run may sample at once on `device` (at most MAX_IMAGES): in MEMORY_SHARE of
    the memory free now, and in `memory_limit` bytes if given (a server's cap per run)."""
    free = free_memory(device)
    budgets = [b for b in (None if free is None else MEMORY_SHARE * free, memory_limit) if b is not None]
    if not budgets:
        return MAX_IMAGES
    return int(min(MAX_IMAGES, min(budgets) // bytes_per_image(model, shape)))


# ---- the run ---------------------------------------------------------------------------------------

class SamplingRun:
    """One sampling run of a checkpoint: checked, placed on its device, iterated step by step.

    Iterating `frames()` computes the steps; stopping the iteration stops the computation. After (or
    during) a run, `statistics()` gives per-step std(x_t) and the RMS change of x̂_0. A conditional
    checkpoint asked for a class samples `labels` (one per image, `n` of each class asked for) with the
    guided prediction (guidance.py); asked for none, it samples unconditionally, from the null class.
    """

    def __init__(self, checkpoint: Checkpoint, config: SampleConfig, memory_limit: int | None = None):
        if checkpoint.architecture != "unet":
            raise CheckpointError("sample.points_model", "'{name}' holds a {architecture} model of 2-D points, not "
                                  "an image model; sample it in the 2-D lab", name=checkpoint.path.name,
                                  architecture=checkpoint.architecture)
        config.check(checkpoint.diffusion.num_timesteps)
        self.checkpoint, self.config = checkpoint, config
        self.labels = config.labels(class_names(checkpoint.config))  # (N,) or None
        self.n = config.n if self.labels is None else len(self.labels)
        self.grid_columns = config.n if config.label == ALL_CLASSES else None  # one row per class, or square
        self.device = pick_device(config.device)
        model_config = checkpoint.model.config
        self.shape = (model_config.channels, model_config.image_size, model_config.image_size)
        limit = max_images(checkpoint.model, self.shape, torch.device("cpu") if self.device.type == "cpu"
                           else self.device, memory_limit)
        if self.n > MAX_IMAGES or self.n * self.passes_per_image > limit:
            raise UserError("sample.memory", "{n:,} images of {size}×{size} would not fit in the memory one run "
                            "may use here (half of what is free, or the server's limit per run); at most {limit:,} "
                            "at once", n=self.n, size=self.shape[1], limit=min(limit // self.passes_per_image,
                                                                                MAX_IMAGES))
        self.model = self._sampled_model(fast_model(checkpoint.model, self.device, config.precision))
        self.diffusion = checkpoint.diffusion.to(self.device)
        self.count = len(self._timesteps())
        self.stats_every = max(1, self.count // MAX_STATISTICS)
        size = -(-self.count // self.stats_every) + 1
        self._stats = torch.zeros(size, 2, device=self.device)  # std(x_{t−1}), RMS Δx̂_0 since the step before
        self._ts = np.zeros(size, dtype=np.int64)
        self._recorded = self.done = 0

    @property
    def passes_per_image(self) -> int:
        """Images the network sees per image sampled: 2 when guidance evaluates ε_θ(x_t, c) and ε_θ(x_t, ∅)."""
        return 1 if self.labels is None or self.config.guidance_scale in (0.0, 1.0) else 2

    def _sampled_model(self, network: Callable) -> Callable:
        """model(x, t) for the sampler: the network, or its guided prediction for the labels asked for."""
        if self.labels is None:
            return network
        return guided(network, self.labels.to(self.device), self.config.guidance_scale,
                      self.checkpoint.model.config.null_class)

    def _timesteps(self) -> torch.Tensor:
        return sampling_timesteps(self.checkpoint.diffusion.num_timesteps, self.config.steps)

    def initial_noise(self) -> tuple[torch.Tensor, torch.Generator]:
        """x_T ~ N(0, I) from the seed, and the generator the steps go on drawing from."""
        generator = torch.Generator(self.device).manual_seed(self.config.seed)
        return torch.randn((self.n, *self.shape), generator=generator, device=self.device), generator

    @torch.inference_mode()  # on a generator: entered and left around each step, never held across a yield
    def frames(self) -> Iterator[Frame]:
        """Every step's frame, x_T's noise drawn from the seed on the run's device."""
        c = self.config
        x_T, generator = self.initial_noise()
        previous_x0 = None
        if self.device.type == "cpu":
            # Late in a run, activations below 1.2e-38 (denormals) appear, and x86 CPUs compute with them
            # many times slower: flushing them to zero made 50-step DDIM's forward passes 12 % faster
            # here (bench/README.md). It changes no value above 1e-38.
            torch.set_flush_denormal(True)
        for frame in sample_loop(self.model, self.diffusion, x_T, sampler=c.sampler, steps=c.steps, eta=c.eta,
                                 prediction=self.checkpoint.prediction, variance=c.variance, clip=c.clip,
                                 generator=generator):
            self._record(frame, previous_x0)
            previous_x0, self.done = frame.step.pred_x0, frame.index
            yield frame

    def _record(self, frame: Frame, previous_x0: torch.Tensor | None) -> None:
        """Statistics at every `stats_every`-th step (and the last): two reductions, kept on the device."""
        if frame.index % self.stats_every and frame.index != frame.count:
            return
        i, x0 = self._recorded, frame.step.pred_x0
        self._stats[i, 0] = frame.step.prev_sample.std()
        if previous_x0 is not None:
            self._stats[i, 1] = (x0 - previous_x0).pow(2).mean().sqrt()
        self._ts[i], self._recorded = frame.t, i + 1

    def statistics(self) -> dict[str, np.ndarray]:
        """At every `stats_every`-th completed step: the index t it started from, std of the new
        sample, and the RMS change of x̂_0 over that one step (0 at the first)."""
        stats = self._stats[: self._recorded].float().cpu().numpy()
        return {"t": self._ts[: self._recorded].copy(), "std": stats[:, 0], "x0_change": stats[:, 1]}


def describe(config: SampleConfig, count: int) -> Message:
    """'DDIM η = 0, 50 steps' and the like (', class 3, w = 2' or ', one row of 6 per class, w = 2' with a class), as
    a coded message (str() gives the English)."""
    sampler = _describe_sampler(config, count)
    if config.label is None:
        return sampler
    classes = (Message("sample.describe_all_classes", "one row of {n:,} per class", {"n": config.n})
               if config.label == ALL_CLASSES
               else Message("sample.describe_class", "class {name}", {"name": config.label}))
    return Message("sample.describe_guided", "{sampler}, {classes}, w = {w:g}",
                   {"sampler": sampler, "classes": classes, "w": config.guidance_scale})


def _describe_sampler(config: SampleConfig, count: int) -> Message:
    if config.sampler == "ddim":
        return Message("sample.describe_ddim", "DDIM η = {eta:g}, {count:,} steps", {"eta": config.eta, "count": count})
    if config.sampler in ("euler", "heun"):
        return Message("sample.describe_ode", "{solver} ODE ({nfe:,} NFE), {count:,} steps",
                       {"solver": config.sampler.capitalize(), "nfe": network_evaluations(config.sampler, count),
                        "count": count})
    return Message("sample.describe_ddpm", "DDPM σ² = {variance}, {count:,} steps",
                   {"variance": "β" if config.variance == "beta" else "β̃", "count": count})


def frame_picture(frame: Frame, count: int | None = None, with_eps: bool = False, columns: int | None = None
                  ) -> np.ndarray:
    """x_{t−1} beside x̂_0 (and ε̂), captioned with the step, as one uint8 frame for an animation."""
    panels = list(zip(("x_t", "predicted x_0", "predicted noise"), frame_panels(frame, with_eps, columns)))
    return compose_frame(panels, f"step {frame.index}/{count or frame.count}   t = {paper_t(frame.t_prev)}")


def frame_panels(frame: Frame, with_eps: bool = False, columns: int | None = None) -> list[np.ndarray]:
    """x_t (after the step), x̂_0 and optionally ε̂ (±3 shown as black/white) as uint8 grids of `columns` images
    a row (None: as square as may be)."""
    step = frame.step
    panels = [image_grid(step.prev_sample, columns), image_grid(step.pred_x0, columns)]
    if with_eps:
        panels.append(image_grid(step.pred_eps.clamp(-3, 3) / 3, columns))
    return panels


def samples_uint8(x: torch.Tensor) -> np.ndarray:
    """Samples x ∈ [−1, 1] (N, C, H, W) as uint8 pixels (N, H, W, C), rounded as `images.to_uint8` rounds."""
    return (x.detach().float() * 127.5 + 128.0).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def save_npz(x: torch.Tensor, path) -> Path:
    """Write samples x ∈ [−1, 1] (N, C, H, W) to `path` as `arr_0`, uint8 (N, H, W, C): the array FID tools read
    (clean-fid, OpenAI's guided-diffusion evaluator)."""
    path = Path(path)
    with path.open("wb") as handle:  # a file object: np.savez would append ".npz" to a name without it
        np.savez(handle, arr_0=samples_uint8(x))
    return path


def keep_every(count: int, max_frames: int) -> int:
    """Keep every k-th step so that at most `max_frames` (plus the last) are kept."""
    return max(1, -(-count // max_frames))


# ---- command line ---------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    d = SampleConfig()
    p = argparse.ArgumentParser(prog="python -m ddpm_core.sample", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="a DDPM Explorer .safetensors checkpoint")
    p.add_argument("--n", type=int, default=d.n, help="number of images (default 64)")
    p.add_argument("--sampler", choices=SAMPLERS, default=d.sampler)
    p.add_argument("--steps", type=int, default=None,
                   help="reverse steps S ≤ T (default: T for ddpm, 50 for ddim, euler and heun)")
    p.add_argument("--eta", type=float, default=d.eta, help="DDIM's η in [0, 1] (0: deterministic)")
    p.add_argument("--variance", choices=VARIANCES, default=d.variance, help="DDPM's σ_t²: β_t or β̃_t")
    p.add_argument("--no-clip", action="store_true", help="do not clip x̂_0 to [−1, 1]")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision)
    p.add_argument("--class", dest="label", metavar="NAME",
                   help=f"a conditional checkpoint's class to draw, or '{ALL_CLASSES}' for one row of --n per class "
                        "(default: unconditional, from the null class)")
    p.add_argument("--guidance", type=float, default=None, metavar="W",
                   help=f"classifier-free guidance w in [0, 20] with --class: 0 unconditional, 1 plain conditional "
                        f"(default {DEFAULT_GUIDANCE:g})")
    p.add_argument("--out", required=True, help="the final grid, a .png")
    p.add_argument("--npz", help="also write the samples as uint8 arr_0 (N, H, W, C) to this .npz (for FID tools)")
    p.add_argument("--gif", help="also write the animation of x_t and x̂_0 as a GIF")
    p.add_argument("--video", help="also write it as .mp4 (H.264) or .webm (VP9)")
    p.add_argument("--frames", type=int, default=100, help="at most this many animation frames (default 100)")
    p.add_argument("--fps", type=float, default=12.0)
    return p


def _check_outputs(args) -> None:
    if Path(args.out).suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file, got '{args.out}'")
    if args.npz and Path(args.npz).suffix.lower() != ".npz":
        raise ValueError(f"--npz must name a .npz file, got '{args.npz}'")
    if args.gif and Path(args.gif).suffix.lower() != ".gif":
        raise ValueError(f"--gif must name a .gif file, got '{args.gif}'")
    if args.video and Path(args.video).suffix.lower() not in ANIMATION_SUFFIXES[1:]:
        raise ValueError(f"--video must name a .mp4 or .webm file, got '{args.video}'")
    if args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    args = _parser().parse_args(argv)
    try:
        _check_outputs(args)
        checkpoint = load_checkpoint(args.checkpoint)
        steps = args.steps if args.steps is not None else (None if args.sampler == "ddpm" else 50)
        config = SampleConfig(n=args.n, sampler=args.sampler, steps=steps, eta=args.eta, variance=args.variance,
                              clip=not args.no_clip, seed=args.seed, device=args.device, precision=args.precision,
                              label=args.label, guidance=args.guidance)
        run = SamplingRun(checkpoint, config)
        every, pictures, last = keep_every(run.count, args.frames), [], None
        want_frames = bool(args.gif or args.video)
        with tqdm(total=run.count, desc=str(describe(config, run.count)), unit="step", dynamic_ncols=True) as bar:
            for frame in run.frames():
                last = frame
                if want_frames and (frame.index % every == 0 or frame.index == frame.count):
                    pictures.append(frame_picture(frame, columns=run.grid_columns))
                bar.update(1)
        print(f"grid: {save_png(image_grid(last.step.prev_sample, run.grid_columns), args.out)}")
        if args.npz:
            print(f"samples: {save_npz(last.step.prev_sample, args.npz)}")
        for target in (args.gif, args.video):
            if target:
                print(f"animation: {save_animation(pictures, target, fps=args.fps)}")
    except (CheckpointError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
