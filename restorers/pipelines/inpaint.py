"""Masks for face inpainting and colourisation inputs: what the user painted white, read from any source.

CodeFormer's inpainting network was trained on faces whose damaged area is painted pure white; it redraws
that area and the caller keeps every other pixel. Here a mask is an HxW bool array (True = damaged).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..guards.validate import ParameterError
from ..media import images

MaskSource = str | Path | bytes | np.ndarray


def load_mask(source: MaskSource | object) -> np.ndarray:
    """An inpainting mask as HxW bool (True where the face is to be redrawn).

    A file or an RGB(A) image: white (grey level above 127) is damaged, black is kept; where it has an
    alpha channel, transparent pixels are kept. An HxW array: bool as it is, numbers above half their
    range (127 for uint8, 0.5 for floats) are damaged."""
    if isinstance(source, np.ndarray) and source.ndim == 2:
        if source.dtype == bool:
            return source.copy()
        if source.dtype == np.uint8:
            return source > 127
        if np.issubdtype(source.dtype, np.floating) or np.issubdtype(source.dtype, np.integer):
            return np.nan_to_num(source.astype(np.float64)) > 0.5
        raise ParameterError(f"inpaint mask: an HxW array of bool or numbers, got {source.dtype}")
    if not isinstance(source, (str, Path, bytes, bytearray, np.ndarray)):
        raise ParameterError(f"inpaint mask: a file path, PNG bytes or an array, got a {type(source).__name__}")
    try:
        loaded = images.load_image(source)
    except images.ImageError as exc:
        raise ParameterError(f"inpaint mask: {exc}") from None
    mask = loaded.rgb.max(axis=2) > 127
    if loaded.alpha is not None:
        mask &= loaded.alpha > 127
    return mask


def white_pixels(rgb: np.ndarray) -> np.ndarray:
    """The official inpainting demo's rule when no mask is given: pure white pixels (255, 255, 255) are damaged."""
    return np.all(rgb == 255, axis=2)


def fit_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """The mask at (width, height): nearest-neighbour, so it stays two-valued."""
    if mask.shape == (height, width):
        return mask
    scaled = images.resize(np.repeat((mask * 255).astype(np.uint8)[:, :, None], 3, axis=2), (width, height), "nearest")
    return scaled[:, :, 0] > 127


def check_mask_size(mask: np.ndarray, rgb: np.ndarray) -> None:
    if mask.shape != rgb.shape[:2]:
        raise ParameterError(f"the inpaint mask is {mask.shape[1]}x{mask.shape[0]} but the image is "
                             f"{rgb.shape[1]}x{rgb.shape[0]}: paint it over the same image")


def paint_white(crops: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) crops with their (N, S, S) damaged regions set to white: the network's input."""
    out = crops.copy()
    out[regions] = 255
    return out


def composite(kept: np.ndarray, drawn: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``drawn`` inside ``region``, ``kept`` everywhere else (bit for bit)."""
    return np.where(region[..., None], drawn, kept)


def to_gray3(crops: np.ndarray) -> np.ndarray:
    """RGB uint8 -> its ITU-R 601 luma in all three channels (the colouriser's input: a grey face)."""
    luma = crops[..., 0] * 0.299 + crops[..., 1] * 0.587 + crops[..., 2] * 0.114
    gray = np.clip(np.round(luma), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


COLORIZE_NOTE = ("only the faces are coloured (CodeFormer colourisation works on aligned faces); the rest of the "
                 "photo keeps its own colours, so a grey photo stays grey around them")
COLORIZE_ALIGNED_NOTE = ("coloured as one aligned face: CodeFormer colourisation colours faces only (use whole-photo "
                         "mode for a photo, where everything but the faces keeps its own colours)")
