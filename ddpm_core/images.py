"""Reading one user image safely and converting between pixels and the model's [−1, 1] space."""

from __future__ import annotations

import os
import re
import struct
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from ddpm_core.errors import UserError

MIN_RESOLUTION = 64
MAX_RESOLUTION = 512
MAX_FILE_BYTES = 25 * 1024 * 1024
# A 20000×20000 PNG is a few hundred kilobytes on disk and 1.2 GB decoded: refuse it by header.
MAX_PIXELS = 40_000_000


class ImageError(UserError):
    """A user-facing problem with an image file; the message says what and what to do."""


def _open(path: str) -> Image.Image:
    """Open `path` lazily (header only) after checking that it exists and is not empty or huge."""
    name = os.path.basename(str(path))
    try:
        size = os.path.getsize(path)
    except OSError:
        raise ImageError("image.missing", "'{name}' could not be read (no such file).", name=name) from None
    if size == 0:
        raise ImageError("image.empty", "'{name}' is empty (0 bytes).", name=name)
    if size > MAX_FILE_BYTES:
        raise ImageError("image.file_too_large", "'{name}' is {mb:.0f} MB; images up to {limit_mb} MB are accepted.",
                         name=name, mb=size / 2**20, limit_mb=MAX_FILE_BYTES // 2**20)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))  # PIL reports the size, not the dimensions
        raise _too_large(name, int(found.group(1)) if found else None) from None
    except UnidentifiedImageError:
        raise ImageError("image.not_an_image", "'{name}' is not an image this app can read "
                         "(PNG, JPEG, WebP, BMP, GIF, TIFF).", name=name) from None
    except OSError as exc:  # the system's text may name server paths: only its kind is shown
        raise ImageError("image.unreadable", "'{name}' could not be read ({kind}).", name=name,
                         kind=type(exc).__name__) from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise _too_large(name, width * height, (width, height))
    return image


def _too_large(name: str, pixels: int | None, dims: tuple[int, int] | None = None) -> ImageError:
    limit = MAX_PIXELS / 1e6
    if dims:
        return ImageError("image.too_large_sized", "'{name}' is too large to decode safely ({width}×{height} "
                          "pixels, {mp:.0f} MP); the limit is {limit:.0f} MP. Please downscale it first.",
                          name=name, width=dims[0], height=dims[1], mp=pixels / 1e6, limit=limit)
    if pixels:
        return ImageError("image.too_large", "'{name}' is too large to decode safely ({mp:.0f} MP); the limit is "
                          "{limit:.0f} MP. Please downscale it first.", name=name, mp=pixels / 1e6, limit=limit)
    return ImageError("image.too_many_pixels", "'{name}' is too large to decode safely (too many pixels); the "
                      "limit is {limit:.0f} MP. Please downscale it first.", name=name, limit=limit)


def _to_8bit(image: Image.Image) -> Image.Image:
    """Bring 16-bit and 32-bit integer/float modes to 8-bit L, scaling instead of clipping."""
    if image.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return image
    values = np.asarray(image, dtype=np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
    if image.mode == "F" and values.max() <= 1.0:
        top = 1.0
    return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Convert any PIL mode (P, CMYK, RGBA, LA, 16-bit …) to RGB or L; transparency becomes white."""
    image = _to_8bit(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB" if channels == 3 else "L")


def decode_file(path: str, size: int, channels: int) -> Image.Image:
    """Open and fully decode one image file as an RGB or L PIL image, or raise ImageError saying why not.

    Checks size and decompression bombs first, decodes JPEGs at a reduced scale when `size` allows,
    takes the first frame of animated files, applies EXIF rotation and converts any mode (palette,
    CMYK, alpha on white, 16-bit). Shared by single uploads and training folders.
    """
    if channels not in (1, 3):
        raise ImageError("image.channels", "channels must be 1 (grey) or 3 (colour), got {channels}.",
                         channels=channels)
    name = os.path.basename(str(path))
    with _open(path) as image:
        try:
            image.draft(None, (size, size))  # JPEG: decode at a reduced scale
            image.seek(0)
            image.load()
            return _to_mode(ImageOps.exif_transpose(image), channels)
        except (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError) as exc:
            raise ImageError("image.damaged", "'{name}' is damaged or truncated and could not be decoded "
                             "({kind}).", name=name, kind=type(exc).__name__) from None


FITS = ("pad", "crop")  # how a non-square image becomes a square: all of it, letterboxed; or its centre


def square(image: Image.Image, resolution: int, fit: str = "pad") -> Image.Image:
    """`image` as a resolution × resolution square: "pad" fits it whole and fills the bands with mid-grey
    (0 in the model's space, so nothing is lost and nothing is invented); "crop" fills the square with its
    centre (the short side fits, the long side's ends are cut)."""
    if fit not in FITS:
        raise ImageError("image.fit", "unknown fit {fit!r}; choose pad or crop", fit=fit)
    if fit == "crop":
        return TF.center_crop(TF.resize(image, resolution, antialias=True), [resolution, resolution])
    width, height = image.size
    scale = resolution / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    inner = image.resize(size, Image.Resampling.BILINEAR)  # the filter TF.resize uses for "crop"
    canvas = Image.new(image.mode, (resolution, resolution), 128 if image.mode == "L" else (128, 128, 128))
    canvas.paste(inner, ((resolution - inner.size[0]) // 2, (resolution - inner.size[1]) // 2))
    return canvas


def load_image(path: str, resolution: int, channels: int = 3, fit: str = "pad") -> torch.Tensor:
    """Read an image file as a float32 tensor (C, H, W) in [−1, 1], made square by `fit` (see `square`).

    Raises ImageError with a message fit for the user for anything unreadable or too large.
    """
    if not MIN_RESOLUTION <= int(resolution) <= MAX_RESOLUTION:
        raise ImageError("image.resolution", "resolution must be from {low} to {high}, got {value}.",
                         low=MIN_RESOLUTION, high=MAX_RESOLUTION, value=resolution)
    image = square(decode_file(path, resolution, channels), resolution, fit)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy())
    pixels = pixels.unsqueeze(-1) if pixels.ndim == 2 else pixels  # (H, W, C)
    return from_uint8(pixels.permute(2, 0, 1))


def from_uint8(pixels: torch.Tensor) -> torch.Tensor:
    """Map uint8 pixels 0..255 to the model's space: x = p/127.5 − 1 ∈ [−1, 1]."""
    return pixels.to(torch.float32) / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Map x ∈ [−1, 1] of shape (C, H, W) to uint8 pixels, clipping what lies outside.

    Returns (H, W, 3) for colour and (H, W) for grey: the shapes PIL and Gradio display.
    """
    # 127.5·x + 127.5 rounded half up: +128 and truncate (one pass fewer than round(); this is the
    # slider's hot path).
    pixels = (x.detach().float() * 127.5 + 128.0).clamp_(0, 255).to(torch.uint8)
    pixels = pixels.permute(1, 2, 0).cpu().numpy()
    return pixels[..., 0] if pixels.shape[2] == 1 else pixels
