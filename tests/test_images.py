"""Reading user images: every odd or hostile file becomes a tensor in [−1, 1] or a clear ImageError."""


import numpy as np
import pytest
import torch
from PIL import Image

from conftest import write_png_header
from ddpm_core.images import ImageError, from_uint8, load_image, to_uint8


def _save(tmp_path, name, image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return str(path)


def test_rgb_round_trip_is_exact_at_native_size(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    x = load_image(_save(tmp_path, "a.png", Image.fromarray(pixels)), 64)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert np.array_equal(to_uint8(x), pixels)


def test_pixel_mapping_endpoints():
    assert from_uint8(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]
    assert to_uint8(torch.tensor([[[-3.0, 3.0]]])).ravel().tolist() == [0, 255]  # clipped, not wrapped


def test_resize_and_centre_crop_to_a_square(tmp_path):
    wide = np.zeros((100, 300, 3), dtype=np.uint8)
    wide[:, 100:200] = 255  # a white centre third: after a centre crop the whole square is white
    x = load_image(_save(tmp_path, "wide.png", Image.fromarray(wide)), 64, fit="crop")
    assert x.shape == (3, 64, 64)
    assert to_uint8(x)[:, 4:-4].min() >= 250


def test_grey_gives_one_channel(tmp_path):
    x = load_image(_save(tmp_path, "c.png", Image.new("RGB", (80, 80), (255, 0, 0))), 64, channels=1)
    assert x.shape == (1, 64, 64)
    assert to_uint8(x).shape == (64, 64) and to_uint8(x)[0, 0] == 76  # ITU-R 601 luma of pure red: 0.299·255


def test_cmyk_jpeg(tmp_path):
    x = load_image(_save(tmp_path, "cmyk.jpg", Image.new("CMYK", (70, 70), (0, 255, 255, 0))), 64)
    r, g, b = to_uint8(x)[32, 32]
    assert r > 200 and g < 60 and b < 60


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    path = _save(tmp_path, "deep.png", Image.fromarray(ramp))
    assert Image.open(path).mode.startswith("I")
    grey = to_uint8(load_image(path, 64, channels=1))
    assert grey[0, 0] <= 2 and grey[0, -1] >= 253 and 100 < grey[0, 32] < 156


def test_palette_with_transparency_and_rgba_become_white_where_transparent(tmp_path):
    rgba = Image.new("RGBA", (64, 64), (0, 0, 255, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 32, 64))
    for name, image in (("rgba.png", rgba), ("pal.png", rgba.convert("P"))):
        pixels = to_uint8(load_image(_save(tmp_path, name, image), 64))
        assert tuple(pixels[10, 50]) == (255, 255, 255), name  # transparent half: white
        assert pixels[10, 10, 2] > 200 and pixels[10, 10, 0] < 60, name  # opaque half: blue


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (64, 64), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 64, 32))  # white top half as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the white half ends up on the right
    path = _save(tmp_path, "rot.jpg", image, exif=exif, quality=95)
    pixels = to_uint8(load_image(path, 64, channels=1))
    assert pixels[32, 56] > 200 and pixels[32, 8] < 50


def test_animated_gif_uses_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (64, 64), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    path = str(tmp_path / "anim.gif")
    frames[0].save(path, save_all=True, append_images=frames[1:])
    r, g, _ = to_uint8(load_image(path, 64))[5, 5]
    assert r > 200 and g < 60


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_text("this is not a picture"), "not an image this app can read"),
    (lambda p: write_png_header(p, 20000, 20000), r"too large.*\(400 MP\); the limit is 40 MP"),
    (lambda p: write_png_header(p, 9000, 6000), r"too large.*\(9000×6000 pixels, 54 MP\); the limit is 40 MP"),
])
def test_unreadable_files_are_refused_with_a_reason(tmp_path, make, message):
    path = tmp_path / "upload.png"
    make(path)
    with pytest.raises(ImageError, match=message):
        load_image(str(path), 64)


def test_truncated_image_is_refused(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    for name in ("t.png", "t.jpg"):
        data = open(_save(tmp_path, name, Image.fromarray(noise)), "rb").read()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageError, match="damaged or truncated"):
            load_image(str(tmp_path / name), 64)


def test_missing_file_and_bad_settings(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(str(tmp_path / "nope.png"), 64)
    ok = _save(tmp_path, "ok.png", Image.new("RGB", (64, 64)))
    with pytest.raises(ImageError, match="from 64 to 512"):
        load_image(ok, 32)
    with pytest.raises(ImageError, match="1 \\(grey\\) or 3"):
        load_image(ok, 64, channels=2)


def test_bundled_examples_all_load():
    from conftest import ASSETS

    files = sorted(p for p in ASSETS.iterdir() if p.suffix in (".png", ".jpg"))
    assert len(files) >= 4
    for path in files:
        assert load_image(str(path), 128).shape == (3, 128, 128)


def test_pad_keeps_the_whole_of_a_wide_image_and_crop_keeps_its_centre(tmp_path):
    """"HELLO DDPM" must not become "HELLO DDPN": a 2:1 image with a mark at its right edge, made square."""
    from ddpm_core.images import load_image

    pixels = np.full((50, 100), 255, np.uint8)
    pixels[20:30, 92:100] = 0  # the mark, at the far right
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    padded = load_image(str(tmp_path / "wide.png"), 64, channels=1)  # the default: pad
    cropped = load_image(str(tmp_path / "wide.png"), 64, channels=1, fit="crop")
    assert padded.shape == cropped.shape == (1, 64, 64)
    # pad: the image is 64×32 in the middle rows, with mid-grey (0 in model space) bands above and below
    assert padded[0, :15].abs().max() < 0.01 and padded[0, -15:].abs().max() < 0.01
    assert padded[0, 30:35, 60:63].mean() < -0.5  # the mark survives at the right edge
    assert cropped.min() > 0.9  # crop keeps the centre 50×50: the mark is gone, all white
    square = np.full((40, 40), 255, np.uint8)
    Image.fromarray(square).save(tmp_path / "square.png")
    square_file = str(tmp_path / "square.png")
    assert torch.equal(load_image(square_file, 64, 1), load_image(square_file, 64, 1, fit="crop"))
    with pytest.raises(ValueError, match="unknown fit 'stretch'"):
        load_image(square_file, 64, 1, fit="stretch")
