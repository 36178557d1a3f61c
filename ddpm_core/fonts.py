"""The bundled font that pictures are written in: Latin, Greek (η, β, ε) and Hangul, so frame captions and
the 2-D lab's typed words come out right in English and Korean (assets/fonts, SIL OFL 1.1)."""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

FONT = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "DDPMExplorerSans.ttf"


@functools.lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont:
    """The bundled font at `size` pixels."""
    return ImageFont.truetype(str(FONT), size)


def covers(text: str) -> bool:
    """Whether the bundled font draws every character of `text` (spaces aside) with ink of its own: not as
    nothing, and not as the missing-glyph shape."""
    missing = bytes(font(32).getmask("\ue000"))  # a private-use character: no font has it

    def drawn(c: str) -> bool:
        mask = font(32).getmask(c)
        return mask.getbbox() is not None and bytes(mask) != missing
    return all(c.isspace() or drawn(c) for c in set(text))
