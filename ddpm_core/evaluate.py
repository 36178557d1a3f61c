"""Evaluate a checkpoint on images: the variational bound in bits/dim, where the bits go, and the CLI.

    python -m ddpm_core.evaluate --checkpoint checkpoints/digits.safetensors --data assets/digits \\
        --split holdout --n 187 [--strata 50] [--variance beta] [--seed 0] [--json report.json]

The images are loaded as training loads them (data.load_image_folder, no flips), so a checkpoint
trained with a held-out share (`--holdout` in ddpm_core.train) is evaluated on exactly the files it
never saw with `--split holdout`. `summarize` turns a `likelihood.Bound` into the figures a person
reads: the total with its standard error, L_T, Σ L_{t−1}, L_0, and the share of the bits spent in
each band of t.

A class-conditional checkpoint is evaluated twice on the same draws of t and x_t (`--given-class`): the bound
on −log p(x_0 | c) given each image's true class c, and the unconditional bound on −log p(x_0) of the same
network (its null class). Their paired difference (`label_worth`) is how many bits/dim the label is worth.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from ddpm_core.checkpoints import Checkpoint, CheckpointError, load_checkpoint
from ddpm_core.data import SPLITS, DataError, decode_image, load_image_folder
from ddpm_core.errors import Message, UserError
from ddpm_core.guidance import class_names, guided
from ddpm_core.images import ImageError, from_uint8
from ddpm_core.likelihood import Bound, BoundEvaluation
from ddpm_core.devices import pick_device

BANDS = ((1, 1), (2, 10), (11, 100), (101, 1000), (1001, 10**9))  # paper steps t, inclusive
MAX_EVAL_IMAGES = 4096


def pick(pixels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """n of the images (all if fewer), a seeded random choice kept in the set's order."""
    return pixels if n >= len(pixels) >= 1 else pixels[pick_indices(len(pixels), n, seed)]


def pick_indices(count: int, n: int, seed: int = 0) -> torch.Tensor:
    """The indices `pick` keeps of `count` images (e.g. to pick their labels too), ascending."""
    if n < 1:
        raise UserError("evaluate.count", "the number of images must be at least 1, got {n}", n=n)
    if n >= count:
        return torch.arange(count)
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n].sort().values


def folder_pixels(root, image_size: int, channels: int, *, split: str = "all", holdout: float = 0.0
                  ) -> tuple[torch.Tensor, str]:
    """uint8 images (N, C, S, S) of one split of a folder, decoded as training decodes them, and a summary."""
    data = load_image_folder(root, image_size, channels, flip=False, holdout=holdout, split=split)
    dataset = data.dataset
    pixels = dataset.pixels if dataset.pixels is not None else torch.stack(
        [decode_image(str(Path(dataset.root) / f), image_size, channels) for f in dataset.files])
    return pixels, data.summary()


def folder_labelled_pixels(root, image_size: int, channels: int, classes: tuple[str, ...], *, split: str = "all",
                           holdout: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, str]:
    """`folder_pixels` with each image's label (N,) among a checkpoint's `classes`, read from its class folder.

    UserError if the folder has a class the checkpoint never learnt.
    """
    data = load_image_folder(root, image_size, channels, flip=False, holdout=holdout, split=split, conditional=True)
    unknown = [name for name in data.classes.names if name not in classes]
    if unknown:
        raise UserError("evaluate.classes_unknown", "{folder}/ has classes the checkpoint never learnt: {names}; "
                        "its classes are {classes}", folder=data.root_name, names=", ".join(unknown),
                        classes=", ".join(classes))
    to_checkpoint = torch.tensor([classes.index(name) for name in data.classes.names])
    dataset = data.dataset
    pixels = dataset.pixels if dataset.pixels is not None else torch.stack(
        [decode_image(str(Path(dataset.root) / f), image_size, channels) for f in dataset.files])
    return pixels, to_checkpoint[dataset.labels], data.summary()


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
          seed: int = 0, device: str = "auto", labels: torch.Tensor | None = None) -> BoundEvaluation:
    """A BoundEvaluation of `checkpoint` on uint8 `pixels`, on the device, x_t and t drawn from `seed`.

    With `labels` (N,), the images' classes, a conditional checkpoint's bound is that of p_θ(x_0 | c), the plain
    conditional network (w = 1); without, a conditional checkpoint gives its unconditional bound (the null
    class). The same seed draws the same t and x_t for both, so their difference is paired (`label_worth`).
    """
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
    if labels is not None:
        if class_names(checkpoint.config) is None:
            raise UserError("evaluate.labels_unconditional", "'{name}' is unconditional (trained without class "
                            "labels): it has no bound given the class", name=checkpoint.path.name)
        model = guided(model, labels.to(target), 1.0, config.null_class)  # w = 1: ε_θ(x_t, t, c) itself
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


def label_worth(unconditional: Bound, conditional: Bound, num_classes: int, dims: int) -> dict:
    """How many bits/dim the label is worth: the paired difference of the unconditional and the conditional
    bound of the same images (evaluated on the same draws, see `start`), with its standard error over images.

    For exact likelihoods the difference would be the mutual information I(x_0; c) / D ≤ H(c) / D ≤ log₂ K / D
    (`ceiling`, D = C·H·W = `dims`); two bounds can differ by more or less than that, each having its own gap.
    """
    difference = (unconditional.total - conditional.total).double()  # (B,)
    n = difference.numel()
    return {"bits_per_dim": float(difference.mean()),
            "standard_error": float(difference.std() / math.sqrt(n)) if n > 1 else float("nan"),
            "unconditional": float(unconditional.total.double().mean()),
            "conditional": float(conditional.total.double().mean()),
            "ceiling": math.log2(num_classes) / dims, "images": n}


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
    p.add_argument("--given-class", action="store_true",
                   help="a conditional checkpoint: also the bound given each image's class (its folder), and the "
                        "difference: how many bits/dim the label is worth")
    return p


def _evaluate_batches(checkpoint, pixels, args, bar, labels: torch.Tensor | None = None) -> Bound:
    """The bound of all images, `args.batch` at a time, as one Bound (given their `labels`, if any)."""
    parts = []
    for i in range(0, len(pixels), args.batch):
        evaluation = start(checkpoint, pixels[i:i + args.batch], strata=args.strata, variance=args.variance,
                           seed=args.seed + i, device=args.device,
                           labels=None if labels is None else labels[i:i + args.batch])
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
        classes = class_names(checkpoint.config)
        if args.given_class and classes is None:
            raise ValueError(f"'{Path(args.checkpoint).name}' is unconditional: --given-class needs a conditional "
                             "checkpoint")
        if args.given_class:
            pixels, labels, summary = folder_labelled_pixels(args.data, config.image_size, config.channels, classes,
                                                             split=args.split, holdout=holdout)
        else:
            (pixels, summary), labels = folder_pixels(args.data, config.image_size, config.channels,
                                                      split=args.split, holdout=holdout), None
        kept = pick_indices(len(pixels), min(args.n, MAX_EVAL_IMAGES), args.seed)
        pixels, labels = pixels[kept], None if labels is None else labels[kept]
        print(f"data: {summary}; evaluating {len(pixels):,}")
        T = checkpoint.diffusion.num_timesteps
        columns = T if args.strata is None or 2 * args.strata >= T else 2 * args.strata
        begin = time.perf_counter()
        with tqdm(total=columns * -(-len(pixels) // args.batch) * (1 + args.given_class), desc="bound terms",
                  unit="t") as bar:
            bound = _evaluate_batches(checkpoint, pixels, args, bar)
            given = None if labels is None else _evaluate_batches(checkpoint, pixels, args, bar, labels)
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
    if given is not None:
        report["given_class"] = {**summarize(given, T),
                                 "label_worth": label_worth(bound, given, len(classes), pixels[0].numel())}
        worth = report["given_class"]["label_worth"]
        print(f"given the class: {worth['conditional']:.4f} bits/dim; the label is worth "
              f"{worth['bits_per_dim']:.4f} ± {worth['standard_error']:.4f} bits/dim (paired; "
              f"log2 {len(classes)} / D = {worth['ceiling']:.4f} for exact likelihoods)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
