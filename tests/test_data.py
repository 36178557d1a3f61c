"""Training folders: every format and mode loads, broken files are skipped and named, flips are fair."""

import json
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from conftest import write_png_header
from ddpm_core import data
from ddpm_core.data import SINGLE_IMAGE_NOTICE, DataError, load_image_folder
from ddpm_core.images import from_uint8, to_uint8


def _save(path, image, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def _noise(size, seed=0, channels=3):
    shape = (size, size, channels) if channels == 3 else (size, size)
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))


def _half_white(size=16):
    """Left half white, right half black: a flip is plain to see."""
    pixels = np.zeros((size, size), dtype=np.uint8)
    pixels[:, : size // 2] = 255
    return Image.fromarray(pixels)


def _every_format(root):
    """One file per format and awkward mode, nested, with mixed-case extensions."""
    rgba = Image.new("RGBA", (40, 30), (0, 0, 255, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 20, 30))
    frames = [Image.new("RGB", (20, 20), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    deep = Image.fromarray(np.tile(np.linspace(0, 65535, 24).astype(np.uint16), (24, 1)))
    _save(root / "a.PNG", _noise(20))
    _save(root / "sub" / "b.JPG", _noise(33, channels=1), quality=90)
    _save(root / "sub" / "deeper" / "c.webp", rgba)
    _save(root / "d.Bmp", _noise(18))
    _save(root / "sub" / "e.gif", frames[0], save_all=True, append_images=frames[1:])
    _save(root / "f.TIFF", deep)
    _save(root / "g.jpeg", Image.new("CMYK", (25, 25), (0, 255, 255, 0)))
    _save(root / "sub" / "h.tif", rgba.convert("P"))
    _save(root / "i.png", deep)
    return 9


@pytest.mark.parametrize("channels", [1, 3])
def test_nested_folder_of_every_format_and_mode_loads(tmp_path, channels):
    count = _every_format(tmp_path / "mixed")
    loaded = load_image_folder(tmp_path / "mixed", 16, channels=channels)
    assert loaded.num_images == count and loaded.skipped == [] and loaded.others == []
    assert loaded.in_memory and loaded.dataset.pixels.shape == (count, channels, 16, 16)
    assert "sub/deeper/c.webp" in loaded.dataset.files
    for x in loaded.dataset:
        assert x.shape == (channels, 16, 16) and x.dtype == torch.float32
        assert x.min() >= -1 and x.max() <= 1


def test_colours_survive_palette_alpha_cmyk_and_gif_frames(tmp_path):
    _every_format(tmp_path / "mixed")
    loaded = load_image_folder(tmp_path / "mixed", 16, flip=False)
    by_name = {name: to_uint8(loaded.dataset[i]) for i, name in enumerate(loaded.dataset.files)}
    assert tuple(by_name["sub/deeper/c.webp"][8, 14]) == (255, 255, 255)  # transparent: white
    assert by_name["sub/deeper/c.webp"][8, 2, 2] > 200  # opaque: blue
    r, g, _ = by_name["sub/e.gif"][8, 8]
    assert r > 200 and g < 60  # first frame only
    assert by_name["g.jpeg"][8, 8, 0] > 200 and by_name["g.jpeg"][8, 8, 1] < 60  # CMYK red
    ramp = by_name["i.png"][8, :, 0]  # 16-bit: scaled to 0..255, not clipped to white
    assert ramp[0] < 40 and ramp[-1] > 215 and np.all(np.diff(ramp.astype(int)) >= 0)


@pytest.mark.parametrize("shape", [(100, 300), (300, 100)])
def test_resize_then_centre_crop_keeps_the_centre_third(tmp_path, shape):
    pixels = np.zeros(shape + (3,), dtype=np.uint8)
    if shape[1] > shape[0]:
        pixels[:, 100:200] = 255  # wide: a white centre column band
    else:
        pixels[100:200, :] = 255  # tall: a white centre row band
    _save(tmp_path / "bands" / "band.png", Image.fromarray(pixels))
    x = load_image_folder(tmp_path / "bands", 32, flip=False).dataset[0]
    assert x.shape == (3, 32, 32)
    assert x[:, 2:-2, 2:-2].min() > 0.95  # all white: the black outer thirds were cropped away
    assert x.mean() > 0.9


def test_exact_values_when_no_resampling_is_needed(tmp_path):
    image = _noise(16, seed=3)
    _save(tmp_path / "exact" / "n.png", image)
    x = load_image_folder(tmp_path / "exact", 16, flip=False).dataset[0]
    expected = from_uint8(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
    assert torch.equal(x, expected)


def test_grey_and_rgb_channel_counts(tmp_path):
    _save(tmp_path / "red" / "red.png", Image.new("RGB", (20, 20), (255, 0, 0)))
    grey = load_image_folder(tmp_path / "red", 16, channels=1, flip=False)
    rgb = load_image_folder(tmp_path / "red", 16, channels=3, flip=False)
    assert grey.dataset[0].shape == (1, 16, 16) and rgb.dataset[0].shape == (3, 16, 16)
    assert to_uint8(grey.dataset[0])[0, 0] == 76  # ITU-R 601 luma of pure red
    assert tuple(to_uint8(rgb.dataset[0])[0, 0]) == (255, 0, 0)
    assert "16×16 grey" in str(grey.summary()) and "16×16 RGB" in str(rgb.summary())


def _broken_folder(root):
    """One good image, four unreadable ones and a text file."""
    _save(root / "good.png", _noise(16))
    root.joinpath("notes.png").write_text("this is not a picture")
    jpeg = _save(root / "sub" / "cut.jpg", _noise(64, seed=1)).read_bytes()
    root.joinpath("sub", "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    root.joinpath("empty.png").write_bytes(b"")
    write_png_header(root / "bomb.png", 20000, 20000)
    root.joinpath("readme.txt").write_text("images of cats")


def test_unreadable_files_are_skipped_and_reported(tmp_path):
    _broken_folder(tmp_path / "cats")
    loaded = load_image_folder(tmp_path / "cats", 16)
    assert loaded.num_images == 1 and loaded.dataset.files == ["good.png"]
    reasons = dict(loaded.skipped)
    assert sorted(reasons) == ["bomb.png", "empty.png", "notes.png", "sub/cut.jpg"]
    assert reasons["notes.png"].startswith("not an image")
    assert reasons["sub/cut.jpg"].startswith("damaged or truncated")
    assert reasons["empty.png"] == "empty (0 bytes)"
    assert reasons["bomb.png"] == "too large to decode safely (400 MP); the limit is 40 MP"
    assert loaded.others == ["readme.txt"]
    summary = str(loaded.summary())
    assert summary.startswith("1 image from cats/ at 16×16 RGB")
    assert "4 files skipped: bomb.png (too large" in summary and "notes.png (not an image" in summary
    assert "1 other file ignored" in summary


def test_to_dict_is_json_safe_and_names_no_absolute_path(tmp_path):
    _broken_folder(tmp_path / "cats")
    record = load_image_folder(tmp_path / "cats", 24, channels=1, flip=False).to_dict()
    text = json.dumps(record)
    assert str(tmp_path) not in text
    assert json.loads(text) == record
    assert record["root"] == "cats" and record["num_images"] == 1 and record["num_skipped"] == 4
    assert record["num_ignored"] == 1
    assert (record["image_size"], record["channels"], record["flip"]) == (24, 1, False)
    assert ["empty.png", "empty (0 bytes)"] in record["skipped"]


def test_summary_names_a_few_skipped_files_and_counts_the_rest(tmp_path):
    _save(tmp_path / "many" / "ok.png", _noise(16))
    for i in range(8):
        (tmp_path / "many" / f"bad{i}.png").write_bytes(b"")
    summary = str(load_image_folder(tmp_path / "many", 16).summary())
    assert "8 files skipped" in summary and summary.endswith("and 3 more")


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"No images found in empty/.*\.png, \.jpg.*The folder is empty"):
        load_image_folder(tmp_path / "empty", 16)


def test_folder_of_other_files_says_what_was_searched_and_found(tmp_path):
    (tmp_path / "docs").mkdir()
    for name in ("a.txt", "b.csv"):
        (tmp_path / "docs" / name).write_text("x")
    with pytest.raises(DataError, match=r"No images found.*\.webp.*\.tiff.*2 other files, e\.g\. a\.txt, b\.csv"):
        load_image_folder(tmp_path / "docs", 16)


def test_all_broken_folder_lists_reasons_before_training(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    root.joinpath("a.png").write_bytes(b"")
    root.joinpath("b.jpg").write_text("nope")
    with pytest.raises(DataError, match=r"None of the 2 image files in broken/ could be read: "
                                        r"a\.png \(empty \(0 bytes\)\), b\.jpg \(not an image"):
        load_image_folder(root, 16)


def test_bad_root_and_settings(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "nowhere", 16)
    a_file = _save(tmp_path / "one.png", _noise(16))
    with pytest.raises(DataError, match="is not a folder"):
        load_image_folder(a_file, 16)
    for size in (8, 256, 16.5):
        with pytest.raises(DataError, match="from 16 to 128"):
            load_image_folder(tmp_path, size)
    with pytest.raises(DataError, match=r"1 \(grey\) or 3"):
        load_image_folder(tmp_path, 16, channels=2)
    assert issubclass(DataError, ValueError)


def test_single_image_works_with_a_notice(tmp_path):
    _save(tmp_path / "solo" / "me.png", _noise(16))
    loaded = load_image_folder(tmp_path / "solo", 16)
    assert loaded.num_images == 1 and loaded.notice == SINGLE_IMAGE_NOTICE
    batch = next(iter(DataLoader(loaded.dataset, batch_size=4)))
    assert batch.shape == (1, 3, 16, 16)
    _save(tmp_path / "solo" / "you.png", _noise(16, seed=1))
    assert load_image_folder(tmp_path / "solo", 16).notice is None


def test_hidden_entries_are_ignored_and_links_out_of_the_folder_not_followed(tmp_path):
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    _save(root / "seen.png", _noise(16))
    _save(root / ".hidden.png", _noise(16))
    _save(root / ".git" / "inside.png", _noise(16))
    _save(outside / "secret.png", _noise(16))
    os.symlink(outside / "secret.png", root / "link.png")
    os.symlink(outside, root / "linked_dir")
    os.symlink(root / "seen.png", root / "alias.png")  # a link that stays inside is fine
    loaded = load_image_folder(root, 16)
    assert loaded.dataset.files == ["alias.png", "seen.png"]
    assert dict(loaded.skipped) == {"link.png": "link to a file outside the folder, not followed",
                                    "linked_dir": "linked folder, not followed"}
    assert loaded.others == []


def test_flip_shows_both_orientations_only_when_asked(tmp_path):
    _save(tmp_path / "half" / "half.png", _half_white())
    flipping = load_image_folder(tmp_path / "half", 16, channels=1).dataset
    still = load_image_folder(tmp_path / "half", 16, channels=1, flip=False).dataset
    original = still[0]
    torch.manual_seed(0)
    draws = [flipping[0] for _ in range(400)]
    flipped = sum(torch.equal(x, original.flip(-1)) for x in draws)
    assert all(torch.equal(x, original) or torch.equal(x, original.flip(-1)) for x in draws)
    assert abs(flipped / 400 - 0.5) < 0.1  # 4σ for a fair coin over 400 draws (σ = 0.025)
    assert all(torch.equal(still[0], original) for _ in range(50))
    torch.manual_seed(1)
    first = [flipping[0][0, 0, 0].item() for _ in range(20)]
    torch.manual_seed(1)
    assert first == [flipping[0][0, 0, 0].item() for _ in range(20)]  # the global RNG decides


def test_in_memory_data_is_decoded_once(tmp_path, monkeypatch):
    for i in range(5):
        _save(tmp_path / "five" / f"{i}.png", _noise(20, seed=i))
    calls = []
    real_decode = data.decode_image
    monkeypatch.setattr(data, "decode_image", lambda *args: calls.append(args) or real_decode(*args))
    loaded = load_image_folder(tmp_path / "five", 16, flip=True)
    assert len(calls) == 5 and loaded.in_memory
    pixels = loaded.dataset.pixels
    assert pixels.dtype == torch.uint8 and pixels.shape == (5, 3, 16, 16)
    loader = DataLoader(loaded.dataset, batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        batches = list(loader)
        assert [b.shape[0] for b in batches] == [2, 2, 1]
        assert all(b.shape[1:] == (3, 16, 16) and b.dtype == torch.float32 for b in batches)
    assert len(calls) == 5  # training never decodes again
    stacked = torch.cat(batches)  # every image once per epoch, each flipped or not
    for x in from_uint8(pixels):
        assert any(torch.equal(y, x) or torch.equal(y, x.flip(-1)) for y in stacked)


def test_large_data_is_decoded_per_item_with_the_same_result(tmp_path, monkeypatch):
    for i in range(3):
        _save(tmp_path / "three" / f"{i}.jpg", _noise(40, seed=i))
    kept = load_image_folder(tmp_path / "three", 16, flip=False)
    calls = []
    real_decode = data.decode_image
    monkeypatch.setattr(data, "decode_image", lambda *args: calls.append(args) or real_decode(*args))
    lazy = load_image_folder(tmp_path / "three", 16, flip=False, max_in_memory_bytes=0)
    assert kept.in_memory and not lazy.in_memory and len(calls) == 3  # validated up front
    assert all(torch.equal(kept.dataset[i], lazy.dataset[i]) for i in range(3))
    assert len(calls) == 6  # and decoded again per access
    os.remove(tmp_path / "three" / "1.jpg")
    with pytest.raises(DataError, match=r"1\.jpg could not be read during training"):
        lazy.dataset[1]


def test_dataloader_workers_and_progress(tmp_path):
    for i in range(6):
        _save(tmp_path / "six" / f"{i}.png", _noise(16, seed=i))
    seen = []
    loaded = load_image_folder(tmp_path / "six", 16, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]
    loader = DataLoader(loaded.dataset, batch_size=3, num_workers=2)
    assert [tuple(b.shape) for b in loader] == [(3, 3, 16, 16)] * 2


def test_the_bundled_digits_are_ten_class_folders():
    classes = data.folder_classes(os.path.join(os.path.dirname(__file__), "..", "assets", "digits"))
    assert classes.names == tuple("0123456789") and sum(classes.counts) == 1797
    assert classes.notices() == [] and not classes.root_images and not classes.empty


def test_many_classes_are_named_up_to_a_dozen(tmp_path):
    for k in range(14):
        _save(tmp_path / f"c{k:02d}" / "a.png", _noise(16, k))
        _save(tmp_path / f"c{k:02d}" / "b.png", _noise(16, k + 100))
    summary = str(data.folder_classes(tmp_path).summary())
    assert summary.startswith("14 classes: c00 (2), c01 (2)") and summary.endswith("c11 (2) and 2 more")


def test_eighteen_hundred_small_images_load_quickly(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(1800):
        folder = tmp_path / "digits" / str(i % 10)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 17, (8, 8), dtype=np.uint8) * 15).save(folder / f"{i}.png")
    start = time.perf_counter()
    loaded = load_image_folder(tmp_path / "digits", 16, channels=1)
    elapsed = time.perf_counter() - start
    assert loaded.num_images == 1800 and loaded.dataset.pixels.shape == (1800, 1, 16, 16)
    assert str(loaded.summary()).startswith("1,800 images from digits/ at 16×16 grey")
    assert elapsed < 30  # about 0.6 s on 2 busy cores; the bound only catches pathologies
