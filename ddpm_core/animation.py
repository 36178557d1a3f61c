"""Pictures of a sampling run: image grids, labelled animation frames, and PNG / GIF / MP4 / WebM files.

Grids come from torchvision's `make_grid`; GIFs from Pillow; MP4 (H.264) and WebM (VP9) from PyAV,
whose wheels carry their own FFmpeg, so no system tool is needed. Frames are uint8 (H, W, 3) arrays.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from ddpm_core.fonts import font

VIDEO_CODECS = {".mp4": "libx264", ".webm": "libvpx-vp9"}
ANIMATION_SUFFIXES = (".gif", *VIDEO_CODECS)
HEADER_PX = 20  # the strips above an animation frame's panels that carry the captions
GAP_PX = 6  # between the panels of a frame
PANEL_PX = 256  # about this wide per panel: a 64-image GIF stays a few MB
VIDEO_SCALE = 2  # videos are enlarged once more (nearest neighbour): encoders blur small pixels


def grid_rows(n: int) -> int:
    """Images per row of a near-square grid of n images (64 → 8, 10 → 4)."""
    return max(1, math.ceil(math.sqrt(n)))


def image_grid(x: torch.Tensor, nrow: int | None = None, padding: int = 1) -> np.ndarray:
    """A batch x ∈ [−1, 1] of shape (B, C, H, W) as one uint8 (H', W', 3) grid, white between images."""
    x = x.detach().float().cpu()
    grid = make_grid((x.clamp(-1, 1) + 1) / 2, nrow=nrow or grid_rows(x.shape[0]), padding=padding, pad_value=1.0)
    return (grid * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def upscale(pixels: np.ndarray, width: int) -> np.ndarray:
    """Enlarge by the integer factor (nearest neighbour) that brings the width closest to `width`."""
    scale = max(1, round(width / pixels.shape[1]))
    return pixels.repeat(scale, 0).repeat(scale, 1)


def _font(size: int) -> ImageFont.FreeTypeFont:
    return font(size)  # Latin, Greek and Hangul: "DDIM η = 0" and Korean captions


def compose_frame(panels: list[tuple[str, np.ndarray]], caption: str, width: int = PANEL_PX) -> np.ndarray:
    """Panels (title, grid) side by side under a caption strip: one frame of an animation, RGB uint8.

    Each panel is enlarged to about `width` pixels; the frame's sides are even, as H.264 requires.
    """
    big = [upscale(grid, width) for _, grid in panels]
    height = max(p.shape[0] for p in big) + 2 * HEADER_PX
    total = sum(p.shape[1] for p in big) + GAP_PX * (len(big) + 1)
    canvas = Image.new("RGB", (total + total % 2, height + height % 2), "white")
    draw, font = ImageDraw.Draw(canvas), _font(14)
    draw.text((GAP_PX, 2), caption, fill="black", font=font)
    left = GAP_PX
    for (title, _), pixels in zip(panels, big):
        draw.text((left, HEADER_PX + 2), title, fill=(60, 60, 60), font=font)
        canvas.paste(Image.fromarray(pixels), (left, 2 * HEADER_PX))
        left += pixels.shape[1] + GAP_PX
    return np.asarray(canvas)


def _atomic_target(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the result is an ordinary file
    return Path(tmp)


def save_png(pixels: np.ndarray, path) -> Path:
    """Write one uint8 image as PNG (atomically: a temporary file, then a rename)."""
    path = Path(path)
    tmp = _atomic_target(path)
    Image.fromarray(pixels).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def save_animation(frames: list[np.ndarray], path, fps: float = 12.0, hold_last_s: float = 1.5) -> Path:
    """Write frames as a GIF, MP4 (H.264) or WebM (VP9), chosen by the suffix; the last frame is held.

    Frames must share one size. Raises ValueError for no frames or an unknown suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ValueError(f"cannot write '{path.name}': an animation is {', '.join(ANIMATION_SUFFIXES)}")
    if not frames:
        raise ValueError("no frames to write")
    if len({f.shape for f in frames}) != 1:
        raise ValueError("animation frames differ in size")
    hold = max(1, round(hold_last_s * fps))
    tmp = _atomic_target(path)
    try:
        if suffix == ".gif":
            _write_gif(frames, tmp, fps, hold)
        else:
            _write_video(frames + [frames[-1]] * (hold - 1), tmp, fps, VIDEO_CODECS[suffix])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_gif(frames: list[np.ndarray], path: Path, fps: float, hold: int) -> None:
    duration = [round(1000 / fps)] * len(frames)
    duration[-1] *= hold
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0,
                   optimize=False, disposal=1)


def _write_video(frames: list[np.ndarray], path: Path, fps: float, codec: str) -> None:
    import av  # imported here: only exports need FFmpeg

    height, width = frames[0].shape[0] * VIDEO_SCALE, frames[0].shape[1] * VIDEO_SCALE
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # Sharp pixel edges: H.264 at CRF 18 and VP9 at CRF 24 keep the grids' single pixels readable.
        stream.options = {"crf": "18"} if codec == "libx264" else {"crf": "24", "b:v": "0"}
        for pixels in frames:
            pixels = pixels.repeat(VIDEO_SCALE, 0).repeat(VIDEO_SCALE, 1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
