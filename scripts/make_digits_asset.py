"""Write assets/digits/, the bundled training set: the 1,797 handwritten digits scikit-learn carries.

The digits are the test set of the UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin,
C. Kaynak, 1998; CC BY 4.0), shipped inside scikit-learn as `sklearn/datasets/data/digits.csv.gz`:
one row per image, 64 pixel counts 0..16 (an 8×8 image, row-major) then the label 0..9.

Each row becomes `assets/digits/<label>/<row:04d>.png`, an 8×8 8-bit grey PNG with value v drawn as
round(255·v/16). High counts are ink, so the digits are white on black, as in the data. The output is
deterministic (same rows, same names, same bytes); old PNGs in the label folders are removed first.

Nothing is downloaded. scikit-learn is not a dependency of this project; read its data from either

    python scripts/make_digits_asset.py                        # an installed scikit-learn
    python scripts/make_digits_asset.py scikit_learn-*.whl     # a wheel, e.g. from
                                                               #   pip download scikit-learn --no-deps
    python scripts/make_digits_asset.py digits.csv.gz          # the file itself (or an unpacked .csv)

and `--out DIR` to write somewhere other than assets/digits.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
WHEEL_MEMBER = "sklearn/datasets/data/digits.csv.gz"
NUM_DIGITS = 1797
SIDE = 8
MAX_COUNT = 16  # each pixel counts the "on" pixels of a 4×4 block of the original 32×32 bitmap


def read_source(source: str | None) -> bytes:
    """The raw digits.csv.gz (or .csv) bytes from a path, a scikit-learn wheel, or the installed package."""
    if source is None:
        spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
        if spec is None or spec.origin is None:
            raise SystemExit("scikit-learn is not installed here; pass the path of its wheel or of "
                             "digits.csv.gz (see this script's docstring).")
        return (Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz").read_bytes()
    path = Path(source)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(WHEEL_MEMBER)
    return path.read_bytes()


def parse_digits(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 8, 8) uint8 counts 0..16, labels (N,) int) from the CSV, gzipped or not."""
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("ascii")
    rows = np.array([[int(v) for v in line.split(",")] for line in text.splitlines() if line.strip()])
    if rows.shape != (NUM_DIGITS, SIDE * SIDE + 1):
        raise SystemExit(f"expected {NUM_DIGITS} rows of {SIDE * SIDE + 1} values, got {rows.shape}")
    images, labels = rows[:, :-1], rows[:, -1]
    if images.min() < 0 or images.max() > MAX_COUNT or not set(labels) <= set(range(10)):
        raise SystemExit("values out of range: pixels should be 0..16 and labels 0..9")
    return images.reshape(-1, SIDE, SIDE).astype(np.uint8), labels


def to_grey(counts: np.ndarray) -> np.ndarray:
    """Counts 0..16 → grey 0..255, round half up (16 → 255, 8 → 128)."""
    return ((counts.astype(np.int32) * 255 + MAX_COUNT // 2) // MAX_COUNT).astype(np.uint8)


def write_digits(images: np.ndarray, labels: np.ndarray, out: Path) -> int:
    """Write `out/<label>/<row:04d>.png` for every row; returns the total bytes written."""
    for old in out.glob("[0-9]/*.png"):
        old.unlink()
    total = 0
    for row, (counts, label) in enumerate(zip(images, labels)):
        path = out / str(label) / f"{row:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_grey(counts), "L").save(path, optimize=True)
        total += path.stat().st_size
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", help="scikit-learn wheel, or digits.csv.gz / .csv "
                        "(default: the installed scikit-learn)")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "digits")
    args = parser.parse_args(argv)
    raw = read_source(args.source)
    images, labels = parse_digits(raw)
    total = write_digits(images, labels, args.out)
    counts = np.bincount(labels, minlength=10).tolist()
    print(f"read {len(raw):,} bytes (sha256 {hashlib.sha256(raw).hexdigest()})")
    print(f"wrote {len(labels):,} PNGs ({total:,} bytes) to {args.out}; per label 0..9: {counts}")


if __name__ == "__main__":
    main()
