"""The image contract at the package boundary.

Outside, an image is a numpy uint8 HxWx3 RGB array, plus an optional HxW uint8 alpha that the caller gets
back. This module decodes anything Pillow reads into that form (EXIF orientation applied, grayscale,
palette, 16-bit and alpha handled), enforces a size limit, and converts to and from network tensors.
"""
from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..guards.limits import (DEFAULT_MAX_PIXELS, MAX_ASPECT_ENV, MAX_IMAGE_FILE_MB_ENV, MAX_PIXELS_ENV,  # noqa: F401
                             MAX_SIDE_ENV, max_aspect, max_image_file_bytes, max_pixels, max_side)

# Pillow's own bomb guard, set high: our limit below gives the clearer message.
Image.MAX_IMAGE_PIXELS = 20000 * 20000
# The formats decoded here (what IMAGE_SUFFIXES name; Pillow's JPEG opener also gives phones' MPO files). Any
# other plugin stays unused: an ICO's directory can say 256x256 while its embedded PNG is 20000x20000, and
# nothing here needs icons, PSDs or the rest. Multi-frame formats (GIF, TIFF, MPO, WebP, APNG) decode
# only their first frame, whose own size is what check_size sees.
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")
ACCEPTED_NAMES = "PNG, JPEG, WebP, BMP, TIFF or GIF"
# Formats recognised only to name them in the refusal (first bytes -> name).
_OTHER_FORMATS = ((b"\x00\x00\x01\x00", "an ICO icon"), (b"\x00\x00\x02\x00", "a CUR cursor"), (b"icns", "an ICNS icon"),
                  (b"8BPS", "a Photoshop PSD"), (b"\x01\xda", "an SGI image"), (b"DDS ", "a DDS texture"),
                  (b"%PDF", "a PDF"), (b"PK\x03\x04", "a zip archive"))


class ImageError(ValueError):
    """An input the user gave cannot be used as an image."""


class ImageTooLargeError(ImageError):
    pass


@dataclass
class LoadedImage:
    """A decoded image: RGB pixels, an optional alpha, and what the source was."""

    rgb: np.ndarray  # HxWx3 uint8
    alpha: np.ndarray | None = None  # HxW uint8
    grayscale: bool = False  # the source had no colour: results are given back as grayscale
    bit_depth: int = 8  # of the source; 16-bit sources are reduced to 8 bits at decode
    name: str = "image"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.rgb.shape[1], self.rgb.shape[0]


def check_size(width: int, height: int, limit: int | None = None) -> None:
    """Refuse an image past the pixel limit (``limit``, default $RESTORERS_MAX_PIXELS), the side limit or the
    aspect-ratio limit, from its declared size (before its pixels are decoded)."""
    limit = max_pixels() if limit is None else limit
    if width * height > limit:
        raise ImageTooLargeError(
            f"image is {width}x{height} ({width * height / 1e6:.1f} MP); the limit is {limit / 1e6:.1f} MP. "
            f"Resize it first, or raise ${MAX_PIXELS_ENV}."
        )
    side = max_side()
    if side and max(width, height) > side:
        raise ImageTooLargeError(f"image is {width}x{height}; each side may have at most {side} pixels. "
                                 f"Resize it first, or raise ${MAX_SIDE_ENV}.")
    aspect = max_aspect()
    if aspect and max(width, height) > aspect * max(min(width, height), 1):
        raise ImageTooLargeError(f"image is {width}x{height}, {max(width, height) / max(min(width, height), 1):.0f} "
                                 f"times longer than wide; at most {aspect:g}:1 is accepted. Crop it first, or "
                                 f"raise ${MAX_ASPECT_ENV}.")


def _other_format(data: bytes) -> str:
    return next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), "")


def open_header(source: str | Path | BinaryIO) -> Image.Image:
    """Pillow's lazy open (header only, no pixels) restricted to ACCEPTED_FORMATS: the one place that
    decides whether bytes are an image here, for the reader and for the cost estimate alike."""
    with warnings.catch_warnings():  # our own check gives the clearer message
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(source, formats=ACCEPTED_FORMATS)


def header_size(source: str | Path | BinaryIO) -> tuple[int, int] | None:
    """(width, height) an image's header declares, or None when it is not an accepted image."""
    try:
        with open_header(source) as image:
            return image.size
    except Exception:  # noqa: BLE001 - not an image (the reader says why)
        return None


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16 or array.max(initial=0) > 255:
        return np.clip(np.round(array.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    return np.clip(np.round(array), 0, 255).astype(np.uint8)


def from_pil(img: Image.Image, name: str = "image", limit: int | None = None) -> LoadedImage:
    """Decode a Pillow image into the boundary contract."""
    check_size(img.width, img.height, limit)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the picture
        pass
    mode = img.mode
    bit_depth = 16 if mode in {"I;16", "I;16B", "I;16L", "I"} or "16" in mode else 8
    alpha: np.ndarray | None = None
    grayscale = mode in {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}

    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in {"I", "I;16", "I;16B", "I;16L", "F"}:
        gray = _to_uint8(np.asarray(img))
        rgb = np.repeat(gray[..., None], 3, axis=2)
    elif mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        alpha = np.asarray(img.getchannel("A"), dtype=np.uint8).copy()
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    else:
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if alpha is not None and alpha.min() == 255:
        alpha = None  # fully opaque: nothing to carry
    return LoadedImage(np.ascontiguousarray(rgb), alpha, grayscale, bit_depth, name)


def _read_capped(source: str | Path | bytes | BinaryIO, name: str) -> bytes:
    """The encoded bytes, refused before reading when they pass the image file-size limit."""
    limit = max_image_file_bytes()
    too_big = (f"{name}: the file is larger than the {limit / 2**20:.0f} MB an image may have here; "
               f"shrink it first, or raise ${MAX_IMAGE_FILE_MB_ENV}.")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{name}: no such file")
        if path.stat().st_size > limit:
            raise ImageTooLargeError(too_big)
        return path.read_bytes()
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        data = source.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(too_big)
    return data


def _decode(data: bytes, name: str, limit: int | None) -> Image.Image:
    """Open the header, check the size it declares, and only then decode the pixels.

    Pillow's ``Image.open`` reads the header only; ``load()`` allocates width x height. Checking in between
    is what turns a few-kB PNG declaring 28000x28000 into a message instead of gigabytes.
    """
    if not data:
        raise ImageError(f"{name}: not a readable image (the file is empty)")
    try:
        img = open_header(io.BytesIO(data))
        check_size(img.width, img.height, limit)
        img.load()
    except ImageTooLargeError as exc:
        raise ImageTooLargeError(f"{name}: {exc}") from None
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{name}: the image declares more pixels than the limit allows") from None
    except UnidentifiedImageError:
        other = _other_format(data)
        if other:
            raise ImageError(f"{name}: not a readable image (it is {other}, a format not accepted here; use "
                             f"{ACCEPTED_NAMES})") from None
        raise ImageError(f"{name}: not a readable image (not an image format we can decode)") from None
    except MemoryError:
        raise ImageTooLargeError(f"{name}: not enough memory to decode this image") from None
    except Exception:  # noqa: BLE001 - any decoder failure on user data is "damaged", never a traceback
        raise ImageError(f"{name}: not a readable image (the file is truncated or damaged)") from None
    return img


def load_image(source: str | Path | bytes | BinaryIO | Image.Image | np.ndarray, limit: int | None = None) -> LoadedImage:
    """Read a path, bytes, file object, Pillow image or array into a LoadedImage, or raise ImageError.

    Messages name the file by its base name only (an app's upload lives in a server temp folder).
    """
    if isinstance(source, LoadedImage):
        return source
    if isinstance(source, np.ndarray):
        return from_array(source, limit=limit)
    if isinstance(source, Image.Image):
        return from_pil(source, limit=limit)
    if not isinstance(source, (str, Path, bytes, bytearray, memoryview)) and not hasattr(source, "read"):
        raise ImageError(f"expected an image file, bytes, a Pillow image or an array, got a {type(source).__name__}")
    name = Path(source).name if isinstance(source, (str, Path)) else "image"
    data = _read_capped(source, name)
    img = _decode(data, name, limit)
    try:
        loaded = from_pil(img, name=str(source) if isinstance(source, (str, Path)) else name, limit=limit)
    except ImageError:
        raise
    except Exception:  # noqa: BLE001 - e.g. a mode Pillow cannot convert
        raise ImageError(f"{name}: not a readable image (unsupported pixel format {img.mode})") from None
    if img.format == "PNG" and data[24:25] == b"\x10":
        # Byte 24 of a PNG is the IHDR bit depth; Pillow hands 16-bit colour PNGs over as 8-bit (high byte).
        loaded.bit_depth = 16
    return loaded


def from_array(array: np.ndarray, name: str = "image", limit: int | None = None) -> LoadedImage:
    """Accept HxW, HxWx1, HxWx3 or HxWx4 arrays of uint8 / uint16 / float in [0,1]."""
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageError(f"{name}: expected HxW, HxWx3 or HxWx4 pixels, got shape {array.shape}")
    check_size(array.shape[1], array.shape[0], limit)
    if np.issubdtype(array.dtype, np.floating):
        array = np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8)
    bit_depth = 16 if array.dtype == np.uint16 else 8
    array = _to_uint8(array)
    if array.ndim == 2 or array.shape[2] == 1:
        gray = array.reshape(array.shape[0], array.shape[1])
        return LoadedImage(np.repeat(gray[..., None], 3, axis=2), None, True, bit_depth, name)
    alpha = array[..., 3].copy() if array.shape[2] == 4 else None
    if alpha is not None and alpha.min() == 255:
        alpha = None
    return LoadedImage(np.ascontiguousarray(array[..., :3]), alpha, False, bit_depth, name)


def as_rgb(image: np.ndarray | LoadedImage) -> np.ndarray:
    """The RGB uint8 pixels of any accepted input (alpha dropped)."""
    if isinstance(image, LoadedImage):
        return image.rgb
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return image
    return from_array(image).rgb


def resize(image: np.ndarray, size: tuple[int, int], resample: str = "lanczos") -> np.ndarray:
    """Resize an HxW or HxWxC uint8 array to (width, height) with Pillow."""
    filters = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC,
               "bilinear": Image.Resampling.BILINEAR, "nearest": Image.Resampling.NEAREST,
               "area": Image.Resampling.BOX}
    if resample not in filters:
        raise ValueError(f"unknown resampling '{resample}'; choose one of {', '.join(filters)}")
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize(tuple(size), filters[resample]))


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    if not (math.isfinite(scale) and scale > 0):  # never a silent 1x1 image from a zero or negative scale
        raise ValueError(f"scale must be a positive number, got {scale}")
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None, grayscale: bool = False) -> Image.Image:
    """Re-attach alpha (resized to the result) and grayscale-ness for saving."""
    img = Image.fromarray(rgb)
    if grayscale:
        img = img.convert("L")
    if alpha is not None:
        if alpha.shape != rgb.shape[:2]:
            alpha = resize(alpha, (rgb.shape[1], rgb.shape[0]), "lanczos")
        img = img.convert("LA" if grayscale else "RGBA")
        img.putalpha(Image.fromarray(alpha))
    return img


PNG_LEVEL_SMALL = 6  # zlib level for files people keep (Pillow's default): smallest files
PNG_LEVEL_FAST = 1  # for files written per request and shown at once: ~3-5x faster, ~20-35 % more bytes


def save_png(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, grayscale: bool = False,
             compress_level: int = PNG_LEVEL_SMALL) -> Path:
    """Write a lossless PNG; ``compress_level`` (0-9) trades bytes for time, never pixels. The file appears
    complete or not at all (written under a temporary name, then renamed: media/atomic.py)."""
    from .atomic import atomic_output

    path = Path(path)
    picture = to_pil(rgb, alpha, grayscale)
    with atomic_output(path) as partial:
        picture.save(partial, format="PNG", compress_level=compress_level)
    return path


def to_tensor(rgb: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0)):
    """uint8 HxWx3 (or NxHxWx3) -> float32 NCHW tensor in value_range."""
    import torch

    array = rgb if rgb.ndim == 4 else rgb[None]
    # np.array copies read-only inputs (e.g. Pillow-backed arrays), which torch cannot wrap safely.
    array = np.ascontiguousarray(array) if array.flags.writeable else np.array(array)
    tensor = torch.from_numpy(array).permute(0, 3, 1, 2).float().div_(255.0)
    low, high = value_range
    if (low, high) != (0.0, 1.0):
        tensor = tensor.mul_(high - low).add_(low)
    return tensor


def from_tensor(tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """float NCHW tensor in value_range -> uint8 NxHxWx3 (clamped, rounded)."""
    low, high = value_range
    tensor = tensor.detach().float()
    if (low, high) != (0.0, 1.0):
        tensor = (tensor - low) / (high - low)
    array = tensor.clamp_(0.0, 1.0).mul_(255.0).round_().to("cpu").byte().permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(array)
