"""Uploaded training files: images copied, one zip extracted safely, hostile zips refused before writing."""

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ddpm_core.data import load_image_folder
from server.uploads import UploadError, UploadLimits, collect_uploads


def _png_bytes(value: int = 0, size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size), value, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def workspace(tmp_path):
    """(uploads folder, destination); a sentinel folder beside them shows nothing escaped."""
    uploads, dest = tmp_path / "uploads", tmp_path / "box" / "dest"
    uploads.mkdir()
    return uploads, dest


def _assert_nothing_written(tmp_path: Path, uploads: Path, dest: Path) -> None:
    assert not dest.exists() or not any(dest.iterdir()), "nothing extracted"
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and uploads not in p.parents]
    assert outside == [], f"files written outside the uploads: {outside}"


def test_images_and_a_zip_with_nested_folders_keep_only_images(workspace):
    uploads, dest = workspace
    (uploads / "a.PNG").write_bytes(_png_bytes(10))
    (uploads / "b.jpeg").write_bytes(_jpeg())
    (uploads / "notes.txt").write_text("ignored")
    archive = _zip(uploads / "set.ZIP", {
        "digits/0/x.png": _png_bytes(20), "digits/1/y.Png": _png_bytes(30), "digits/readme.md": b"# no",
        "digits/inner.zip": b"PK nested archives are ignored", "__MACOSX/digits/._x.png": b"fork",
        "digits/.hidden.png": _png_bytes(), "digits/empty/": b"",
    })
    folder = collect_uploads([uploads / "a.PNG", uploads / "b.jpeg", uploads / "notes.txt", archive], dest)
    assert folder == dest
    # every image of the zip sits under digits/: that folder is dropped, and its subfolders are the classes
    assert _files_under(dest) == ["0/x.png", "1/y.Png", "a.PNG", "b.jpeg"]
    assert load_image_folder(dest, 16, channels=1).num_images == 4


@pytest.mark.parametrize("entries,expected", [
    ({"digits/0/a.png": 1, "digits/1/b.png": 2, "digits/1/c.png": 3},
     ["0/a.png", "1/b.png", "1/c.png"]),  # a zipped class folder: its classes at the top
    ({"home/me/digits/0/a.png": 1, "home/me/digits/1/b.png": 2, "home/me/notes.txt": 0},
     ["0/a.png", "1/b.png"]),  # every shared folder goes, however deep; other files do not count
    ({"0/a.png": 1, "1/b.png": 2}, ["0/a.png", "1/b.png"]),  # classes already at the top
    ({"digits/0/a.png": 1, "more/b.png": 2}, ["digits/0/a.png", "more/b.png"]),  # no folder shared by all
    ({"digits/0/a.png": 1, "digits/b.png": 2}, ["0/a.png", "b.png"]),  # one image beside the class folder
    ({"set/a.png": 1, "set/b.png": 2}, ["a.png", "b.png"]),  # a plain folder of images
])
def test_a_folder_shared_by_every_image_of_the_zip_is_dropped(workspace, entries, expected):
    uploads, dest = workspace
    archive = _zip(uploads / "data.zip", {name: _png_bytes(value * 40) if name.endswith(".png") else b"text"
                                          for name, value in entries.items()})
    assert _files_under(collect_uploads([archive], dest)) == expected


def test_a_zipped_folder_of_class_folders_trains_with_those_classes(workspace):
    uploads, dest = workspace
    archive = _zip(uploads / "digits.zip", {f"digits/{k}/{i}.png": _png_bytes(20 * k + i) for k in range(3)
                                            for i in range(2)})
    data = load_image_folder(collect_uploads([archive], dest), 16, channels=1, conditional=True)
    assert data.classes.names == ("0", "1", "2") and data.num_images == 6


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "JPEG")
    return buffer.getvalue()


def test_same_names_from_different_uploads_both_kept(tmp_path):
    first, second = tmp_path / "1", tmp_path / "2"
    for folder, value in ((first, 0), (second, 255)):
        folder.mkdir()
        (folder / "img.png").write_bytes(_png_bytes(value))
    dest = collect_uploads([first / "img.png", second / "img.png"], tmp_path / "dest")
    assert _files_under(dest) == ["img-1.png", "img.png"]


@pytest.mark.parametrize("entry,message", [
    ("../evil.png", "outside the folder"),
    ("digits/../../evil.png", "outside the folder"),
    ("/etc/x.png", "outside the folder"),
    ("C:/Windows/x.png", "outside the folder"),
    ("..\\evil.png", "outside the folder"),
])
def test_zip_slip_is_refused_naming_the_entry(workspace, tmp_path, entry, message):
    uploads, dest = workspace
    archive = _zip(uploads / "slip.zip", {"good.png": _png_bytes(), entry: _png_bytes()})
    with pytest.raises(UploadError, match=message) as caught:
        collect_uploads([archive], dest)
    assert entry in str(caught.value) and "slip.zip" in str(caught.value)
    _assert_nothing_written(tmp_path, uploads, dest)


def test_symlink_entry_is_refused(workspace, tmp_path):
    uploads, dest = workspace
    archive = uploads / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", _png_bytes())
        link = zipfile.ZipInfo("passwd.png")
        link.create_system = 3  # Unix, so external_attr carries the mode
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(UploadError, match="'passwd.png', a symbolic link"):
        collect_uploads([archive], dest)
    _assert_nothing_written(tmp_path, uploads, dest)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """1 GiB of zeros named like an image, deflated to about 4.5 MB; written in chunks (little memory)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("pics/bomb.png", "w", force_zip64=True) as entry:
            chunk = bytes(2**20)
            for _ in range(1024):
                entry.write(chunk)
    return path


def test_zip_bomb_is_refused_before_anything_is_written(bomb, tmp_path):
    dest = tmp_path / "dest"
    with pytest.raises(UploadError, match=r"'pics/bomb.png', which unpacks \d[\d,]* times larger.*zip bomb"):
        collect_uploads([bomb], dest)
    assert not dest.exists() or not any(dest.iterdir())


def test_total_unpacked_size_is_capped(workspace, tmp_path):
    uploads, dest = workspace
    noise = np.random.default_rng(0).integers(0, 256, 300_000, np.uint8).tobytes()  # incompressible
    archive = _zip(uploads / "big.zip", {f"{i}.bmp": noise for i in range(4)})
    limits = UploadLimits(max_unzipped_bytes=1_000_000)
    with pytest.raises(UploadError, match=r"'big.zip' would take 1.1 MB unpacked; at most 1.0 MB"):
        collect_uploads([archive], dest, limits)
    _assert_nothing_written(tmp_path, uploads, dest)


def test_too_many_entries_and_too_many_files(workspace, tmp_path):
    uploads, dest = workspace
    archive = _zip(uploads / "many.zip", {f"{i}.png": b"x" for i in range(30)})
    with pytest.raises(UploadError, match="'many.zip' has 30 entries; at most 20"):
        collect_uploads([archive], dest, UploadLimits(max_zip_entries=20))
    with pytest.raises(UploadError, match="'many.zip' holds 30 images .* at most 10"):
        collect_uploads([archive], dest, UploadLimits(max_files=10))
    pictures = []
    for i in range(4):
        pictures.append(uploads / f"{i}.png")
        pictures[-1].write_bytes(_png_bytes())
    with pytest.raises(UploadError, match="4 files uploaded; at most 3"):
        collect_uploads(pictures, dest, UploadLimits(max_files=3))
    _assert_nothing_written(tmp_path, uploads, dest)


def test_upload_bytes_are_capped(workspace, tmp_path):
    uploads, dest = workspace
    (uploads / "a.png").write_bytes(_png_bytes(size=64))
    with pytest.raises(UploadError, match="The uploads total .* MB; at most"):
        collect_uploads([uploads / "a.png"], dest, UploadLimits(max_upload_bytes=10))
    _assert_nothing_written(tmp_path, uploads, dest)


@pytest.mark.parametrize("make,message", [
    (lambda u: [], "Upload some images"),
    (lambda u: [_write(u / "a.txt", b"text")], "None of the uploaded files is an image or a .zip: a.txt"),
    (lambda u: [_zip(u / "a.zip", {"x.png": b"1"}), _zip(u / "b.zip", {"y.png": b"2"})], "one .zip at a time"),
    (lambda u: [_zip(u / "docs.zip", {"a.txt": b"1", "inner.zip": b"2"})], "'docs.zip' holds no images"),
    (lambda u: [_write(u / "fake.zip", b"not a zip at all")], "'fake.zip' is not a readable zip file"),
])
def test_unusable_uploads_get_a_clear_message(workspace, tmp_path, make, message):
    uploads, dest = workspace
    with pytest.raises(UploadError, match=message):
        collect_uploads(make(uploads), dest)
    _assert_nothing_written(tmp_path, uploads, dest)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_encrypted_entries_and_links_among_uploads_are_refused(workspace, tmp_path):
    uploads, dest = workspace
    data = bytearray(_zip(uploads / "plain.zip", {"secret.png": b"ciphertext"}).read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        data[data.index(signature) + offset] |= 0x1  # the flag a password-protected entry carries
    archive = _write(uploads / "locked.zip", bytes(data))
    with pytest.raises(UploadError, match="encrypted"):
        collect_uploads([archive], dest)
    link = uploads / "link.png"
    link.symlink_to("/etc/hostname")
    with pytest.raises(UploadError, match="'link.png' is not a regular file"):
        collect_uploads([link], dest)
    _assert_nothing_written(tmp_path, uploads, dest)


def test_destination_must_be_empty(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "old.png").write_bytes(_png_bytes())
    (tmp_path / "a.png").write_bytes(_png_bytes())
    with pytest.raises(ValueError, match="not empty"):
        collect_uploads([tmp_path / "a.png"], dest)
