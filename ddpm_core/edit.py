"""Editing an image with a diffusion model: SDEdit, inpainting by replacement and by RePaint's resampling; the CLI.

    python -m ddpm_core.edit --checkpoint checkpoints/digits.safetensors --image in.png [--mask mask.png] \\
        --t0 500 --method sdedit|replace|repaint --seed 0 --out out.png [--gif anim.gif]

Every method starts where the forward process would be at step t₀, x_t₀ = √ᾱ x_0 + √(1 − ᾱ) ε (`noised`, the
Forward tab's q(x_t | x_0), Ho et al. 2020, Eq. 4), and walks the sampler's chain (DDPM or DDIM) down to x_0:

- **SDEdit** (Meng et al. 2022): nothing more. A small t₀ stays faithful to the input, a large one realistic.
- **Replacement** inpainting: after every step the known pixels (mask False) are put back, noised to the new
  step's level by q(x_{t−1} | x_0), so the model fills the unknown ones (mask True) to agree with them
  (Lugmayr et al. 2022, Eq. 8). At the last step the known pixels are the input's, exactly.
- **RePaint** (Lugmayr et al. 2022, Algorithm 1): the same, but every `jump` steps the chain goes back up `jump`
  steps by the forward process q(x_t | x_{t−1}) and comes down again, `resample` times in all, so that the
  filled region has time to agree with the known one. r = 1 is replacement.

Indices are 0-based as everywhere in ddpm_core: t₀ = −1 (`INDEX_X0`, the paper's 0) returns the input itself;
t₀ = T − 1 starts from (almost) pure noise. A mask is a bool tensor (H, W), True where the model fills; in a mask
file white pixels are to fill and black ones are kept. The network is any `model(x, t)` (`edit_model` builds it
for a checkpoint: with class guidance for a conditional one).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ddpm_core.animation import ANIMATION_SUFFIXES, compose_frame, image_grid, save_animation, save_png
from ddpm_core.checkpoints import Checkpoint, CheckpointError, load_checkpoint
from ddpm_core.devices import pick_device
from ddpm_core.diffusion import INDEX_X0, GaussianDiffusion, index_of, paper_t
from ddpm_core.errors import UserError
from ddpm_core.guidance import DEFAULT_GUIDANCE, class_names, guided, requested_labels
from ddpm_core.images import FITS, decode_file, from_uint8, square, to_uint8
from ddpm_core.sample import SampleConfig, keep_every
from ddpm_core.samplers import (Frame, Model, StepOutput, _on_original_steps, ddim_step, ddpm_step, respace,
                                sample_loop, sampling_timesteps)

METHODS = ("sdedit", "replace", "repaint")
SAMPLERS = ("ddpm", "ddim")  # the two whose single steps the inpainting walk takes (the ODE solvers have none)
MAX_RESAMPLE = 50
FULL_SIZE = 1 << 16  # decode_file's draft size that never shrinks a JPEG: a mask is compared pixel for pixel


# ---- the three methods --------------------------------------------------------------------------------------

def noised(diffusion: GaussianDiffusion, x0: torch.Tensor, t: int, noise: torch.Tensor | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample x_t from q(x_t | x_0) (Ho et al. 2020, Eq. 4) at index t; t = −1 is x_0 itself."""
    return x0 if t == INDEX_X0 else diffusion.q_sample(x0, t, noise, generator)


def sdedit(model: Model, diffusion: GaussianDiffusion, x0: torch.Tensor, t0: int, noise: torch.Tensor,
           **sampling) -> Iterator[Frame]:
    """SDEdit (Meng et al. 2022, Algorithm 1): x_t₀ ~ q(x_t₀ | x_0), then p_θ's chain from t₀ down to x_0.

    `sampling` is `sample_loop`'s (sampler, steps, eta, prediction, variance, clip, generator); t₀ = −1 yields
    nothing: the input is the result.
    """
    if t0 == INDEX_X0:
        return iter(())
    return sample_loop(model, diffusion, noised(diffusion, x0, t0, noise), start=t0, **sampling)


def inpaint_replace(model: Model, diffusion: GaussianDiffusion, x0: torch.Tensor, mask: torch.Tensor, t0: int,
                    noise: torch.Tensor, **sampling) -> Iterator[Frame]:
    """Inpainting by replacement: x_{t−1} = m ⊙ x_{t−1}^unknown + (1 − m) ⊙ x_{t−1}^known, with x^unknown from p_θ
    and x^known ~ q(x_{t−1} | x_0) (Lugmayr et al. 2022, Eq. 8), at every step of the chain from t₀ down."""
    check_mask(mask, x0)
    if t0 == INDEX_X0:
        return iter(())
    chain = Chain(model, diffusion, t0, **sampling)
    return _walk(chain, x0, mask, noised(diffusion, x0, t0, noise), descent(chain.count))


def repaint(model: Model, diffusion: GaussianDiffusion, x0: torch.Tensor, mask: torch.Tensor, t0: int,
            noise: torch.Tensor, *, jump: int = 10, resample: int = 10, **sampling) -> Iterator[Frame]:
    """RePaint (Lugmayr et al. 2022, Algorithm 1 with jumps, §4.3): replacement inpainting whose chain goes back up
    `jump` steps by q(x_t | x_{t−1}) every `jump` steps, `resample` − 1 times, before going on down."""
    check_mask(mask, x0)
    if t0 == INDEX_X0:
        return iter(())
    chain = Chain(model, diffusion, t0, **sampling)
    check_repaint(jump, resample, chain.count)
    return _walk(chain, x0, mask, noised(diffusion, x0, t0, noise), repaint_moves(chain.count, jump, resample))


def descent(count: int) -> list[tuple[int, int]]:
    """The moves (k, k − 1) straight down a chain of `count` steps, from its top to x_0 (k = −1)."""
    return [(k, k - 1) for k in reversed(range(count))]


def repaint_moves(count: int, jump: int, resample: int) -> list[tuple[int, int]]:
    """RePaint's schedule over a chain of `count` steps (Lugmayr et al. 2022, §4.3 and their code's
    `get_schedule_jump`): down one step at a time, and at every `jump`-th step k (k = 0, j, 2j, … below the top)
    back up `jump` steps, `resample` − 1 times. Each move is (k, k ± 1); the last ends at x_0 (−1)."""
    jumps_left = {k: resample - 1 for k in range(0, count - jump, jump)}
    k, moves = count - 1, []
    while k > INDEX_X0:
        moves.append((k, k - 1))
        k -= 1
        if jumps_left.get(k, 0) > 0:
            jumps_left[k] -= 1
            moves.extend((k + i, k + i + 1) for i in range(jump))
            k += jump
    return moves


class Chain:
    """The sampler's chain from index t₀ down to x_0: its S indices τ_1 < … < τ_S = t₀ (`use`, as `sample_loop`
    spaces them), one reverse step from τ_k to τ_{k−1} (`down`: DDPM or DDIM) and one forward step from τ_k up to
    τ_{k+1} (`up`). Chain step k = −1 is x_0.

    DDPM steps and the forward steps both work on the chain's own process: the original when S = T, else the
    respaced one (Nichol & Dhariwal 2021) whose step k has ᾱ of τ_k, exactly as `sample_loop` samples it.
    """

    def __init__(self, model: Model, diffusion: GaussianDiffusion, t0: int, *, sampler: str = "ddpm",
                 steps: int | None = None, eta: float = 0.0, prediction: str = "eps", variance: str = "beta",
                 clip: bool = True, generator: torch.Generator | None = None):
        if sampler not in SAMPLERS:
            raise UserError("edit.sampler", "editing takes DDPM or DDIM steps, not {sampler!r}", sampler=sampler)
        self.use = sampling_timesteps(t0 + 1, steps)
        self.count = len(self.use)
        self.model, self.diffusion, self.sampler, self.generator = model, diffusion, sampler, generator
        self.options = dict(prediction=prediction, clip=clip, generator=generator)
        self.eta, self.variance = eta, variance
        if self.count == diffusion.num_timesteps:
            self.process, self.process_model = diffusion, model
        else:
            self.process, _ = respace(diffusion, self.use)
            self.process_model = _on_original_steps(model, self.use.to(diffusion.device))

    def index(self, k: int) -> int:
        """The original index τ_k of chain step k (−1: x_0)."""
        return int(self.use[k]) if k >= 0 else INDEX_X0

    def down(self, x: torch.Tensor, k: int) -> StepOutput:
        """x at τ_{k−1} from x at τ_k: one step of p_θ (`ddpm_step` on the chain's process, or `ddim_step`)."""
        if self.sampler == "ddim":
            return ddim_step(self.model, self.diffusion, x, self.index(k), self.index(k - 1), eta=self.eta,
                             **self.options)
        return ddpm_step(self.process_model, self.process, x, k, variance=self.variance, **self.options)

    def up(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """x at τ_{k+1} from x at τ_k: one step of the forward process q(x_{k+1} | x_k) (Eq. 2) on the chain's
        process, i.e. N(√(ᾱ_{τ_{k+1}}/ᾱ_{τ_k}) x, (1 − ᾱ_{τ_{k+1}}/ᾱ_{τ_k}) I)."""
        return self.process.q_step(x, k + 1, generator=self.generator)


def _walk(chain: Chain, x0: torch.Tensor, mask: torch.Tensor, x: torch.Tensor, moves: list[tuple[int, int]]
          ) -> Iterator[Frame]:
    """Follow `moves` along `chain` from x at its top. After every step down the known pixels (mask False) are
    replaced by x_0 noised to the new step (Lugmayr et al. 2022, Eq. 8); a step up noises all of x. Each frame's
    `t_prev` is where the move arrived (above `t` for a step up) and `nfe` counts the steps down so far."""
    fill = mask.to(x.device)
    last, nfe = None, 0
    for index, (k, k_next) in enumerate(moves, start=1):
        if k_next < k:
            last = chain.down(x, k)
            known = noised(chain.diffusion, x0, chain.index(k_next), generator=chain.generator)
            x, nfe = torch.where(fill, last.prev_sample, known), nfe + 1
            step = StepOutput(x, last.pred_x0, last._pred_eps)
        else:
            x = chain.up(x, k)
            step = StepOutput(x, last.pred_x0, last._pred_eps)
        yield Frame(index, len(moves), chain.index(k), chain.index(k_next), step, nfe)


# ---- masks ----------------------------------------------------------------------------------------------------

def check_mask(mask: torch.Tensor, x0: torch.Tensor) -> None:
    """UserError unless `mask` is (H, W) of x0's size with some pixels to fill and some to keep."""
    height, width = x0.shape[-2:]
    if mask.ndim != 2 or tuple(mask.shape) != (height, width):
        size = "×".join(str(n) for n in reversed(mask.shape)) or "0"
        raise UserError("edit.mask_size", "The mask is {mask_size} pixels but the image is {width}×{height}: a mask "
                        "must match its image pixel for pixel.", mask_size=size, width=width, height=height)
    filled = int(mask.sum())
    if filled == 0:
        raise UserError("edit.mask_empty", "The mask is empty, so there is nothing to fill: paint over (in a file: "
                        "make white) the pixels the model should replace.")
    if filled == mask.numel():
        raise UserError("edit.mask_full", "The mask covers the whole image, so nothing is kept to fill around: leave "
                        "the pixels to keep unpainted (in a file: black), or use SDEdit to redo the whole image.")


def mask_tensor(pixels: np.ndarray, image_size: tuple[int, int], size: int, fit: str = "pad") -> torch.Tensor:
    """A painted mask (H, W) (True or non-zero where to fill) of an image of `image_size` (H, W), brought to the
    model's size × size the same way as its image (`images.square`), as a bool tensor True where to fill.

    A model pixel is filled where most of what it covers is; pad's mid-grey bands are kept (as the image's
    bands are nothing to fill).
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.shape != tuple(image_size):
        mask_size = "×".join(str(n) for n in reversed(pixels.shape))
        raise UserError("edit.mask_size", "The mask is {mask_size} pixels but the image is {width}×{height}: a mask "
                        "must match its image pixel for pixel.", mask_size=mask_size, width=image_size[1],
                        height=image_size[0])
    binary = Image.fromarray(np.where(pixels > 0, 255, 0).astype(np.uint8), "L")
    return torch.from_numpy(np.asarray(square(binary, size, fit)) > 128)  # pad's bands are 128: kept


# ---- images and checkpoints -----------------------------------------------------------------------------------

def image_for_model(image: Image.Image, size: int, fit: str = "pad") -> torch.Tensor:
    """A decoded image (RGB or L, as `images.decode_file` returns it) as the model takes it: (1, C, size, size) in
    [−1, 1], made square by `fit` (the Forward tab's choice) at the model's own size."""
    pixels = torch.from_numpy(np.asarray(square(image, size, fit), dtype=np.uint8).copy())
    pixels = pixels.unsqueeze(-1) if pixels.ndim == 2 else pixels  # (H, W, C)
    return from_uint8(pixels.permute(2, 0, 1))[None]


def load_for_model(path, size: int, channels: int, fit: str = "pad") -> torch.Tensor:
    """An image file as the model takes it (`image_for_model`), read and checked as every tab reads images
    (`images.decode_file`: ImageError saying why for anything unreadable or too large). Unlike `load_image` any
    model size is allowed (the bundled digits are 16×16)."""
    return image_for_model(decode_file(path, size, channels), size, fit)


def read_mask(path) -> np.ndarray:
    """A mask file, or a layer painted over an image, as (H, W) bool: True (to fill) where it is bright and opaque
    (white in a mask file, the brush's colour on a layer), False where it is black or transparent. Checked as every
    image is (`images.decode_file`: ImageError saying why for anything unreadable or too large)."""
    decode_file(path, FULL_SIZE, 1)
    with Image.open(path) as image:
        rgba = np.asarray(ImageOps.exif_transpose(image).convert("RGBA"))
    return (rgba[..., 3] > 127) & (rgba[..., :3].max(axis=2) > 127)


def load_pair(image_path, mask_path, size: int, channels: int, fit: str = "pad") -> tuple[torch.Tensor, torch.Tensor]:
    """An image file and its mask file (white: to fill), both at the model's size; the mask must have the image's
    size in pixels (UserError otherwise)."""
    image = decode_file(image_path, FULL_SIZE, channels)
    return image_for_model(image, size, fit), mask_tensor(read_mask(mask_path), (image.size[1], image.size[0]), size,
                                                          fit)


def check_image_checkpoint(checkpoint: Checkpoint) -> None:
    if checkpoint.architecture != "unet":
        raise UserError("edit.points_model", "'{name}' holds a model of 2-D points, not an image model: only an "
                        "image model can edit an image (try the 2-D lab)", name=checkpoint.path.name)


def edit_model(checkpoint: Checkpoint, class_name: str | None = None, guidance: float = DEFAULT_GUIDANCE,
               batch: int = 1, device=None) -> Model:
    """The checkpoint's network as the edit calls it, model(x, t) (moved to `device` if given): for a conditional
    checkpoint and a class, ε̃ guided towards that class with scale w = `guidance` (`guidance.guided`); otherwise
    the plain network (a conditional one given the null class ∅). UserError for a class it does not have."""
    check_image_checkpoint(checkpoint)
    network = (checkpoint.model if device is None else checkpoint.model.to(device)).eval()
    labels = requested_labels(class_names(checkpoint.config), class_name or None, batch)
    if labels is None:
        return lambda x, t: network(x, t)
    return guided(network, labels, guidance, network.config.null_class)


# ---- one edit, configured ----------------------------------------------------------------------------------

def check_repaint(jump: int, resample: int, count: int) -> None:
    if not (isinstance(jump, int) and isinstance(resample, int) and 1 <= jump <= max(1, count)
            and 1 <= resample <= MAX_RESAMPLE):
        raise UserError("edit.repaint", "RePaint's jump length j must be from 1 to the chain's {count} steps and its "
                        "resampling r from 1 to {most}, got j = {jump} and r = {resample}", count=count,
                        most=MAX_RESAMPLE, jump=jump, resample=resample)


@dataclass(frozen=True)
class EditConfig:
    """One edit: the method, the starting index t₀ (−1: the input itself), the sampler and RePaint's j and r.

    `steps` is S over the whole chain of T (None: all T): a run from t₀ takes S·(t₀ + 1)/T of them, the same
    stride for every t₀ (`steps_from`). The noise ε of x_t₀ is drawn first from `seed`, then the steps' noise,
    so runs with one seed start from the same noise whatever their t₀ or method.
    """

    method: str
    t0: int
    sampler: str = "ddpm"
    steps: int | None = None
    eta: float = 0.0
    variance: str = "beta"
    clip: bool = True
    jump: int = 10
    resample: int = 10
    seed: int = 0

    def check(self, num_timesteps: int) -> None:
        """UserError naming the first setting out of range for a process of `num_timesteps` steps."""
        if self.method not in METHODS:
            raise UserError("edit.method", "unknown editing method {method!r}; choose one of {choices}",
                            method=self.method, choices=", ".join(METHODS))
        if not isinstance(self.t0, int) or not INDEX_X0 <= self.t0 < num_timesteps:
            t0 = paper_t(self.t0) if isinstance(self.t0, int) else self.t0
            raise UserError("edit.t0", "t₀ must be a step from 0 (the input itself) to T = {T}, got {t0}",
                            T=num_timesteps, t0=t0)
        if self.sampler not in SAMPLERS:
            raise UserError("edit.sampler", "editing takes DDPM or DDIM steps, not {sampler!r}", sampler=self.sampler)
        SampleConfig(n=1, sampler=self.sampler, steps=self.steps, eta=self.eta, variance=self.variance,
                     seed=self.seed).check(num_timesteps)
        if self.method == "repaint" and self.t0 != INDEX_X0:
            check_repaint(self.jump, self.resample, len(sampling_timesteps(self.t0 + 1, self.steps_from(
                self.t0, num_timesteps))))

    def steps_from(self, t0: int, num_timesteps: int) -> int | None:
        """How many steps a run from index t₀ takes: S·(t₀ + 1)/T rounded (at least 1), or all t₀ + 1 if S is None."""
        if self.steps is None:
            return None
        return max(1, min(t0 + 1, round(self.steps * (t0 + 1) / num_timesteps)))


def initial_noise(x0: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Generator]:
    """x_t₀'s noise ε ~ N(0, I) drawn first from `seed`, and the generator the steps go on drawing from."""
    generator = torch.Generator(x0.device).manual_seed(seed)
    return torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype), generator


def edit_frames(model: Model, diffusion: GaussianDiffusion, x0: torch.Tensor, config: EditConfig,
                mask: torch.Tensor | None = None, prediction: str = "eps") -> Iterator[Frame]:
    """Every step of the edit `config` asks for, on x0 (B, C, H, W) in [−1, 1] (and, to inpaint, `mask`)."""
    config.check(diffusion.num_timesteps)
    if x0.device.type == "cpu":
        # Late in a chain, activations below 1.2e-38 (denormals) appear, and x86 CPUs compute with them many times
        # slower: a 460-step RePaint took 254 s instead of 36 s here. Flushing them to zero changes no value above
        # 1e-38 (as `sample.SamplingRun.frames` does).
        torch.set_flush_denormal(True)
    noise, generator = initial_noise(x0, config.seed)
    sampling = dict(sampler=config.sampler, steps=config.steps_from(max(config.t0, 0), diffusion.num_timesteps),
                    eta=config.eta, prediction=prediction, variance=config.variance, clip=config.clip,
                    generator=generator)
    if config.method == "sdedit":
        return sdedit(model, diffusion, x0, config.t0, noise, **sampling)
    if mask is None:
        raise UserError("edit.mask_missing", "inpainting needs a mask: paint (in a file: make white) the pixels the "
                        "model should fill")
    if config.method == "replace":
        return inpaint_replace(model, diffusion, x0, mask, config.t0, noise, **sampling)
    return repaint(model, diffusion, x0, mask, config.t0, noise, jump=config.jump, resample=config.resample,
                   **sampling)


@torch.no_grad()
def edit(model: Model, diffusion: GaussianDiffusion, x0: torch.Tensor, config: EditConfig,
         mask: torch.Tensor | None = None, prediction: str = "eps") -> torch.Tensor:
    """The edited image: the last frame of `edit_frames` (x0 itself when t₀ = −1)."""
    x = x0
    for frame in edit_frames(model, diffusion, x0, config, mask, prediction):
        x = frame.step.prev_sample
    return x


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two same-shaped tensors' values (0 when either is constant): how faithful an edit
    stayed to its input."""
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else 0.0


# ---- command line ---------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ddpm_core.edit", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="a DDPM Explorer .safetensors checkpoint (an image model)")
    p.add_argument("--image", required=True, help="the image to edit (any size: made square by --fit)")
    p.add_argument("--mask", help="for replace and repaint: white pixels are filled, black ones kept; "
                                  "the image's size in pixels")
    p.add_argument("--method", choices=METHODS, default="sdedit")
    p.add_argument("--t0", type=int, help="the paper's starting step t₀, 0 … T (0: the input itself; "
                                          "default T/2 for sdedit, T for replace and repaint)")
    p.add_argument("--sampler", choices=SAMPLERS, default="ddpm")
    p.add_argument("--steps", type=int, help="S of the T steps over the whole chain; a run from t₀ takes about "
                                             "S·t₀/T (default: all)")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM's η in [0, 1]")
    p.add_argument("--jump", type=int, default=10, help="RePaint's jump length j (chain steps)")
    p.add_argument("--resample", type=int, default=10, help="RePaint's resampling r (1: replacement)")
    p.add_argument("--fit", choices=FITS, default="pad", help="how a non-square image becomes square")
    p.add_argument("--class", dest="class_name", help="a conditional checkpoint's class to guide towards")
    p.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE, help="guidance scale w (with --class)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--out", required=True, help="the result at the model's size, a .png")
    p.add_argument("--gif", help="also write the animation of x_t and x̂_0 as a GIF")
    p.add_argument("--video", help="also write it as .mp4 or .webm")
    return p


def _check_outputs(args) -> None:
    if Path(args.out).suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file, got '{args.out}'")
    if args.gif and Path(args.gif).suffix.lower() != ".gif":
        raise ValueError(f"--gif must name a .gif file, got '{args.gif}'")
    if args.video and Path(args.video).suffix.lower() not in ANIMATION_SUFFIXES[1:]:
        raise ValueError(f"--video must name a .mp4 or .webm file, got '{args.video}'")


def _inputs(args, checkpoint: Checkpoint, device) -> tuple[torch.Tensor, torch.Tensor | None]:
    size, channels = checkpoint.model.config.image_size, checkpoint.model.config.channels
    if args.method != "sdedit" and not args.mask:
        raise ValueError(f"--method {args.method} needs --mask (white: fill, black: keep)")
    if args.mask and args.method != "sdedit":
        x0, mask = load_pair(args.image, args.mask, size, channels, args.fit)
        return x0.to(device), mask
    return load_for_model(args.image, size, channels, args.fit).to(device), None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _check_outputs(args)
        device = pick_device(args.device)
        checkpoint = load_checkpoint(args.checkpoint, device)
        check_image_checkpoint(checkpoint)
        T = checkpoint.diffusion.num_timesteps
        t0 = args.t0 if args.t0 is not None else (T // 2 if args.method == "sdedit" else T)
        config = EditConfig(args.method, index_of(t0), sampler=args.sampler, steps=args.steps, eta=args.eta,
                            jump=args.jump, resample=args.resample, seed=args.seed)
        config.check(T)
        x0, mask = _inputs(args, checkpoint, device)
        model = edit_model(checkpoint, args.class_name, args.guidance, device=device)
        x, pictures = x0, []
        with torch.inference_mode():
            for frame in edit_frames(model, checkpoint.diffusion, x0, config, mask, checkpoint.prediction):
                x = frame.step.prev_sample
                if args.gif or args.video:
                    pictures.append(compose_frame([("x_t", image_grid(x)), ("predicted x_0",
                                                   image_grid(frame.step.pred_x0))],
                                                  f"{args.method}  step {frame.index}/{frame.count}   "
                                                  f"t = {paper_t(frame.t_prev)}"))
        print(f"result: {save_png(to_uint8(x[0]), args.out)}")
        every = keep_every(len(pictures), 150)
        for target in (args.gif, args.video):
            if target and pictures:
                print(f"animation: {save_animation(pictures[::every] + pictures[-1:], target, fps=12)}")
    except (CheckpointError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
