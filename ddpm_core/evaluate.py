"""Evaluate a checkpoint on images: the variational bound in bits/dim, where the bits go, and the CLI.

    python -m ddpm_core.evaluate --checkpoint checkpoints/digits.safetensors --data assets/digits \\
        --split holdout --n 187 [--strata 50] [--variance beta] [--seed 0] [--json report.json]

The images are loaded as training loads them (data.load_image_folder, no flips), so a checkpoint
trained with a held-out share (`--holdout` in ddpm_core.train) is evaluated on exactly the files it
never saw with `--split holdout`. `summarize` turns a `likelihood.Bound` into the figures a person
reads: the total with its standard error, L_T, Σ L_{t−1}, L_0, and the share of the bits spent in
each band of t.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ddpm_core.checkpoints import Checkpoint, CheckpointError, load_checkpoint
from ddpm_core.data import SPLITS, DataError, decode_image, load_image_folder
from ddpm_core.errors import Message, UserError
from ddpm_core.images import ImageError, from_uint8
from ddpm_core.likelihood import Bound, BoundEvaluation
from ddpm_core.devices import pick_device

BANDS = ((1, 1), (2, 10), (11, 100), (101, 1000), (1001, 10**9))  # paper steps t, inclusive
MAX_EVAL_IMAGES = 4096


def pick(pixels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """n of the images (all if fewer), a seeded random choice kept in the set's order."""
    if n < 1:
        raise UserError("evaluate.count", "the number of images must be at least 1, got {n}", n=n)
    if n >= len(pixels):
        return pixels
    order = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(seed))[:n]
    return pixels[order.sort().values]


def folder_pixels(root, image_size: int, channels: int, *, split: str = "all", holdout: float = 0.0
                  ) -> tuple[torch.Tensor, str]:
    """uint8 images (N, C, S, S) of one split of a folder, decoded as training decodes them, and a summary."""
    data = load_image_folder(root, image_size, channels, flip=False, holdout=holdout, split=split)
    dataset = data.dataset
    pixels = dataset.pixels if dataset.pixels is not None else torch.stack(
        [decode_image(str(Path(dataset.root) / f), image_size, channels) for f in dataset.files])
    return pixels, data.summary()


def file_pixels(paths: list, image_size: int, channels: int) -> tuple[torch.Tensor, list[tuple[str, Message]]]:
    """uint8 images (N, C, S, S) from image files (resized and centre-cropped), and [(name, why not)] of
    those that could not be read; DataError (naming the first one's reason) if none could."""
    good, skipped = [], []
    for path in paths:
        try:
            good.append(decode_image(str(path), image_size, channels))
        except ImageError as exc:
            skipped.append((Path(path).name, exc.message))
    if not good:
        raise DataError("evaluate.none_readable", "None of the files could be read as an image: {reason}",
                        reason=skipped[0][1] if skipped else "")
    return torch.stack(good), skipped


def start(checkpoint: Checkpoint, pixels: torch.Tensor, *, strata: int | None = None, variance: str = "beta",
          seed: int = 0, device: str = "auto") -> BoundEvaluation:
    """A BoundEvaluation of `checkpoint` on uint8 `pixels`, on the device, x_t and t drawn from `seed`."""
    if checkpoint.architecture != "unet":
        raise CheckpointError("evaluate.points_model", "'{name}' holds a 2-D model, not an image model",
                              name=checkpoint.path.name)
    config = checkpoint.model.config
    expected = (config.channels, config.image_size, config.image_size)
    if tuple(pixels.shape[1:]) != expected:
        raise UserError("evaluate.shape_mismatch", "the images are {shape} but the model takes {expected} (C, H, W)",
                        shape=tuple(pixels.shape[1:]), expected=expected)
    if strata is not None and strata < 1:
        raise UserError("evaluate.strata", "the number of strata must be at least 1, got {strata}", strata=strata)
    target = pick_device(device)
    generator = torch.Generator(target).manual_seed(seed)
    model = checkpoint.model.to(target).eval()
    return BoundEvaluation(model, checkpoint.diffusion.to(target), from_uint8(pixels).to(target), strata=strata,
                           prediction=checkpoint.prediction, variance=variance, clip=False, generator=generator)


def summarize(bound: Bound, num_timesteps: int) -> dict:
    """The figures of a bound: mean total ± standard error (bits/dim), its parts, and the bits per band of t."""
    weighted = (bound.terms * bound.weights.to(bound.terms)).double()  # (B, K): each term's share of the sum
    t = bound.timesteps if bound.timesteps.ndim == 2 else bound.timesteps.expand(len(bound.terms), -1)
    paper_t = t + 1
    decoder = (weighted * (paper_t == 1)).sum(1)
    total = bound.total.double()
    bands = []
    for low, high in BANDS:
        if low > num_timesteps:
            break
        inside = (paper_t >= low) & (paper_t <= min(high, num_timesteps))
        bits = float((weighted * inside).sum(1).mean())
        bands.append({"from": low, "to": min(high, num_timesteps), "bits_per_dim": bits,
                      "share": bits / float(total.mean()) if float(total.mean()) else 0.0})
    return {"bits_per_dim": float(total.mean()), "standard_error": bound.standard_error,
            "images": int(total.numel()), "terms_per_image": int(weighted.shape[1]), "exact": bound.exact,
            "prior_L_T": float(bound.prior.double().mean()), "decoder_L_0": float(decoder.mean()),
            "kl_terms": float((weighted.sum(1) - decoder).mean()), "bands": bands,
            "timestep_error": float(bound.timestep_error().double().pow(2).mean().sqrt())}


# ---- command line ---------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ddpm_core.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="a folder of images, searched recursively")
    p.add_argument("--split", choices=SPLITS, default="all",
                   help="holdout/train: the share the checkpoint's --holdout set aside, or the rest")
    p.add_argument("--n", type=int, default=64, help="images to evaluate (a seeded choice; default 64)")
    p.add_argument("--strata", type=int, default=None, help="two t per stratum instead of every t (faster)")
    p.add_argument("--variance", choices=("beta", "beta_tilde"), default="beta", help="σ_t² of p_θ")
    p.add_argument("--batch", type=int, default=256, help="images per forward pass")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", help="also write the summary as JSON")
    return p


def _evaluate_batches(checkpoint, pixels, args, bar) -> Bound:
    """The bound of all images, `args.batch` at a time, as one Bound."""
    parts = []
    for i in range(0, len(pixels), args.batch):
        evaluation = start(checkpoint, pixels[i:i + args.batch], strata=args.strata, variance=args.variance,
                           seed=args.seed + i, device=args.device)
        for _ in evaluation:
            bar.update(1)
        parts.append(evaluation.result())
    if len(parts) == 1:
        return parts[0]
    exact = parts[0].exact
    return Bound(torch.cat([b.prior for b in parts]),
                 parts[0].timesteps if exact else torch.cat([b.timesteps for b in parts]), parts[0].weights,
                 torch.cat([b.terms for b in parts]), torch.cat([b.distortion for b in parts]), parts[0].draws)


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    args = _parser().parse_args(argv)
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        config = checkpoint.model.config
        holdout = float((checkpoint.config.get("training") or {}).get("holdout", 0.0))
        if args.split != "all" and holdout <= 0:
            raise ValueError(f"'{Path(args.checkpoint).name}' was trained without a held-out share: use --split all")
        pixels, summary = folder_pixels(args.data, config.image_size, config.channels, split=args.split,
                                        holdout=holdout)
        pixels = pick(pixels, min(args.n, MAX_EVAL_IMAGES), args.seed)
        print(f"data: {summary}; evaluating {len(pixels):,}")
        T = checkpoint.diffusion.num_timesteps
        columns = T if args.strata is None or 2 * args.strata >= T else 2 * args.strata
        begin = time.perf_counter()
        with tqdm(total=columns * -(-len(pixels) // args.batch), desc="bound terms", unit="t") as bar:
            bound = _evaluate_batches(checkpoint, pixels, args, bar)
        seconds = time.perf_counter() - begin
    except (CheckpointError, DataError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = {**summarize(bound, T), "seconds": seconds, "checkpoint": Path(args.checkpoint).name,
              "split": args.split, "variance": args.variance, "strata": args.strata, "device": args.device}
    print(f"NLL bound: {report['bits_per_dim']:.4f} ± {report['standard_error']:.4f} bits/dim "
          f"({report['images']:,} images, {'every t' if report['exact'] else f'{args.strata} strata × 2'}; "
          f"{seconds:.1f} s)")
    print(f"  L_T {report['prior_L_T']:.5f} · Σ L_t−1 {report['kl_terms']:.4f} · L_0 {report['decoder_L_0']:.4f}")
    for band in report["bands"]:
        print(f"  t = {band['from']}–{band['to']}: {band['bits_per_dim']:.4f} bits/dim ({band['share']:.1%})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
