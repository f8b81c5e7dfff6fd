"""Sheets of images: contact sheets and frame strips (numpy uint8 HxWx3 in, one image out), and the
Lanczos resize they share. Used by the repeated-run, latent-walk, video and DCGAN views."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .images import resize
from .video_io import check_frame


# ---------------------------------------------------------------------------------------------
# Small image helpers (Pillow)
# ---------------------------------------------------------------------------------------------

def check_frames(frames: Sequence[np.ndarray], same_size: bool) -> list[np.ndarray]:
    frames = list(frames)
    if not frames:
        raise ValueError("no frames given")
    for i, frame in enumerate(frames):
        check_frame(frame, f"frame {i}")
    if same_size and any(f.shape != frames[0].shape for f in frames):
        sizes = sorted({f.shape[:2] for f in frames})
        raise ValueError(f"all frames must have the same size, got {sizes}; use timeline_frames() first")
    return frames


def as_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """An int means a square; a pair is (width, height), as Pillow counts."""
    w, h = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if w < 1 or h < 1:
        raise ValueError(f"size must be positive, got {size}")
    return w, h


def resize_lanczos(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 HxWx3 image to exactly (width, height) with Lanczos; no copy if unchanged."""
    return resize(image, (int(size[0]), int(size[1])), "lanczos")


def fit_inside(image: np.ndarray, size: tuple[int, int], background: int = 0) -> np.ndarray:
    """Scale to fit inside (width, height) keeping the aspect ratio, centred on a plain canvas."""
    w, h = size
    ih, iw = image.shape[:2]
    scale = min(w / iw, h / ih)
    fw, fh = max(1, round(iw * scale)), max(1, round(ih * scale))
    fitted = resize_lanczos(image, (fw, fh))
    if (fw, fh) == (w, h):
        return fitted
    canvas = np.full((h, w, 3), background, dtype=np.uint8)
    top, left = (h - fh) // 2, (w - fw) // 2
    canvas[top : top + fh, left : left + fw] = fitted
    return canvas


def stamp_label(image: np.ndarray, text: str) -> np.ndarray:
    """Write `text` in the top-left corner on a dark box (Pillow's default bitmap font)."""
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((4, 3), text, font=font)
    draw.rectangle((left - 3, top - 2, right + 3, bottom + 2), fill=(0, 0, 0))
    draw.text((4, 3), text, fill=(255, 255, 255), font=font)
    return np.asarray(pil)


# ---------------------------------------------------------------------------------------------
# Sheets
# ---------------------------------------------------------------------------------------------

def contact_sheet(
    images: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    columns: int | None = None,
    gap: int = 4,
    background: int = 32,
) -> np.ndarray:
    """Images on a grid, row by row; `columns` defaults to ceil(sqrt(n)).

    Every cell is as large as the largest image; smaller images are centred, never scaled.
    Labels, if given, are stamped in each cell's top-left corner.
    """
    images = check_frames(images, same_size=False)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    n = len(images)
    columns = columns or math.ceil(math.sqrt(n))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    rows = math.ceil(n / columns)
    cell_h = max(im.shape[0] for im in images)
    cell_w = max(im.shape[1] for im in images)
    sheet = np.full(
        (rows * cell_h + (rows + 1) * gap, columns * cell_w + (columns + 1) * gap, 3), background, dtype=np.uint8
    )
    for i, image in enumerate(images):
        if labels is not None:
            image = stamp_label(image, labels[i])
        r, c = divmod(i, columns)
        top = gap + r * (cell_h + gap) + (cell_h - image.shape[0]) // 2
        left = gap + c * (cell_w + gap) + (cell_w - image.shape[1]) // 2
        sheet[top : top + image.shape[0], left : left + image.shape[1]] = image
    return sheet


def frame_strip(
    frames: Sequence[np.ndarray], max_frames: int = 10, height: int = 128, label: bool = True
) -> np.ndarray:
    """A one-row contact sheet of up to `max_frames` evenly spaced frames, each `height` tall.

    The first and last frames are always included; with `label` each thumbnail shows its index.
    """
    frames = check_frames(frames, same_size=False)
    if max_frames < 1 or height < 1:
        raise ValueError(f"max_frames and height must be >= 1, got {max_frames}, {height}")
    count = min(len(frames), max_frames)
    indices = sorted({int(round(i)) for i in np.linspace(0, len(frames) - 1, count)})
    thumbs = [
        resize_lanczos(frames[i], (max(1, round(frames[i].shape[1] * height / frames[i].shape[0])), height))
        for i in indices
    ]
    labels = [f"#{i}" for i in indices] if label else None
    return contact_sheet(thumbs, labels=labels, columns=len(thumbs), gap=2)
