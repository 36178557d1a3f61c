"""2-D toy distributions for the diffusion lab: classic shapes, a user's image, or a typed word.

Every generator returns a float32 tensor (n, 2), centred and divided by its overall standard
deviation, so each shape has unit scale like the N(0, I) it diffuses into.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ddpm_core.errors import UserError
from ddpm_core.fonts import font
from ddpm_core.images import ImageError, _open

MAX_POINTS = 20_000
MAX_WORD_LENGTH = 16
DARK_THRESHOLD = 128  # a pixel is "dark" when its grey level is below this (0 = black)
SHAPE_RESOLUTION = 256


def _uniform(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g, dtype=torch.float64)


def _normal(shape, g: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=g, dtype=torch.float64)


def swiss_roll(n: int, g: torch.Generator) -> torch.Tensor:
    """The 2-D swiss roll: θ ∈ [1.5π, 4.5π], point θ(cos θ, sin θ) plus N(0, 0.25²) noise."""
    theta = 1.5 * math.pi * (1 + 2 * _uniform(n, g))
    return torch.stack([theta * theta.cos(), theta * theta.sin()], 1) + 0.25 * _normal((n, 2), g)


def two_moons(n: int, g: torch.Generator) -> torch.Tensor:
    """Two interleaved half circles (as scikit-learn's make_moons) with N(0, 0.06²) noise."""
    theta = math.pi * _uniform(n, g)
    upper = _uniform(n, g) < 0.5
    x = torch.where(upper, theta.cos(), 1 - theta.cos())
    y = torch.where(upper, theta.sin(), 0.5 - theta.sin())
    return torch.stack([x, y], 1) + 0.06 * _normal((n, 2), g)


def circles(n: int, g: torch.Generator) -> torch.Tensor:
    """Two concentric circles of radius 1 and 0.5 with N(0, 0.03²) noise."""
    theta = 2 * math.pi * _uniform(n, g)
    radius = torch.where(_uniform(n, g) < 0.5, 1.0, 0.5)
    return radius[:, None] * torch.stack([theta.cos(), theta.sin()], 1) + 0.03 * _normal((n, 2), g)


def eight_gaussians(n: int, g: torch.Generator) -> torch.Tensor:
    """Eight Gaussians of std 0.1 at radius 1, evenly spaced in angle."""
    angle = torch.randint(0, 8, (n,), generator=g).double() * (math.pi / 4)
    return torch.stack([angle.cos(), angle.sin()], 1) + 0.1 * _normal((n, 2), g)


def checkerboard(n: int, g: torch.Generator) -> torch.Tensor:
    """Uniform on the 8 black squares of a 4×4 checkerboard on [−2, 2]² (as in FFJORD)."""
    x = 4 * _uniform(n, g) - 2
    y = _uniform(n, g) - 2 * torch.randint(0, 2, (n,), generator=g).double()
    return torch.stack([x, y + torch.floor(x) % 2], 1)


def _points_from_dark_pixels(grey: np.ndarray, n: int, g: torch.Generator, none_dark: UserError) -> torch.Tensor:
    """Uniform over the dark pixels of a grey image (y up), jittered within each pixel; `none_dark` if none."""
    rows, cols = np.nonzero(grey < DARK_THRESHOLD)
    if rows.size == 0:
        raise none_dark
    pick = torch.randint(0, rows.size, (n,), generator=g).numpy()
    jitter = _uniform(2 * n, g).reshape(n, 2)
    x = torch.from_numpy(cols[pick].astype(np.float64)) + jitter[:, 0]
    y = -(torch.from_numpy(rows[pick].astype(np.float64)) + jitter[:, 1])
    return torch.stack([x, y], 1)


def points_from_image(path: str, n: int, g: torch.Generator) -> torch.Tensor:
    """Points sampled from the dark pixels of an image file (read with the app's safe loader)."""
    with _open(path) as image:
        try:
            image.draft("L", (SHAPE_RESOLUTION, SHAPE_RESOLUTION))
            image = ImageOps.exif_transpose(image)
            rgba = image.convert("RGBA")
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageError("image.damaged", "'{name}' is damaged or truncated and could not be decoded ({kind}).",
                             name=os.path.basename(path), kind=type(exc).__name__) from None
    grey = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("L")
    grey.thumbnail((SHAPE_RESOLUTION, SHAPE_RESOLUTION))
    return _points_from_dark_pixels(np.asarray(grey), n, g, UserError(
        "lab2d.image_not_dark", "'{name}' has no dark pixels (none below 50% grey): draw a dark shape on a light "
        "background.", name=os.path.basename(path)))


def _font(size: int) -> ImageFont.FreeTypeFont:
    return font(size)  # the bundled font: a Korean word ("확산") is drawn, not boxes


def points_from_text(word: str, n: int, g: torch.Generator) -> torch.Tensor:
    """Points sampled from a word rendered in black on white."""
    word = (word or "").strip()
    if not word:
        raise UserError("lab2d.word_empty", "Type a word to turn into points.")
    if len(word) > MAX_WORD_LENGTH:
        raise UserError("lab2d.word_long", "Words of up to {high} characters fit; '{start}…' has {length}.",
                        high=MAX_WORD_LENGTH, start=word[:20], length=len(word))
    font = _font(96)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), word, font=font)
    canvas = Image.new("L", (right - left + 16, bottom - top + 16), 255)
    ImageDraw.Draw(canvas).text((8 - left, 8 - top), word, fill=0, font=font)
    return _points_from_dark_pixels(np.asarray(canvas), n, g, UserError(
        "lab2d.word_not_dark", "The word '{word}' has no dark pixels (none below 50% grey): draw a dark shape on a "
        "light background.", word=word))


SHAPES = {
    "two_moons": two_moons,
    "swiss_roll": swiss_roll,
    "circles": circles,
    "eight_gaussians": eight_gaussians,
    "checkerboard": checkerboard,
}


def normalise(points: torch.Tensor) -> torch.Tensor:
    """Centre the cloud and divide by its overall standard deviation (unit scale)."""
    centred = points - points.mean(0)
    return (centred / centred.std().clamp_min(1e-8)).float()


def sample_2d(shape: str, n: int, seed: int = 0, *, image: str | None = None, word: str | None = None) -> torch.Tensor:
    """n points (n, 2) of a named shape, or of "image" (needs `image`, a path) or "text" (needs `word`)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_POINTS:
        raise UserError("lab2d.points", "The number of points must be from 2 to {high:,}, got {n!r}.",
                        high=MAX_POINTS, n=n)
    g = torch.Generator().manual_seed(int(seed))
    if shape == "image":
        if not image:
            raise UserError("lab2d.image_missing", "Upload an image whose dark pixels make the shape.")
        points = points_from_image(image, n, g)
    elif shape == "text":
        points = points_from_text(word, n, g)
    elif shape in SHAPES:
        points = SHAPES[shape](n, g)
    else:
        raise UserError("lab2d.shape_unknown", "Unknown shape {shape!r}; choose one of {choices}.", shape=shape,
                        choices=", ".join([*SHAPES, "image", "text"]))
    return normalise(points)
