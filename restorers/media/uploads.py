"""Batches of uploaded images (files and .zip archives), read defensively, for the app and the CLI.

A zip is judged by its central directory before anything is extracted: how many entries it lists, the
uncompressed size of each and of all of them, and each one's compression ratio. Only then are the image
members read, one at a time, through the same capped decoder as any image. One unreadable file is
skipped with a note and the rest of the batch is kept; names are made unique so no output is lost.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

import numpy as np

from . import images
from ..guards.zip_scan import ZipRefused, is_zip, open_zip
from ..guards.validate import shorten
from ..guards.limits import (
    MAX_UPLOAD_MB_ENV,
    MAX_ZIP_MEMBERS_ENV,
    MAX_ZIP_RATIO_ENV,
    MAX_ZIP_TOTAL_MB_ENV,
    LimitError,
    max_image_file_bytes,
    max_upload_bytes,
    max_zip_members,
    max_zip_ratio,
    max_zip_total_bytes,
)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
# A member's name becomes output file names: longer than a file name may be (255 bytes on common file
# systems), it is skipped with a note rather than failing the batch when its output is written.
MAX_MEMBER_NAME = 255


class UploadError(images.ImageError):
    """A whole upload (a zip, or a batch) cannot be used."""


@dataclass
class Batch:
    """The images that could be read (unique names, upload order) and one note per skipped file."""

    images: list[tuple[str, np.ndarray]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _unique(items: Iterable[str], variant) -> list[str]:
    """``items`` made unique, case-insensitively: a repeat becomes ``variant(item, k)`` for k = 2, 3, ..."""
    taken: set[str] = set()
    out: list[str] = []
    for item in items:
        candidate, k = item, 1
        while candidate.lower() in taken:
            k += 1
            candidate = variant(item, k)
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def unique_names(names: Iterable[str]) -> list[str]:
    """Names made unique, case-insensitively, by a -2, -3 ... before the extension (a.png, a-2.png)."""
    return _unique(names, lambda name, k: f"{PurePosixPath(name).stem}-{k}{PurePosixPath(name).suffix}")


def unique_labels(labels: Iterable[str]) -> list[str]:
    """Labels (file stems, no extension) made unique, case-insensitively, by appending -2, -3 ..."""
    return _unique(labels, lambda label, k: f"{label}-{k}")


def unique_stems(names: Iterable[str]) -> list[str]:
    """Output stems, one per input name, never equal: a.jpg and a.png give a and a-2."""
    return unique_labels(PurePosixPath(n).stem for n in names)


def check_upload_size(path: str | Path) -> None:
    size = Path(path).stat().st_size
    limit = max_upload_bytes()
    if size > limit:
        raise LimitError(f"{Path(path).name} is {size / 2**20:.0f} MB; an upload may have at most "
                         f"{limit / 2**20:.0f} MB here (raise ${MAX_UPLOAD_MB_ENV} to allow more)")


def is_zip_upload(path: str | Path) -> bool:
    """Whether an upload is read as a zip: the one test the reader and the cost estimate share. A zip
    renamed .png, or a PNG with a zip appended, is a zip here (zipfile would open it as one)."""
    return is_zip(path)


def open_upload_zip(path: str | Path, label: str | None = None, max_entries: int | None = None,
                    setting_hint: str = MAX_ZIP_MEMBERS_ENV) -> zipfile.ZipFile:
    """The upload as a ZipFile once its end record allows it (entry count, no overlapping entries);
    raises UploadError for a refused zip, zipfile.BadZipFile for a damaged one."""
    try:
        return open_zip(path, max_zip_members() if max_entries is None else max_entries, label or Path(path).name,
                        setting_hint)
    except ZipRefused as exc:
        raise UploadError(str(exc)) from None


def _wanted(info: zipfile.ZipInfo) -> bool:
    name = PurePosixPath(info.filename)
    return (not info.is_dir() and not info.filename.startswith("__MACOSX") and not name.name.startswith(".")
            and name.suffix.lower() in IMAGE_SUFFIXES)


def zip_members(archive: zipfile.ZipFile, label: str, room: int) -> list[zipfile.ZipInfo]:
    """The image members worth reading, after checking the whole directory against the limits.

    ``room`` is how many more images the batch may take: a zip listing more is refused before any
    member is decompressed.
    """
    infos = archive.infolist()
    if len(infos) > max_zip_members():
        raise UploadError(f"{label} lists {len(infos)} entries; at most {max_zip_members()} are read "
                          f"(raise ${MAX_ZIP_MEMBERS_ENV} to allow more)")
    members = sorted((i for i in infos if _wanted(i)), key=lambda i: i.filename)
    if len(members) > room:
        raise UploadError(f"{label} holds {len(members)} images; at most {room} more fit in this batch")
    per_file, ratio, total = max_image_file_bytes(), max_zip_ratio(), 0
    for info in members:
        shown = shorten(PurePosixPath(info.filename).name, 80)
        if info.file_size > per_file:
            raise UploadError(f"{label}: {shown} unpacks to {info.file_size / 2**20:.0f} MB; an image may have "
                              f"at most {per_file / 2**20:.0f} MB")
        if info.file_size > ratio * max(info.compress_size, 1) and info.file_size > 2**20:
            raise UploadError(f"{label}: {shown} is compressed {info.file_size / max(info.compress_size, 1):.0f}:1, "
                              f"more than the {ratio:g}:1 allowed (${MAX_ZIP_RATIO_ENV}); is it a zip bomb?")
        total += info.file_size
    if total > max_zip_total_bytes():
        raise UploadError(f"{label} unpacks to {total / 2**20:.0f} MB of images; at most "
                          f"{max_zip_total_bytes() / 2**20:.0f} MB are read (${MAX_ZIP_TOTAL_MB_ENV})")
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, never more than it declared (a lying header cannot make us read on)."""
    with archive.open(info) as fh:
        data = fh.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise images.ImageError(f"{PurePosixPath(info.filename).name}: larger than its zip entry declares")
    return data


def read_batch(paths: Sequence[str | Path], max_images: int) -> Batch:
    """Images from files and zips (each zip's image members in name order), at most ``max_images``.

    Unreadable files and members are skipped with a note; a batch with more than ``max_images`` images,
    an oversized upload or a zip past its limits is refused as a whole (UploadError / LimitError) before
    anything in it is decoded.
    """
    found: list[tuple[str, np.ndarray]] = []
    skipped: list[str] = []
    for raw in paths:
        path = Path(raw)
        label = path.name
        if not path.is_file():
            skipped.append(f"{label}: no such file; skipped")
            continue
        check_upload_size(path)
        if is_zip_upload(path):
            try:
                with open_upload_zip(path, label) as archive:
                    for info in zip_members(archive, label, max_images - len(found)):
                        shown = shorten(PurePosixPath(info.filename).name, 80)
                        if len(PurePosixPath(info.filename).name.encode("utf-8", "replace")) > MAX_MEMBER_NAME:
                            skipped.append(f"{shown} in {label}: its name is {len(info.filename)} characters long "
                                           f"(at most {MAX_MEMBER_NAME}); skipped")
                            continue
                        if info.flag_bits & 0x1:  # zip's "encrypted" flag: nothing to read without a password
                            skipped.append(f"{shown} in {label}: encrypted (password-protected) zip entry; skipped")
                            continue
                        try:
                            found.append((shown, images.load_image(_read_member(archive, info)).rgb))
                        except images.ImageError as exc:
                            skipped.append(f"{shown} in {label}: {str(exc).removeprefix('image: ')}; skipped")
                        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
                            skipped.append(f"{shown} in {label}: damaged or encrypted zip entry; skipped")
            except (zipfile.BadZipFile, OSError, EOFError):
                skipped.append(f"{label}: not a valid zip file; skipped")
            continue
        if len(found) >= max_images:
            raise UploadError(f"at most {max_images} images per batch here")
        try:
            found.append((label, images.load_image(path).rgb))
        except images.ImageError as exc:
            skipped.append(f"{exc}; skipped")
    names = unique_names(name for name, _ in found)
    return Batch([(name, rgb) for name, (_, rgb) in zip(names, found)], skipped)


def batch_sizes(paths: Sequence[str | Path]) -> list[tuple[int, int]]:
    """(width, height) of every image read_batch would decode, from headers only (for the cost estimate).

    The same walk as read_batch: the same zip test (is_zip_upload), the same member filter, every image
    member whatever its position. A zip the reader would refuse contributes nothing (the reader says why)."""
    sizes: list[tuple[int, int]] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            continue
        if is_zip_upload(path):
            try:
                with open_upload_zip(path) as archive:
                    for info in sorted((i for i in archive.infolist() if _wanted(i)), key=lambda i: i.filename):
                        if info.file_size > max_image_file_bytes():
                            continue
                        try:
                            with archive.open(info) as member:
                                size = images.header_size(member)
                        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
                            continue  # encrypted or damaged: the reader skips it too
                        if size:
                            sizes.append(size)
            except (UploadError, zipfile.BadZipFile, OSError, EOFError):
                continue
        elif (size := images.header_size(path)) is not None:
            sizes.append(size)
    return sizes
