"""Make assets/fonts/DDPMExplorerSans.ttf: NanumGothic (NAVER, SIL OFL 1.1), subset to what the app draws.

The frame captions of exported animations and the 2-D lab's typed words are drawn with Pillow, whose
built-in font has neither Greek (η, β, ε) nor Hangul. This keeps NanumGothic's Basic Latin, Latin-1,
Greek, punctuation, super/subscripts, arrows, mathematical operators, geometric shapes, Hangul
compatibility jamo and all 11,172 Hangul syllables, about 1.9 MB instead of 4.7 MB. The OFL reserves the
name "NanumGothic" for the original, so the subset is renamed "DDPM Explorer Sans".

    pip install fonttools     # not a dependency of the app: only this script needs it
    python scripts/make_font_asset.py [/usr/share/fonts/truetype/nanum/NanumGothic.ttf]

Debian's fonts-nanum package holds the source file (its copyright file carries the licence, copied to
assets/fonts/OFL.txt).
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
TARGET = ROOT / "assets" / "fonts" / "DDPMExplorerSans.ttf"
UNICODES = ("U+0020-007E,U+00A0-00FF,U+0370-03FF,U+2000-206F,U+2070-209F,U+2190-21FF,U+2200-22FF,"
            "U+25A0-25FF,U+3130-318F,U+AC00-D7A3")
FAMILY = "DDPM Explorer Sans"


def main() -> None:
    options = subset.Options()
    options.layout_features = ["*"]
    font = TTFont(SOURCE)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=subset.parse_unicodes(UNICODES))
    subsetter.subset(font)
    for record in font["name"].names:
        if record.nameID in (1, 4, 16):  # family, full name, typographic family
            record.string = FAMILY
        elif record.nameID == 6:  # PostScript name
            record.string = FAMILY.replace(" ", "")
        elif record.nameID == 3:  # unique identifier
            record.string = f"{FAMILY.replace(' ', '')}-Regular;subset of NanumGothic"
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    font.save(TARGET)
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes, {len(font.getBestCmap()):,} characters")


if __name__ == "__main__":
    main()
