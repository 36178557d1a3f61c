"""Uploaded training files made safe: image files copied and one .zip extracted, with limits checked first.

`collect_uploads` turns what a user uploaded (image files and/or one .zip of images) into one folder
to train on. Every limit is checked before anything is written: the number and bytes of the uploads,
and for the zip its entry count, each entry's path (no absolute paths or `..`: "zip slip"), type
(no symbolic links, no encrypted entries), compression ratio (a zip bomb) and the total uncompressed
size. Only image files are extracted; nested archives and other files are ignored. Extraction then
counts the bytes it really writes, so a zip whose headers understate its sizes is stopped too.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ddpm_core.data import IMAGE_EXTENSIONS
from ddpm_core.errors import UserError

ZIP_EXTENSION = ".zip"
CHUNK_BYTES = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")  # "C:..." is absolute on Windows


class UploadError(UserError):
    """Uploaded files that cannot be used; the message names the file or zip entry and says why."""


@dataclass(frozen=True)
class UploadLimits:
    """Caps on what one collection may hold (all checked before anything is written)."""

    max_files: int = 500  # image files uploaded plus images in the zip
    max_upload_bytes: int = 50 * 2**20  # the uploaded files as they arrived
    max_zip_entries: int = 2_000  # every entry of the zip, folders and ignored files included
    max_unzipped_bytes: int = 200 * 2**20  # the images extracted from the zip, uncompressed
    max_ratio: float = 100.0  # uncompressed / compressed, per entry ...
    ratio_min_bytes: int = 2**20  # ... for entries larger than this: a small blank BMP may compress 500:1


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def collect_uploads(paths, dest_dir, limits: UploadLimits = UploadLimits()) -> Path:
    """Copy the uploaded images and extract the images of at most one .zip into `dest_dir`; return it.

    `dest_dir` must be empty or not exist yet. Raises UploadError (writing nothing, or removing what
    it wrote) when the uploads break a limit, the zip is unsafe, or no image is left to train on.
    """
    dest = Path(dest_dir)
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"'{dest}' is not empty; uploads go into an empty folder")
    files = [Path(p) for p in paths or []]
    if not files:
        raise UploadError("upload.none", "Upload some images, or one .zip of images, first.")
    images, archives, others = _classify(files)
    _check_uploads(files, images, limits)
    if len(archives) > 1:
        raise UploadError("upload.one_zip", "Upload one .zip at a time; got {count}: {names}.", count=len(archives),
                          names=", ".join(p.name for p in archives))
    entries = _safe_entries(archives[0], limits, len(images)) if archives else []
    if not images and not entries:
        raise _nothing_usable(others, archives)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if archives:
            _extract(archives[0], entries, dest, limits)
        for path in images:
            shutil.copyfile(path, _free_name(dest, path.name))
    except BaseException:
        _empty(dest)
        raise
    return dest


def _classify(files: list[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    images, archives, others = [], [], []
    for path in files:
        if path.is_symlink() or not path.is_file():
            raise UploadError("upload.not_regular", "'{name}' is not a regular file.", name=path.name)
        name = path.name.lower()
        (images if is_image_name(name) else archives if name.endswith(ZIP_EXTENSION) else others).append(path)
    return images, archives, others


def _check_uploads(files: list[Path], images: list[Path], limits: UploadLimits) -> None:
    if len(files) > limits.max_files:
        raise UploadError("upload.too_many_files", "{count:,} files uploaded; at most {limit:,} are accepted here. "
                          "Upload fewer, or one .zip.", count=len(files), limit=limits.max_files)
    total = sum(path.stat().st_size for path in files)
    if total > limits.max_upload_bytes:
        raise UploadError("upload.too_large", "The uploads total {mb:,.1f} MB; at most {limit_mb:,.1f} MB are "
                          "accepted here. Use fewer or smaller images (they are resized to at most 128 px anyway).",
                          mb=total / 2**20, limit_mb=limits.max_upload_bytes / 2**20)


def _nothing_usable(others: list[Path], archives: list[Path]) -> UploadError:
    if archives:
        return UploadError("upload.zip_no_images", "'{name}' holds no images (looked for {extensions}, in any case; "
                           "nested archives are not opened).", name=archives[0].name,
                           extensions=", ".join(IMAGE_EXTENSIONS))
    return UploadError("upload.no_images", "None of the uploaded files is an image or a .zip: {names}.",
                       names=", ".join(p.name for p in others[:5]))


# ---- the zip ----------------------------------------------------------------------------------------

def _parts(name: str) -> list[str] | None:
    """The entry's path components, or None if it is absolute or climbs out with '..' (zip slip)."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return None
    parts = [p for p in re.split(r"[\\/]", name) if p not in ("", ".")]
    return None if ".." in parts else parts


def _safe_entries(archive: Path, limits: UploadLimits, copied: int) -> list[tuple[zipfile.ZipInfo, str]]:
    """Check every entry of the zip before extracting anything; the image entries as (info, relative path)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # zipfile's own words stay out of the message
        raise UploadError("upload.zip_unreadable", "'{name}' is not a readable zip file (damaged, truncated, or "
                          "another format).", name=archive.name) from exc
    if len(infos) > limits.max_zip_entries:
        raise UploadError("upload.zip_entries", "'{name}' has {count:,} entries; at most {limit:,} are accepted "
                          "here.", name=archive.name, count=len(infos), limit=limits.max_zip_entries)
    chosen, seen, total = [], set(), 0
    for info in infos:
        relative = _check_entry(archive, info, limits)
        if relative is None or relative.lower() in seen:
            continue
        seen.add(relative.lower())
        chosen.append((info, relative))
        total += info.file_size
    chosen = _without_shared_top_folder(chosen)
    if copied + len(chosen) > limits.max_files:
        raise UploadError("upload.zip_too_many_images", "'{name}' holds {count:,} images (plus {copied:,} uploaded "
                          "beside it); at most {limit:,} are accepted here.", name=archive.name, count=len(chosen),
                          copied=copied, limit=limits.max_files)
    if total > limits.max_unzipped_bytes:
        raise UploadError("upload.zip_too_large", "The images in '{name}' would take {mb:,.1f} MB unpacked; at most "
                          "{limit_mb:,.1f} MB are accepted here.", name=archive.name, mb=total / 2**20,
                          limit_mb=limits.max_unzipped_bytes / 2**20)
    return chosen


def _without_shared_top_folder(entries: list[tuple[zipfile.ZipInfo, str]]) -> list[tuple[zipfile.ZipInfo, str]]:
    """Drop the folders every image sits under: a zip of a folder `digits/` holds `digits/0/…`, `digits/1/…`, and the
    images, with `0`, `1`, … as their classes (ImageFolder's layout), are what the user meant, not one class `digits`."""
    while entries and all("/" in relative for _, relative in entries) \
            and len({relative.split("/", 1)[0] for _, relative in entries}) == 1:
        entries = [(info, relative.split("/", 1)[1]) for info, relative in entries]
    return entries


def _check_entry(archive: Path, info: zipfile.ZipInfo, limits: UploadLimits) -> str | None:
    """The '/'-joined path to extract the entry to, None to skip it, or UploadError if it is unsafe."""
    name = info.filename
    parts = _parts(name)
    if parts is None:
        raise UploadError("upload.zip_slip", "'{name}' contains '{entry}', a path outside the folder it unpacks into "
                          "(absolute or with '..'); nothing was extracted.", name=archive.name, entry=name)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UploadError("upload.zip_link", "'{name}' contains '{entry}', a symbolic link; links are not accepted, "
                          "nothing was extracted.", name=archive.name, entry=name)
    if info.is_dir() or not parts or not is_image_name(parts[-1]) or any(p.startswith(".") for p in parts) \
            or parts[0] == "__MACOSX":
        return None  # folders, other files, nested zips, hidden files and macOS resource forks
    if info.flag_bits & 0x1:
        raise UploadError("upload.zip_encrypted", "'{name}' contains '{entry}', which is encrypted; upload a zip "
                          "without a password.", name=archive.name, entry=name)
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
        raise UploadError("upload.zip_bomb", "'{name}' contains '{entry}', which unpacks {ratio:,.0f} times larger "
                          "({mb:,.1f} MB): a zip bomb? At most {limit:,.0f}:1 is accepted; nothing was extracted.",
                          name=archive.name, entry=name, ratio=ratio, mb=info.file_size / 2**20,
                          limit=limits.max_ratio)
    return "/".join(parts)


def _extract(archive: Path, entries: list[tuple[zipfile.ZipInfo, str]], dest: Path, limits: UploadLimits) -> None:
    """Stream the checked entries into `dest`, counting the bytes really written against the caps."""
    root = os.path.realpath(dest)
    written = 0
    with zipfile.ZipFile(archive) as zf:
        for info, relative in entries:
            target = Path(root, *PurePosixPath(relative).parts)
            if os.path.commonpath([os.path.realpath(target.parent), root]) != root:
                raise UploadError("upload.zip_outside", "'{name}' entry '{entry}' would land outside the folder.",
                                  name=archive.name, entry=info.filename)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, open(target, "xb") as sink:
                    entry_bytes = 0
                    while chunk := source.read(CHUNK_BYTES):
                        entry_bytes += len(chunk)
                        written += len(chunk)
                        if entry_bytes > info.file_size or written > limits.max_unzipped_bytes:
                            raise UploadError("upload.zip_understated", "'{name}' entry '{entry}' unpacks to more "
                                              "than its header says; the zip is refused.", name=archive.name,
                                              entry=info.filename)
                        sink.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
                raise UploadError("upload.zip_extract_failed", "'{name}' entry '{entry}' could not be extracted "
                                  "({kind}).", name=archive.name, entry=info.filename, kind=type(exc).__name__) \
                    from exc


def _free_name(dest: Path, name: str) -> Path:
    """`dest/name`, or `dest/stem-1.ext`, ... if taken (two uploads may share a name)."""
    target, stem, suffix, n = dest / name, Path(name).stem, Path(name).suffix, 0
    while target.exists():
        n += 1
        target = dest / f"{stem}-{n}{suffix}"
    return target


def _empty(dest: Path) -> None:
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
