"""The bundled font (assets/fonts): captions with Greek and Hangul, and Korean words in the 2-D lab, are drawn
as their letters, not as the missing-glyph box."""

import numpy as np
import torch

from ddpm_core.animation import compose_frame
from ddpm_core.data2d import sample_2d
from ddpm_core.fonts import FONT, covers

MISSING = "\ue000"  # a private-use character: drawn as the missing-glyph box by any font


def test_the_font_is_bundled_small_and_covers_what_the_app_writes():
    assert FONT.is_file() and FONT.stat().st_size < 2.5 * 2**20
    assert (FONT.parent / "OFL.txt").read_text().count("SIL Open Font License") >= 1
    for text in ("DDIM η = 0, 50 steps   step 12/50   t = 980", "DDPM σ² = β̃", "ε, β, ᾱ, θ, μ, Σ, ∇, √, ×, ·, →",
                 "DDIM η = 0, 50 스텝   스텝 12/50   예측한 노이즈", "확산 모델"):
        assert covers(text.replace("̃", "").replace("ᾱ", "α")), text
    assert not covers(MISSING)


def _caption(text: str) -> np.ndarray:
    grid = np.zeros((8, 8, 3), np.uint8)
    return compose_frame([("x_t", grid)], text)[:20]  # the caption strip


def test_greek_and_hangul_captions_are_not_boxes():
    box = _caption(f"DDIM {MISSING} = 0")
    assert not np.array_equal(_caption("DDIM η = 0"), box)
    assert not np.array_equal(_caption(MISSING * 3), _caption("스텝 "))
    assert (_caption("스텝 12") < 128).sum() > 20  # ink where the letters are


def test_a_korean_word_becomes_points_of_its_letters():
    """"확산": two syllables side by side, each of strokes (a box would fill its cell; nothing would raise)."""
    word = sample_2d("text", 4000, seed=0, word="확산").double()
    assert word.shape == (4000, 2) and torch.isfinite(word).all()
    x = word[:, 0]
    middle = (x.min() + x.max()) / 2
    left, right = (x < middle).double().mean(), (x >= middle).double().mean()
    assert 0.25 < left < 0.75 and 0.25 < right < 0.75  # ink in both syllables
    low, high = word.min(0).values, word.max(0).values  # strokes leave most of a 24×12 grid empty
    cells = ((word - low) / (high - low + 1e-9) * torch.tensor([23.999, 11.999], dtype=torch.float64)).long()
    assert len({(int(a), int(b)) for a, b in cells}) / (24 * 12) < 0.75
