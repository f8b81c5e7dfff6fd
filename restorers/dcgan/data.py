"""Training images for the DCGAN lab: files, folders, zips, or a dataset on the Hugging Face Hub.

Every image is decoded through the package's image contract (images.load_image), centre-cropped to a
square and resized to the training size, so a dataset is one uint8 array [N, size, size, 3]. Whatever
cannot be used (a text file, a broken image, a zip member too large) is skipped with a note in words;
an empty result is an error. Zips are read in memory, member by member, after their listing has been
counted and sized, so nothing is ever extracted to disk (no path traversal) and a zip bomb is refused
before it is inflated.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from ..media import images
from ..media.uploads import UploadError, is_zip_upload, open_upload_zip
from ..guards import cancel, limits
from ..models.hub import WeightsError, WeightsFile, fetch
from ..guards.limits import LimitError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}

class DatasetError(ValueError):
    """The training data cannot be used (nothing readable, a bad zip, a dataset not available)."""


@dataclass
class ImageSet:
    """Square training images [N, size, size, 3] uint8, where they came from, and what was skipped."""

    images: np.ndarray
    source: str
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[1])


def square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to the largest square, then resize to size x size (Lanczos; area-like when shrinking)."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = rgb[top : top + side, left : left + side]
    return images.resize(np.ascontiguousarray(crop), (size, size), "lanczos")


def _decode(data: bytes | str | Path, size: int) -> np.ndarray:
    """Decode one image and square it; JPEGs are decoded at reduced scale when that is enough (fast)."""
    if isinstance(data, bytes):
        try:
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format == "JPEG" and min(probe.size) > 4 * size:
                    probe.draft("RGB", (2 * size, 2 * size))  # DCT scaling: 2-8x faster, still >= 2x the target
                    return square(images.load_image(probe.copy()).rgb, size)
        except (OSError, Image.DecompressionBombError, ValueError):
            pass  # load_image below gives the clear message
    return square(images.load_image(data).rgb, size)


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The entries read as training images, in name order: files, without macOS forks and hidden files."""
    return sorted((i for i in archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                   and not Path(i.filename).name.startswith(".")), key=lambda i: i.filename)


def _zip_members(path: Path) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(name, bytes, None) for each usable member, or (name, None, reason) for a skipped one.

    The listing is checked first (member count, total declared size), then each member is read with a
    bounded read, so a member whose header lies about its size cannot inflate past the limit.
    """
    max_members, max_bytes = limits.max_dcgan_zip_members(), limits.max_dcgan_zip_total_bytes()
    per_member, ratio = limits.max_image_file_bytes(), limits.max_zip_ratio()
    try:  # counted from its end record, overlapping entries refused, before the directory is parsed
        archive = open_upload_zip(path, path.name, max_members, limits.MAX_DCGAN_ZIP_MEMBERS_ENV)
    except UploadError as exc:
        raise LimitError(str(exc)) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{path.name}: not a valid zip file") from exc
    with archive:
        infos = _members(archive)
        if len(infos) > max_members:
            raise LimitError(f"{path.name} holds {len(infos)} files; the limit is {max_members} "
                             f"(${limits.MAX_DCGAN_ZIP_MEMBERS_ENV})")
        declared = sum(i.file_size for i in infos)
        if declared > max_bytes:
            raise LimitError(f"{path.name} unpacks to {declared / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB "
                             f"(${limits.MAX_DCGAN_ZIP_TOTAL_MB_ENV})")
        for info in infos:
            name = info.filename
            if info.file_size > per_member:
                yield name, None, f"larger than {per_member // 2**20} MB"
                continue
            if info.file_size > 2**20 and info.file_size > ratio * max(info.compress_size, 1):
                yield name, None, f"compressed more than {ratio:g}:1 (a zip bomb?)"
                continue
            try:
                with archive.open(info) as member:
                    data = member.read(info.file_size + 1)
            except (zipfile.BadZipFile, RuntimeError, OSError, NotImplementedError) as exc:
                reason = "encrypted" if "encrypted" in str(exc) or "password" in str(exc) else "unreadable"
                yield name, None, reason
                continue
            if len(data) > info.file_size:
                yield name, None, "inflates past its declared size"
                continue
            yield name, data, None


def _expand(paths: Iterable[str | Path]) -> Iterator[tuple[str, bytes | Path | None, str | None]]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES:
                    yield str(child.relative_to(path)), child, None
        elif path.suffix.lower() == ".zip" or (path.is_file() and is_zip_upload(path)):
            for name, data, reason in _zip_members(path):
                yield f"{path.name}:{name}", data, reason
        elif path.is_file():
            yield path.name, path, None
        else:
            yield path.name, None, "no such file"


def _collect(items: Iterable[tuple[str, bytes | Path | None, str | None]], size: int, source: str,
             limit: int | None) -> ImageSet:
    limit = limits.max_dcgan_images() if limit is None else limit
    found: list[np.ndarray] = []
    notes: list[str] = []
    skipped: list[str] = []
    for name, data, reason in items:
        cancel.check()  # the request's time limit, Stop and a gone client end loading between images
        if len(found) >= limit:
            notes.append(f"stopped at {limit} images (${limits.MAX_DCGAN_IMAGES_ENV})")
            break
        if data is None:
            skipped.append(f"{name} ({reason})")
            continue
        try:
            found.append(_decode(data, size))
        except images.ImageError:
            skipped.append(f"{name} (not an image)")
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        notes.insert(0, f"skipped {len(skipped)} file(s) that are not usable images: {shown}")
    if not found:
        detail = f" ({notes[0]})" if notes else ""
        raise DatasetError(f"no usable images in {source}{detail}; give image files, a folder or a zip of images")
    return ImageSet(np.stack(found), source, notes)


def count_images(paths: Sequence[str | Path]) -> int:
    """How many items load_images would decode (for the cost estimate): every zip member it reads, every
    image file in a folder, every other file; nothing is decoded. A zip it would refuse counts 0."""
    count = 0
    for raw in paths or []:
        path = Path(raw)
        if path.is_dir():
            count += sum(1 for c in path.rglob("*") if c.is_file() and c.suffix.lower() in IMAGE_SUFFIXES)
        elif path.suffix.lower() == ".zip" or (path.is_file() and is_zip_upload(path)):
            try:
                with open_upload_zip(path, path.name, limits.max_dcgan_zip_members(),
                                     limits.MAX_DCGAN_ZIP_MEMBERS_ENV) as archive:
                    count += len(_members(archive))
            except (UploadError, zipfile.BadZipFile, OSError):
                continue
        elif path.is_file():
            count += 1
    return count


def load_images(paths: Sequence[str | Path], size: int, limit: int | None = None) -> ImageSet:
    """Image files, folders (recursively) and zips -> square training images of `size` pixels."""
    if not paths:
        raise DatasetError("no training images given; give image files, a folder or a zip of images")
    names = [Path(p).name for p in paths]
    source = names[0] if len(names) == 1 else f"{len(names)} uploads"
    return _collect(_expand(paths), size, source, limit)


# ---------------------------------------------------------------------------------------------------
# Datasets on the Hugging Face Hub (downloaded through hub.fetch: pinned by commit, cached, offline-aware)
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HubDataset:
    """One parquet file of a Hub dataset with an image column ({'bytes': ..., 'path': ...} rows)."""

    name: str
    title: str
    file: WeightsFile
    licence: str
    image_column: str = "image"


# Oxford flowers-102 (Nilsback & Zisserman 2008), as the study trained on. The copy below is a parquet
# export of the original 8,189 images, pinned by commit. Neither the original release (VGG, Oxford) nor
# this copy states a licence (the card says "unknown"; the images were collected from the web), so it is
# offered for research and teaching use as the original is, downloaded on request and never bundled.
_FLOWERS_REPO = "nelorth/oxford-flowers"
_FLOWERS_REVISION = "03030273b785e1f94a6fd382c0a20377de3f4cb5"
HUB_DATASETS: dict[str, HubDataset] = {
    "flowers-102": HubDataset(
        "flowers-102", "Oxford flowers-102, test split (43 MB)",
        WeightsFile(_FLOWERS_REPO, "data/test-00000-of-00001-96eeec628415add6.parquet", None,
                    revision=_FLOWERS_REVISION, repo_type="dataset"),
        "unknown (no licence stated by the VGG release or the Hub copy); research and teaching use",
    ),
    "flowers-102-train": HubDataset(
        "flowers-102-train", "Oxford flowers-102, train split (303 MB)",
        WeightsFile(_FLOWERS_REPO, "data/train-00000-of-00001-12de94e121bdbead.parquet", None,
                    revision=_FLOWERS_REVISION, repo_type="dataset"),
        "unknown (no licence stated by the VGG release or the Hub copy); research and teaching use",
    ),
}


def _parquet_images(path: Path, column: str) -> Iterator[tuple[str, bytes | None, str | None]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is in requirements.txt
        raise DatasetError("reading a Hub dataset needs pyarrow (pip install pyarrow, or restorers[datasets])") from exc
    try:
        table = pq.ParquetFile(path)
        if column not in table.schema_arrow.names:
            raise DatasetError(f"{path.name} has no '{column}' column (columns: {', '.join(table.schema_arrow.names)})")
        row = 0
        for batch in table.iter_batches(batch_size=256, columns=[column]):
            for cell in batch.column(0).to_pylist():
                row += 1
                data = cell.get("bytes") if isinstance(cell, dict) else cell
                yield f"row {row}", data if isinstance(data, bytes) else None, None if isinstance(data, bytes) else "no image bytes"
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any pyarrow decoding failure means the same to the user
        raise DatasetError(f"{path.name} is not a readable parquet file ({type(exc).__name__})") from exc


def load_hub_dataset(name: str | HubDataset, size: int, limit: int | None = None) -> ImageSet:
    """A pinned Hub dataset -> square training images (downloaded once into the Hugging Face cache)."""
    dataset = HUB_DATASETS.get(name) if isinstance(name, str) else name
    if dataset is None:
        raise DatasetError(f"unknown dataset '{name}'; choose one of {', '.join(HUB_DATASETS)}")
    try:
        path = fetch(dataset.file)
    except WeightsError as exc:
        detail = str(exc).removeprefix("weights ")  # hub.fetch speaks of weights; here it is a data file
        raise DatasetError(f"dataset {dataset.title} is not available: file {detail}") from exc
    return _collect(_parquet_images(path, dataset.image_column), size, dataset.title, limit)


def example_dataset(size: int) -> ImageSet:
    """The bundled demo set: four crops of each photo in examples/ (so a first run needs no upload)."""
    root = Path(__file__).resolve().parents[2] / "examples"  # restorers/dcgan/ -> the checkout's examples/
    photos = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if root.is_dir() else []
    if not photos:
        raise DatasetError("the bundled example photos (examples/) are missing")
    crops: list[np.ndarray] = []
    for photo in photos:
        rgb = images.load_image(photo).rgb
        h, w = rgb.shape[:2]
        side = min(h, w)
        # Four overlapping crops per photo (centre, and three scaled views) give a little variety.
        for scale, dy, dx in ((1.0, 0.5, 0.5), (0.7, 0.35, 0.5), (0.7, 0.5, 0.35), (0.7, 0.5, 0.65)):
            s = int(side * scale)
            top, left = int((h - s) * dy), int((w - s) * dx)
            crops.append(square(rgb[top : top + s, left : left + s], size))
    return ImageSet(np.stack(crops), f"{len(photos)} example photos ({len(crops)} crops)")
