"""Korean for DDPM Explorer: English text → Korean, one module per tab (the core's coded messages: locale/ko).

Keys are the English text exactly as the code writes it (placeholders such as `{step}` included); a
text missing here shows in English. Equations stay in LaTeX, and the field's symbols (x_t, ᾱ_t, β, ε,
σ², T, SNR) stay as they are in both languages.
"""

from __future__ import annotations

from ui.ko import common, evaluate, forward, lab2d, panels, plots, sample, train

CATALOGUE: dict[str, str] = {}
CONFLICTS: list[tuple[str, str, str]] = []  # (English, Korean kept, Korean of a later module): tests want none
for _module in (common, forward, lab2d, train, sample, evaluate, plots, panels):
    for _english, _korean in _module.KO.items():
        if CATALOGUE.get(_english, _korean) != _korean:
            CONFLICTS.append((_english, CATALOGUE[_english], _korean))
        CATALOGUE.setdefault(_english, _korean)
