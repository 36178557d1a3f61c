"""Draw assets/shapes.png, the bundled example made by this project (deterministic; rerun to rebuild)."""

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256


def draw_shapes() -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE))
    draw = ImageDraw.Draw(image)
    for y in range(SIZE):  # a vertical sky-to-sand gradient, so smooth regions are visible too
        u = y / (SIZE - 1)
        draw.line([(0, y), (SIZE, y)], fill=(int(40 + 200 * u), int(90 + 120 * u), int(200 - 120 * u)))
    draw.ellipse([28, 24, 124, 120], fill=(250, 200, 40))
    draw.rectangle([150, 40, 230, 120], fill=(200, 30, 60))
    draw.polygon([(40, 230), (128, 130), (216, 230)], fill=(20, 120, 60))
    for i in range(8):  # a checkerboard strip of the finest detail
        draw.rectangle([i * 32, 236, i * 32 + 15, 251], fill=(0, 0, 0))
        draw.rectangle([i * 32 + 16, 236, i * 32 + 31, 251], fill=(255, 255, 255))
    return image


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "assets" / "shapes.png"
    draw_shapes().save(out, optimize=True)
    print(f"wrote {out}")
