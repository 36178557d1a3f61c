"""Training images from a folder: a recursive scan, one validated decode per file, a torchvision Dataset.

`load_image_folder` finds every image under a folder (subfolders included, hidden entries ignored,
links out of the folder not followed), decodes each file once up front so that broken files are
skipped and reported before training starts, and returns an `ImageFolderData`: the Dataset to train
on plus what a user or a checkpoint should know about it.

Each item is a float32 tensor (C, S, S) in [−1, 1] (images.from_uint8: x = p/127.5 − 1): the file's
first frame, upright by EXIF, resized so its short side is S (antialiased) and centre-cropped.

Class labels follow torchvision's ImageFolder convention: each subfolder of the root is a class, named by
the folder, holding the images under it at any depth; label i is the i-th name in sorted order
(`folder_classes`). With `conditional=True` an item is (image, label) and images in the root itself, which
have no class, are left out with a notice.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from typing import Callable

import torch
from torchvision.datasets import VisionDataset
from torchvision.datasets.folder import has_file_allowed_extension
from torchvision.transforms import v2

from ddpm_core.errors import Message, UserError
from ddpm_core.images import ImageError, decode_file, from_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 128
# Datasets whose decoded pixels (N·C·S·S bytes) fit this budget are kept in memory as one uint8 tensor.
MAX_IN_MEMORY_BYTES = 512 * 2**20
NAMED_IN_SUMMARY = 5  # skipped files named in summary() and error messages
NAMED_IN_DICT = 20  # skipped files kept in to_dict(), for a checkpoint
SINGLE_IMAGE_NOTICE = Message("data.single_image",
                              "Only one image: the model will memorise it — a classic classroom demo.")
SPLITS = ("all", "train", "holdout")
MIN_CLASSES = 2  # a conditional model needs at least two classes to tell apart
NAMED_CLASSES = 12  # classes named in a summary before "and N more"


class DataError(UserError):
    """A user-facing problem with a training folder; the message says what and what to do."""


# ---------------------------------------------------------------------------------------- scanning

@dataclass(frozen=True)
class FolderScan:
    """What a folder holds: image files to try, links not followed, and files of other types."""

    images: list[str]  # paths relative to the folder, '/'-separated, sorted
    skipped: list[tuple[str, str]]  # (relative path, reason)
    others: list[str]


def scan_folder(root: str) -> FolderScan:
    """List the image files under `root` by extension (case-insensitive), subfolders included.

    Hidden files and folders (a leading '.') are ignored. Linked folders are not entered and links
    to files outside `root` are not followed; both are reported as skipped.
    """
    real_root = os.path.realpath(root)
    images, skipped, others = [], [], []
    for folder, subfolders, files in os.walk(real_root, followlinks=False):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in subfolders:
            if os.path.islink(os.path.join(folder, name)):
                skipped.append((_relative(folder, name, real_root), "linked folder, not followed"))
        for name in files:
            if name.startswith("."):
                continue
            relative = _relative(folder, name, real_root)
            if not _stays_inside(os.path.join(folder, name), real_root):
                skipped.append((relative, "link to a file outside the folder, not followed"))
            elif has_file_allowed_extension(name, IMAGE_EXTENSIONS):
                images.append(relative)
            else:
                others.append(relative)
    return FolderScan(sorted(images), sorted(skipped), sorted(others))


def _relative(folder: str, name: str, real_root: str) -> str:
    return os.path.relpath(os.path.join(folder, name), real_root).replace(os.sep, "/")


def _stays_inside(path: str, real_root: str) -> bool:
    """Whether `path`, with every link resolved, is still under `real_root`."""
    return os.path.commonpath([os.path.realpath(path), real_root]) == real_root


def held_out(relative: str, fraction: float) -> bool:
    """Whether the file at `relative` (as scan_folder writes it) is in the held-out share `fraction`.

    Decided by the file's path alone (the first 8 bytes of its SHA-256 read as a number in [0, 1)), so
    the split is the same on every machine, in any order, and stays put as files are added or removed.
    """
    digest = hashlib.sha256(relative.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_files(files: list[str], holdout: float, split: str) -> list[str]:
    """The files of one split: "all", "train" (not held out) or "holdout"."""
    if split not in SPLITS:
        raise DataError("data.split_unknown", "unknown split {split!r}; choose one of {choices}", split=split,
                        choices=", ".join(SPLITS))
    if not 0.0 <= holdout < 1.0:
        raise DataError("data.holdout_range", "the held-out share must be in [0, 1), got {holdout}", holdout=holdout)
    if split == "all":
        return files
    return [f for f in files if held_out(f, holdout) == (split == "holdout")]


# ----------------------------------------------------------------------------------------- classes

def class_of(relative: str) -> str | None:
    """The class of a file at `relative` (as scan_folder writes it): its top folder's name; None in the root."""
    top, slash, _rest = relative.partition("/")
    return top if slash else None


def _class_folders(real_root: str) -> list[str]:
    """The root's subfolders (not hidden, not links): its classes, with or without images."""
    with os.scandir(real_root) as entries:
        return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))


@dataclass(frozen=True)
class FolderClasses:
    """A folder's classes by the ImageFolder convention (see the module): label i is `names[i]`."""

    folder: str  # the folder's own name
    names: tuple[str, ...]  # class folders holding images, sorted
    counts: tuple[int, ...]  # image files per class (before decoding)
    empty: tuple[str, ...] = ()  # class folders without images: left out
    root_images: int = 0  # image files in the root itself: no class, left out of conditional training

    def label_of(self, relative: str) -> int | None:
        """The label of the file at `relative`, or None for a file of no (or another) class."""
        name = class_of(relative)
        return self.names.index(name) if name in self.names else None

    def check(self) -> None:
        """DataError unless there are at least MIN_CLASSES classes with images to learn from."""
        if len(self.names) >= MIN_CLASSES:
            return
        if self.empty and not self.names:
            raise DataError.plural("data.classes_all_empty", "The class folder of {folder}/ ({names}) holds no images: "
                                   "put each class's images in its folder.", "The {count:,} class folders of "
                                   "{folder}/ ({names}) hold no images: put each class's images in its folder.",
                                   count=len(self.empty), folder=self.folder, names=_name_classes(self.empty))
        raise DataError("data.too_few_classes", "A class-conditional model needs at least {least} class folders "
                        "with images; {folder}/ has {count:,}: put each class's images in a subfolder named after it, "
                        "e.g. {folder}/cat/ and {folder}/dog/.", count=len(self.names), least=MIN_CLASSES,
                        folder=self.folder)

    def notices(self) -> list[Message]:
        """What a user should know before training on these classes (images left out, one-image classes)."""
        found = []
        if self.root_images:
            found.append(Message.plural("data.root_images_left_out", "{count:,} image sits in {folder}/ itself, "
                                        "beside the class folders: it has no class and is left out.",
                                        "{count:,} images sit in {folder}/ itself, beside the class folders: they "
                                        "have no class and are left out.", count=self.root_images, folder=self.folder))
        single = [name for name, count in zip(self.names, self.counts) if count == 1]
        if single:
            found.append(Message.plural("data.classes_single_image", "{count:,} class has a single image ({names}): "
                                        "the model can only memorise it.", "{count:,} classes have a single image "
                                        "({names}): the model can only memorise them.", count=len(single),
                                        names=_name_classes(single)))
        if self.empty:
            found.append(Message.plural("data.classes_empty", "{count:,} class folder holds no images and is left "
                                        "out: {names}.", "{count:,} class folders hold no images and are left out: "
                                        "{names}.", count=len(self.empty), names=_name_classes(self.empty)))
        return found

    def summary(self) -> Message:
        """'10 classes: 0 (178), 1 (182), …' — each class with its number of images."""
        return Message.plural("data.classes_summary", "{count:,} class: {classes}", "{count:,} classes: {classes}",
                              count=len(self.names), classes=_name_classes_counted(self.names, self.counts))


def _name_classes(names) -> str | Message:
    """The first NAMED_CLASSES names, and how many more."""
    named = ", ".join(names[:NAMED_CLASSES])
    more = len(names) - NAMED_CLASSES
    return Message("data.and_more", "{names} and {more:,} more", {"names": named, "more": more}) if more > 0 else named


def _name_classes_counted(names, counts) -> str | Message:
    return _name_classes([f"{name} ({count:,})" for name, count in zip(names, counts)])


def classes_of_scan(real_root: str, folder: str, images: list[str]) -> FolderClasses:
    """The classes of the scanned image files `images` under `real_root` (see FolderClasses)."""
    counts: dict[str, int] = {}
    for relative in images:
        name = class_of(relative)
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    names = tuple(sorted(counts))
    empty = tuple(name for name in _class_folders(real_root) if name not in counts)
    root_images = sum(class_of(relative) is None for relative in images)
    return FolderClasses(folder, names, tuple(counts[n] for n in names), empty, root_images)


def folder_classes(root: str | os.PathLike) -> FolderClasses:
    """The classes of a folder and their image counts, from a scan alone (nothing is decoded): what a
    Train tab shows before a conditional run. Check them with `FolderClasses.check`."""
    _check_folder(root)
    real_root = os.path.realpath(root)
    return classes_of_scan(real_root, _folder_name(root), scan_folder(real_root).images)


# ---------------------------------------------------------------------------------------- decoding

@functools.lru_cache(maxsize=None)
def _square(image_size: int) -> v2.Compose:
    """PIL image → uint8 tensor (C, S, S): short side resized to S (antialiased), centre crop."""
    return v2.Compose([v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size),
                       v2.PILToTensor()])


def decode_image(path: str, image_size: int, channels: int = 3) -> torch.Tensor:
    """Decode one image file to uint8 pixels (C, S, S), or raise ImageError saying why not.

    Decoding is images.decode_file, so a training folder accepts exactly what a single upload does.
    """
    return _square(image_size)(decode_file(path, image_size, channels))


def _reason(error: ImageError, path: str, real_root: str) -> str:
    """ImageError's first sentence minus the file name: "'a.png' is empty." → "empty"."""
    text = str(error).replace(real_root + os.sep, "")  # no absolute paths in reports
    text = text.removeprefix(f"'{os.path.basename(path)}' ").removeprefix("is ")
    return text.split(". ")[0].rstrip(".")  # the advice that may follow suits one upload, not a folder


def _decode_all(real_root: str, files: list[str], image_size: int, channels: int, keep: bool,
                progress: Callable[[int, int], None] | None):
    """Decode every file once: (pixels (N, C, S, S) if kept else None, files decoded, [(file, reason)]).

    One thread: images._open guards against decompression bombs with warnings.catch_warnings, which
    is not thread-safe, and small files are dominated by per-file overhead anyway.
    """
    kept, good, broken = [], [], []
    for done, relative in enumerate(files, 1):
        path = os.path.join(real_root, relative)
        try:
            pixels = decode_image(path, image_size, channels)
            good.append(relative)
            if keep:
                kept.append(pixels)
        except ImageError as error:
            broken.append((relative, _reason(error, path, real_root)))
        if progress is not None:
            progress(done, len(files))
    return (torch.stack(kept) if kept else None), good, broken


# ----------------------------------------------------------------------------------------- dataset

class ImageFolderDataset(VisionDataset):
    """Images (C, S, S) in [−1, 1] from a folder, each a random horizontal flip or not.

    Small datasets hold `pixels`, one uint8 tensor (N, C, S, S) already resized and cropped, so an
    item costs a flip and a scale; otherwise `pixels` is None and each item is decoded from its file.
    Flips draw from torch's global RNG, so torch.manual_seed and DataLoader's per-worker seeding make
    them reproducible. With `labels` (N,) an item is (image, label), as torchvision's ImageFolder gives it.
    """

    def __init__(self, root: str, files: list[str], image_size: int, channels: int, flip: bool,
                 pixels: torch.Tensor | None = None, labels: torch.Tensor | None = None):
        steps = [v2.RandomHorizontalFlip(0.5)] if flip else []
        super().__init__(root, transform=v2.Compose(steps + [v2.Lambda(from_uint8)]))
        self.files, self.image_size, self.channels, self.flip = files, image_size, channels, flip
        self.pixels, self.labels = pixels, labels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        pixels = self.pixels[index] if self.pixels is not None else self._decode(index)
        image = self.transform(pixels)  # (C, S, S) float32
        return image if self.labels is None else (image, self.labels[index])

    def _decode(self, index: int) -> torch.Tensor:
        path = os.path.join(self.root, self.files[index])
        try:
            return decode_image(path, self.image_size, self.channels)
        except ImageError as error:  # the file changed since it was checked
            raise DataError("data.unreadable_in_training", "{file} could not be read during training: {reason}",
                            file=self.files[index], reason=error.message) from None

    def extra_repr(self) -> str:
        kept = "in memory" if self.pixels is not None else "decoded per item"
        return f"Images: {_describe(self.image_size, self.channels)}, {kept}, flip={self.flip}"


def _describe(image_size: int, channels: int) -> str:
    return f"{image_size}×{image_size} {'grey' if channels == 1 else 'RGB'}"


# ------------------------------------------------------------------------------------------ result

@dataclass(frozen=True)
class ImageFolderData:
    """A loaded training folder: the Dataset, and what was skipped and why."""

    dataset: ImageFolderDataset
    root_name: str  # the folder's own name, never its absolute path
    skipped: list[tuple[str, str]]  # (path relative to the folder, reason)
    others: list[str]  # files that are not image types, ignored
    holdout: float = 0.0  # the share of the folder's images held out of training (see held_out)
    split: str = "all"
    num_held_out: int = 0  # image files set aside by the split (not decoded)
    classes: FolderClasses | None = None  # the folder's classes, when loaded for a conditional model

    @property
    def num_images(self) -> int:
        return len(self.dataset)

    @property
    def in_memory(self) -> bool:
        return self.dataset.pixels is not None

    @property
    def notice(self) -> str | None:
        """A remark worth showing before training, or None."""
        return SINGLE_IMAGE_NOTICE if self.num_images == 1 else None

    @property
    def notices(self) -> list[Message]:
        """Every remark worth showing before training: `notice`, then the classes' (see FolderClasses)."""
        return ([self.notice] if self.notice else []) + (self.classes.notices() if self.classes else [])

    @property
    def class_counts(self) -> tuple[int, ...] | None:
        """Images per class in this split, as loaded (after skipping unreadable files); None: no classes."""
        if self.classes is None:
            return None
        return tuple(torch.bincount(self.dataset.labels, minlength=len(self.classes.names)).tolist())

    def summary(self) -> Message:
        """One line for people: '1,797 images from digits/ at 16×16 grey; 2 files skipped: …'; each part after
        the first is a message of its own, or "" when it does not apply."""
        data = self.dataset
        kind = Message("data.grey", "grey") if data.channels == 1 else Message("data.rgb", "RGB")
        images = Message.plural("data.summary_images", "{count:,} image from {folder}/ at {size}×{size} {kind}{flip}",
                                "{count:,} images from {folder}/ at {size}×{size} {kind}{flip}",
                                count=self.num_images, folder=self.root_name, size=data.image_size, kind=kind,
                                flip=Message("data.flipped", ", randomly flipped") if data.flip else "")
        held = Message("data.summary_held_out", " ({count:,} held out for evaluation)", {"count": self.num_held_out}) \
            if self.split == "train" and self.holdout > 0 else ""
        skipped = Message.plural("data.summary_skipped", "; {count:,} file skipped: {names}",
                                 "; {count:,} files skipped: {names}", count=len(self.skipped),
                                 names=_name_some(self.skipped)) if self.skipped else ""
        others = Message.plural("data.summary_ignored", "; {count:,} other file ignored (not an image type)",
                                "; {count:,} other files ignored (not an image type)",
                                count=len(self.others)) if self.others else ""
        return Message("data.summary", "{images}{held}{skipped}{others}",
                       {"images": images, "held": held, "skipped": skipped, "others": others})

    def to_dict(self) -> dict:
        """A JSON-safe record of the data for a checkpoint's metadata."""
        data = self.dataset
        return {"root": self.root_name, "num_images": self.num_images,
                "num_skipped": len(self.skipped), "num_ignored": len(self.others),
                "image_size": data.image_size, "channels": data.channels, "flip": data.flip,
                "skipped": [list(entry) for entry in self.skipped[:NAMED_IN_DICT]],
                "holdout": self.holdout, "split": self.split, "num_held_out": self.num_held_out,
                **({"classes": list(self.classes.names), "class_counts": list(self.class_counts)}
                   if self.classes else {})}


def _name_some(entries: list[tuple[str, str]]) -> str | Message:
    """The first few 'path (reason)' entries, and how many more (the reasons are the core's English)."""
    named = ", ".join(f"{path} ({reason})" for path, reason in entries[:NAMED_IN_SUMMARY])
    more = len(entries) - NAMED_IN_SUMMARY
    return Message("data.and_more", "{names} and {more:,} more", {"names": named, "more": more}) if more > 0 else named


# ------------------------------------------------------------------------------------------ loading

def load_image_folder(root: str | os.PathLike, image_size: int, channels: int = 3, flip: bool = True,
                      max_in_memory_bytes: int = MAX_IN_MEMORY_BYTES,
                      progress: Callable[[int, int], None] | None = None, *, holdout: float = 0.0,
                      split: str = "all", conditional: bool = False) -> ImageFolderData:
    """Scan `root` recursively and decode every image once; raise DataError if none can be used.

    With `holdout` > 0 a fixed share of the files (chosen by `held_out`, from their paths) is set
    aside: `split` "train" loads the others, "holdout" only those, "all" everything. With `conditional`
    the data has the folder's classes (`folder_classes`, over all its files whatever the split, so labels
    agree between splits): items are (image, label), and files in the root itself are left out.

    Every file is fully decoded up front in both modes, so damaged files are skipped and reported
    before training rather than failing mid-run. When N·C·S·S bytes fit `max_in_memory_bytes` the
    decoded pixels are kept (training never decodes again); otherwise they are dropped and each item
    is decoded again when accessed. `progress(done, total)` is called after each file.
    """
    image_size = _check_settings(root, image_size, channels)
    real_root, name = os.path.realpath(root), _folder_name(root)
    scan = scan_folder(real_root)
    classes = classes_of_scan(real_root, name, scan.images) if conditional else None
    if classes is not None:
        classes.check()
    if not scan.images:
        raise _nothing_found(name, scan)
    labelled = scan.images if classes is None else [f for f in scan.images if classes.label_of(f) is not None]
    files = split_files(labelled, holdout, split)
    if not files:
        raise _all_in_one_share(len(labelled), name, holdout, split)
    keep = len(files) * channels * image_size ** 2 <= max_in_memory_bytes
    pixels, good, broken = _decode_all(real_root, files, image_size, channels, keep, progress)
    if not good:
        raise DataError.plural("data.none_readable", "None of the {count:,} image file in {folder}/ could be read: "
                               "{names}.", "None of the {count:,} image files in {folder}/ could be read: {names}.",
                               count=len(broken), folder=name, names=_name_some(broken))
    labels = None if classes is None else torch.tensor([classes.label_of(f) for f in good], dtype=torch.long)
    dataset = ImageFolderDataset(real_root, good, image_size, channels, flip, pixels, labels)
    return ImageFolderData(dataset, name, sorted(scan.skipped + broken), scan.others, holdout, split,
                           len(labelled) - len(files) if split != "all" else 0, classes)


def _check_folder(root) -> None:
    if not os.path.isdir(root):
        if os.path.exists(root):
            raise DataError("data.not_a_folder", "'{path}' is not a folder; choose a folder of images.",
                            path=os.fspath(root))
        raise DataError("data.folder_missing", "'{path}' does not exist; choose a folder of images.",
                        path=os.fspath(root))


def _check_settings(root, image_size, channels) -> int:
    _check_folder(root)
    if isinstance(image_size, bool) or int(image_size) != image_size or \
            not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise DataError("data.image_size", "image size must be a whole number from {low} to {high}, got {value}.",
                        low=MIN_IMAGE_SIZE, high=MAX_IMAGE_SIZE, value=image_size)
    if channels not in (1, 3):
        raise DataError("data.channels", "channels must be 1 (grey) or 3 (colour), got {channels}.",
                        channels=channels)
    return int(image_size)


def _folder_name(root) -> str:
    path = os.path.abspath(root)
    return os.path.basename(path) or path


def _nothing_found(name: str, scan: FolderScan) -> DataError:
    """No image files: what the folder holds instead (other files, nothing, links not followed)."""
    if scan.others:
        holds = Message.plural("data.no_images_others", " It holds {count:,} other file, e.g. {examples}.",
                               " It holds {count:,} other files, e.g. {examples}.", count=len(scan.others),
                               examples=", ".join(scan.others[:3]))
    elif not scan.skipped:
        holds = Message("data.no_images_empty", " The folder is empty (hidden files are ignored).")
    else:
        holds = ""
    followed = Message("data.no_images_not_followed", " Not followed: {names}.",
                       {"names": _name_some(scan.skipped)}) if scan.skipped else ""
    return DataError("data.no_images", "No images found in {folder}/ or its subfolders (looked for {extensions}, in "
                     "any case).{holds}{followed}", folder=name, extensions=", ".join(IMAGE_EXTENSIONS), holds=holds,
                     followed=followed)


def _all_in_one_share(count: int, name: str, holdout: float, split: str) -> DataError:
    """Every image file falls on one side of the held-out split."""
    if split == "train":
        return DataError.plural("data.all_held_out", "All {count:,} image file in {folder}/ fall in the held-out "
                                "share ({share:.0%} held out): lower the held-out share.",
                                "All {count:,} image files in {folder}/ fall in the held-out share ({share:.0%} "
                                "held out): lower the held-out share.", count=count, folder=name, share=holdout)
    return DataError.plural("data.none_held_out", "All {count:,} image file in {folder}/ fall in the training share "
                            "({share:.0%} held out): the folder is too small to hold any out.",
                            "All {count:,} image files in {folder}/ fall in the training share ({share:.0%} held "
                            "out): the folder is too small to hold any out.", count=count, folder=name, share=holdout)
