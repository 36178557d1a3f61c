"""Training an image DDPM by Algorithm 1 (EMA, warm-up, clipping, atomic checkpoints), and its CLI.

    python -m ddpm_core.train --data DIR --out DIR [--steps N --preset tiny --image-size 32 ...]
    python -m ddpm_core.train --data DIR --out DIR --conditional [--p-uncond 0.1]   # class folders → labels
    python -m ddpm_core.train --out DIR --resume           # continue where the last save left off
    torchrun --nproc_per_node=N -m ddpm_core.train ...      # data-parallel (DDP), rank 0 saves

The loop is `train()`: it calls back with progress and stops cooperatively, so the UI, the CLI and
the tests drive the same code. Batches come in an order fixed by (seed, step), and the model, EMA,
optimiser and RNG states are all saved, so a resumed run continues where the killed one stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from ddpm_core.checkpoints import (CheckpointError, commit_training_state, config_from_dict, config_to_dict,
                                   load_checkpoint, load_training_state, read_config, save_checkpoint,
                                   save_training_state)
from ddpm_core.config import DiffusionConfig
from ddpm_core.data import DataError, load_image_folder
from ddpm_core.devices import pick_device
from ddpm_core.errors import Message, UserError
from ddpm_core.guidance import DEFAULT_GUIDANCE, DEFAULT_P_UNCOND, drop_labels, guided
from ddpm_core.losses import PREDICTION_TYPES, simple_loss
from ddpm_core.lr_schedule import LR_DECAYS, learning_rate
from ddpm_core.metrics import MetricsLog
from ddpm_core.samplers import sample
from ddpm_core.schedules import SCHEDULES
from ddpm_core.unet import PRESETS, UNet, preset

CHECKPOINT_NAME = "model.safetensors"
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """What and how to train. Defaults follow Ho et al. 2020 where they fit a small CPU run."""

    image_size: int = 32
    channels: int = 3
    preset: str = "tiny"
    batch_size: int = 64
    lr: float = 2e-4
    steps: int = 10_000
    warmup_steps: int = 200
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    prediction: str = "eps"
    flip: bool = True
    save_every: int = 500
    seed: int = 0
    precision: str = "auto"  # auto: bf16 autocast on CUDA and on CPUs with native bf16; or "fp32" / "bf16"
    holdout: float = 0.0  # share of the folder's images held out for evaluation (data.held_out picks them)
    conditional: bool = False  # learn ε_θ(x_t, t, c) with the folder's classes (its subfolders) as labels c
    p_uncond: float = DEFAULT_P_UNCOND  # conditional only: the share of labels dropped to ∅ (Ho & Salimans 2022)
    lr_decay: str = "constant"  # after the warm-up: "constant" (the paper's) or "cosine" to zero at the last step

    def check(self) -> None:
        if self.preset not in PRESETS:
            raise UserError("train.preset_unknown", "unknown preset {preset!r}; choose one of {choices}",
                            preset=self.preset, choices=sorted(PRESETS))
        if self.prediction not in PREDICTION_TYPES:
            raise UserError("train.prediction_unknown", "unknown prediction {prediction!r}; choose one of {choices}",
                            prediction=self.prediction, choices=PREDICTION_TYPES)
        for name, low in (("batch_size", 1), ("steps", 1), ("save_every", 1), ("warmup_steps", 0)):
            if getattr(self, name) < low:
                raise UserError("train.at_least", "{name} must be at least {low}, got {value}", name=name, low=low,
                                value=getattr(self, name))
        if self.precision not in PRECISIONS:
            raise UserError("train.precision_unknown", "unknown precision {precision!r}; choose one of {choices}",
                            precision=self.precision, choices=PRECISIONS)
        if self.lr_decay not in LR_DECAYS:
            raise UserError("train.lr_decay_unknown", "unknown learning-rate decay {decay!r}; choose one of {choices}",
                            decay=self.lr_decay, choices=LR_DECAYS)
        if not 0 < self.lr <= 1 or not 0 <= self.ema_decay < 1 or not self.grad_clip > 0:
            raise UserError("train.optimiser_range", "need 0 < lr ≤ 1, 0 ≤ ema_decay < 1 and grad_clip > 0")
        if not 0 <= self.holdout <= 0.5:
            raise UserError("train.holdout_range", "the held-out share must be from 0 to 0.5, got {holdout}",
                            holdout=self.holdout)
        if not 0 < self.p_uncond < 1:
            raise UserError("train.p_uncond_range", "p_uncond must lie strictly between 0 and 1, got {p}: with 0 the "
                            "null class never learns (no unconditional samples, no guidance), with 1 no label does",
                            p=self.p_uncond)


@dataclass
class Progress:
    """Where training stands after a step (what a UI or progress bar shows)."""

    step: int
    steps: int
    loss: float
    lr: float
    elapsed_s: float
    images_per_s: float
    saved: Path | None = None
    ema: torch.nn.Module | None = None  # the EMA network so far (eval it under torch.no_grad; don't train it)


@dataclass
class TrainResult:
    """How a run ended: its checkpoint, the last step, and a fingerprint of the final weights."""

    checkpoint: Path
    step: int
    fingerprint: float


def weights_fingerprint(model: torch.nn.Module) -> float:
    """A checksum of every weight (Σ w + Σ |w| in float64): data-parallel ranks must agree on it."""
    return float(sum(p.detach().double().sum() + p.detach().double().abs().sum() for p in model.parameters()))


class TrainingError(UserError):
    """Training cannot go on (e.g. the loss became NaN); the last saved checkpoint is intact."""


# ---- pieces of the loop -------------------------------------------------------------------------

def ema_with_warmup(decay: float):
    """EMA update whose decay warms up as min(decay, (1 + n)/(10 + n)) after n updates.

    A fixed 0.999 would keep a short run's average close to the random start (0.999³⁰⁰ ≈ 0.74), so
    a few hundred classroom steps would sample noise; the warm-up lets early averages follow the model.
    """
    def update(ema_params, params, num_averaged):
        n = float(num_averaged)
        torch._foreach_lerp_(ema_params, params, 1 - min(decay, (1 + n) / (10 + n)))
    return update


def make_ema(model: torch.nn.Module, decay: float) -> AveragedModel:
    return AveragedModel(model, multi_avg_fn=ema_with_warmup(decay))


def step_lr(step: int, config: TrainConfig) -> float:
    """The learning rate of 0-based `step`: linear warm-up, then constant or cosine decay (lr_schedule.py)."""
    return learning_rate(step, config.lr, config.warmup_steps, config.steps, config.lr_decay)


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Does this CPU compute bf16 natively (AVX512-BF16 or AMX)? Read from /proc/cpuinfo (Linux)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _autocast(precision: str, device: torch.device):
    """bf16 autocast where asked for; `auto` uses it on CUDA and on CPUs with native bf16.

    On this project's 2-core CPU (AVX512-BF16/AMX) bf16 trains the digits 1.31× faster with the same
    loss and samples (bench/bench_precision.py); CPUs without it would emulate bf16 and run slower.
    """
    native = device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())
    bf16 = precision == "bf16" or (precision == "auto" and native)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def _distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group torchrun describes in the environment."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def _batches(dataset, config: TrainConfig, start_step: int, rank: int, world: int) -> Iterator[torch.Tensor]:
    """Batches in an order fixed by (seed, epoch): a resumed run sees what the first would have seen.

    Already-seen batches are skipped by index, without loading them, because loading draws random
    flips from the global RNG, whose state the checkpoint restores.
    """
    small = len(dataset) < config.batch_size * world  # e.g. one image: sample with replacement
    epoch_batches = 1 if small else len(dataset) // (config.batch_size * world)
    epoch, skip = divmod(start_step, epoch_batches)
    while True:
        g = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        if world > 1:
            sampler = DistributedSampler(dataset, world, rank, shuffle=True, seed=config.seed, drop_last=True)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(dataset, replacement=small, num_samples=config.batch_size if small else None,
                                    generator=g)
        indices = list(sampler)[skip * config.batch_size:]
        # generator=g: an iterator's base seed would otherwise come from the global RNG too.
        yield from DataLoader(dataset, batch_size=config.batch_size, sampler=indices, drop_last=not small,
                              generator=g)
        epoch, skip = epoch + 1, 0


def _save(out_dir: Path, model, ema, optimizer, step, config, diffusion_config, dataset_info) -> Path:
    """The checkpoint and its resume state, in an order that a kill at any moment leaves resumable exactly."""
    path = out_dir / CHECKPOINT_NAME
    save_training_state(path, optimizer, step, pending=True)
    save_checkpoint(path, model, ema, diffusion=diffusion_config, prediction=config.prediction, step=step,
                    training=config_to_dict(config), dataset=dataset_info)
    commit_training_state(path)
    return path


def conditioned(net, labels: torch.Tensor | None, config: TrainConfig, null_class: int):
    """The model(x, t) that L_simple trains: `net` itself, or `net` given `labels` (B,) with each replaced by ∅
    with probability p_uncond (`guidance.drop_labels`; Ho & Salimans 2022, Algorithm 1)."""
    if labels is None:
        return net
    dropped = drop_labels(labels, config.p_uncond, null_class)
    return lambda x, t: net(x, t, dropped)


def training_step(net, model, ema, optimizer, diffusion, x0: torch.Tensor, config: TrainConfig,
                  autocast, labels: torch.Tensor | None = None) -> torch.Tensor | None:
    """One step of Algorithm 1: L_simple, backward, clip, AdamW, EMA. None (nothing updated) if not finite.

    `net` is what is called (the model, or its DDP wrapper); `model` owns the parameters. A conditional
    model takes the batch's class `labels` (B,).
    """
    with autocast:
        loss = simple_loss(conditioned(net, labels, config, model.config.num_classes), diffusion, x0,
                           config.prediction)
    if not torch.isfinite(loss):
        return None
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    ema.update_parameters(model)
    return loss.detach()


# ---- the loop ----------------------------------------------------------------------------------

def train(config: TrainConfig, diffusion_config: DiffusionConfig, data_root, out_dir, *, resume: bool = False,
          device: str | None = None, callback: Callable[[Progress], None] | None = None,
          should_stop: Callable[[], bool] | None = None, log: Callable[[Message], None] | None = None) -> TrainResult:
    """Train ε_θ (or x_0 / v) on the images in `data_root` (Algorithm 1).

    Saves `out_dir/model.safetensors` (+ `.state.safetensors`) every `save_every` steps, at the end,
    and when `should_stop()` turns true. `resume` continues from that checkpoint. Raises DataError,
    CheckpointError or TrainingError with a message for the user. `log` receives what the user should
    read before training starts, as `Message`s (the data summary with skipped files, the one-image notice).
    """
    config.check()
    out_dir = Path(out_dir)
    rank, world = _distributed()
    device = pick_device(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    data = load_image_folder(data_root, config.image_size, config.channels, config.flip, holdout=config.holdout,
                             split="train" if config.holdout > 0 else "all", conditional=config.conditional)
    if log is not None and rank == 0:
        for line in (data.summary(), data.classes and data.classes.summary(), *data.notices):
            if line:
                log(line)
    diffusion = diffusion_config.build().to(device)
    torch.manual_seed(config.seed)
    num_classes = len(data.classes.names) if data.classes else 0
    model = UNet(preset(config.preset, config.image_size, config.channels, num_classes)).to(device)
    ema = make_ema(model, config.ema_decay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    step = 0
    if resume:
        step = _restore(out_dir / CHECKPOINT_NAME, model, ema, optimizer, device, data.to_dict().get("classes"))
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    autocast = _autocast(config.precision, device)
    metrics = MetricsLog(out_dir, step) if rank == 0 else None  # the history beside the checkpoint
    start, first_step, saved = time.perf_counter(), step, None
    model.train()
    with contextlib.closing(metrics) if metrics is not None else contextlib.nullcontext():
        for batch in _batches(data.dataset, config, step, rank, world):
            if step >= config.steps:
                break
            lr = step_lr(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x0, labels = (batch, None) if torch.is_tensor(batch) else batch  # (B, C, H, W) and (B,) if conditional
            loss = training_step(net, model, ema, optimizer, diffusion, x0.to(device), config, autocast,
                                 None if labels is None else labels.to(device))
            if loss is None:
                raise TrainingError("train.loss_not_finite", "the loss became NaN or infinite at step {step}; training "
                                    "stopped. The last checkpoint (step {saved}) is intact; try a lower learning rate.",
                                    step=step + 1, saved=saved_step(out_dir))
            step += 1
            stop = should_stop is not None and should_stop()
            saved = None
            elapsed, value = time.perf_counter() - start, float(loss)
            if metrics is not None:
                metrics.write(step, value, lr, elapsed)
            if rank == 0 and (step % config.save_every == 0 or step == config.steps or stop):
                saved = _save(out_dir, model, ema.module, optimizer, step, config, diffusion_config, data.to_dict())
                metrics.flush()
            if callback is not None and rank == 0:
                callback(Progress(step, config.steps, value, lr, elapsed,
                                  (step - first_step) * config.batch_size * world / max(elapsed, 1e-9), saved,
                                  ema.module))
            if stop:
                break
    if world > 1:
        dist.barrier()
    return TrainResult(out_dir / CHECKPOINT_NAME, step, weights_fingerprint(model))


def save_sample_grid(ema: torch.nn.Module, diffusion_config: DiffusionConfig, config: TrainConfig, out_dir,
                     step: int, count: int = 16, steps: int = 50) -> Path:
    """A PNG grid of `count` samples of the EMA network (respaced Algorithm 2) at `out_dir/samples_step{N}.png`;
    of a conditional network, one row of √count per class, guided with DEFAULT_GUIDANCE."""
    from torchvision.utils import save_image

    device = next(ema.parameters()).device
    per_row, model, num_classes = int(count ** 0.5), ema, ema.config.num_classes
    if num_classes:
        labels = torch.arange(num_classes, device=device).repeat_interleave(per_row)
        count, model = len(labels), guided(ema, labels, DEFAULT_GUIDANCE, ema.config.null_class)
    shape = (count, config.channels, config.image_size, config.image_size)
    x = sample(model, diffusion_config.build().to(device), shape, steps=min(steps, diffusion_config.timesteps),
               prediction=config.prediction, seed=config.seed, device=device)
    path = Path(out_dir) / f"samples_step{step}.png"
    save_image((x + 1) / 2, path, nrow=per_row, padding=1)
    return path


def saved_step(out_dir) -> int | None:
    """The step of the checkpoint in `out_dir` (read from its header), or None if there is none."""
    try:
        return read_config(Path(out_dir) / CHECKPOINT_NAME).get("step")
    except CheckpointError:
        return None


def _restore(path: Path, model, ema, optimizer, device, classes: list[str] | None = None) -> int:
    checkpoint = load_checkpoint(path, device)
    if checkpoint.architecture != "unet" or checkpoint.model.config != model.config:
        raise CheckpointError("train.resume_mismatch", "'{path}' holds a different network ({network}); resume "
                              "with the settings it was trained with", path=path,
                              network=checkpoint.config.get("model"))
    saved = (checkpoint.config.get("dataset") or {}).get("classes")
    if saved != classes:
        raise CheckpointError("train.resume_classes", "'{path}' learnt the classes {saved}, but the folder now has "
                              "{found}; resume with the folder it was trained on", path=path, saved=saved,
                              found=classes)
    model.load_state_dict(checkpoint.raw_model.state_dict())
    ema.module.load_state_dict(checkpoint.model.state_dict())
    step = load_training_state(path, optimizer, checkpoint.step)["step"]
    ema.n_averaged.fill_(step)  # else the EMA's next update would copy the weights instead of averaging
    return step


# ---- command line ---------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m ddpm_core.train", description=__doc__.splitlines()[0])
    p.add_argument("--data", help="folder of images, searched recursively (give it again with --resume)")
    p.add_argument("--out", required=True, help="folder for model.safetensors and its resume state")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out with its settings")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--channels", type=int, choices=(1, 3), default=d.channels)
    p.add_argument("--preset", choices=sorted(PRESETS), default=d.preset)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--steps", type=int, default=None, help=f"total steps (default {d.steps})")
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    p.add_argument("--lr-decay", choices=LR_DECAYS, default=d.lr_decay,
                   help="after the warm-up: constant (the paper's) or cosine decay to zero at the last step (--resume with "
                        "more --steps stretches the cosine over the new total)")
    p.add_argument("--ema-decay", type=float, default=d.ema_decay)
    p.add_argument("--prediction", choices=PREDICTION_TYPES, default=d.prediction)
    p.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    p.add_argument("--schedule", choices=sorted(SCHEDULES), default="linear")
    p.add_argument("--timesteps", type=int, default=1000)
    p.add_argument("--save-every", type=int, default=d.save_every)
    p.add_argument("--sample-every", type=int, default=0,
                   help="write a 4×4 grid of EMA samples (50 respaced steps) to --out every N steps; 0: at the end only")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--holdout", type=float, default=d.holdout,
                   help="share of the images (0–0.5) held out for evaluation, chosen by a hash of each file's path")
    p.add_argument("--conditional", action="store_true",
                   help="class-conditional: each subfolder of --data is a class (torchvision's ImageFolder layout)")
    p.add_argument("--p-uncond", type=float, default=d.p_uncond,
                   help=f"with --conditional: the share of labels dropped to the null class (default {d.p_uncond})")
    p.add_argument("--keep-every", type=int, default=0,
                   help="also keep the checkpoint every N steps as model_step{N}.safetensors (a multiple of "
                        "--save-every); 0: only the latest")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="auto: bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16, AMX)")
    return p


def _configs(args) -> tuple[TrainConfig, DiffusionConfig, str]:
    """From the flags, or, with --resume, from the checkpoint (only --steps/--save-every can change)."""
    if args.resume:
        saved = load_checkpoint(Path(args.out) / CHECKPOINT_NAME).config
        config = config_from_dict(TrainConfig, saved["training"], "training")
        config = dataclasses.replace(config, steps=args.steps or config.steps, save_every=args.save_every)
        diffusion = config_from_dict(DiffusionConfig, saved["diffusion"], "diffusion")
        return config, diffusion, args.data
    config = TrainConfig(image_size=args.image_size, channels=args.channels, preset=args.preset,
                         batch_size=args.batch_size, lr=args.lr, steps=args.steps or TrainConfig.steps,
                         warmup_steps=args.warmup_steps, ema_decay=args.ema_decay, prediction=args.prediction,
                         flip=not args.no_flip, save_every=args.save_every, seed=args.seed,
                         precision=args.precision, holdout=args.holdout, conditional=args.conditional,
                         p_uncond=args.p_uncond, lr_decay=args.lr_decay)
    diffusion = DiffusionConfig(schedule=args.schedule, timesteps=args.timesteps, rescale=args.timesteps != 1000)
    return config, diffusion, args.data


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    args = _parser().parse_args(argv)
    try:
        config, diffusion, data_root = _configs(args)
        if not data_root:  # a checkpoint records the folder's name, never its path
            raise ValueError("--data is required: the folder of images (give it again with --resume)")
        if args.keep_every < 0 or (args.keep_every and args.keep_every % config.save_every):
            raise ValueError(f"--keep-every must be a multiple of --save-every ({config.save_every}), "
                             f"got {args.keep_every}")
        rank = int(os.environ.get("RANK", "0"))
        bar = tqdm(total=config.steps, desc="train", unit="step", disable=rank != 0, dynamic_ncols=True)

        def report(p: Progress) -> None:
            bar.n = p.step
            bar.set_postfix(loss=f"{p.loss:.4f}", img_s=f"{p.images_per_s:.0f}", refresh=False)
            bar.update(0)
            if p.saved is not None:
                bar.write(f"step {p.step}: saved {p.saved}")
                if args.keep_every and p.step % args.keep_every == 0:
                    shutil.copyfile(p.saved, p.saved.with_name(f"model_step{p.step}.safetensors"))
            every = args.sample_every
            if (every and p.step % every == 0) or p.step == p.steps:
                bar.write(f"step {p.step}: samples in {save_sample_grid(p.ema, diffusion, config, args.out, p.step)}")

        result = train(config, diffusion, data_root, args.out, resume=args.resume, device=args.device,
                       callback=report, log=lambda line: bar.write(str(line)))  # English
        bar.close()
    except (DataError, CheckpointError, TrainingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    # One line per rank: under DDP every rank must report the same weights.
    print(f"rank {os.environ.get('RANK', '0')}: step {result.step}, weights fingerprint {result.fingerprint:.12e}",
          flush=True)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"done: {result.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
