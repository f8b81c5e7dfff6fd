"""Tiled inference with overlap, so that memory stays bounded on large images.

Each tile is processed with ``overlap`` pixels of real context on every side and only its centre is
kept, so the result equals untiled inference wherever the network's receptive field fits inside the
overlap, and is very close elsewhere. Pure functions: no state is kept between calls.
"""
from __future__ import annotations

from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from . import cancel

TileFn = Callable[[torch.Tensor], torch.Tensor]


def tile_boxes(height: int, width: int, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of the non-overlapping core tiles that cover the image."""
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            yield y0, min(y0 + tile, height), x0, min(x0 + tile, width)


def tiled_apply(fn: TileFn, x: torch.Tensor, scale: int, tile: int = 256, overlap: int = 16, multiple: int = 1) -> torch.Tensor:
    """Apply ``fn`` (an ``scale``-times upscaler on NCHW tensors) tile by tile.

    ``multiple``: the network needs input sides divisible by it (pixel-unshuffle); tiles are padded to it.
    Returns a float32 tensor on x's device of size (N, C_out, H*scale, W*scale).
    """
    if tile <= 0:
        return fn(x).float()
    n, _, height, width = x.shape
    out: torch.Tensor | None = None
    for y0, y1, x0, x1 in tile_boxes(height, width, tile):
        cancel.check()  # a request's time limit or a gone client stops the work between tiles
        # Input window: the core tile plus `overlap` context, clipped to the image.
        wy0, wy1 = max(y0 - overlap, 0), min(y1 + overlap, height)
        wx0, wx1 = max(x0 - overlap, 0), min(x1 + overlap, width)
        window = x[:, :, wy0:wy1, wx0:wx1]
        pad_h = (-window.shape[2]) % multiple
        pad_w = (-window.shape[3]) % multiple
        if pad_h or pad_w:
            mode = "reflect" if pad_h < window.shape[2] and pad_w < window.shape[3] else "replicate"
            window = F.pad(window, (0, pad_w, 0, pad_h), mode=mode)
        result = fn(window).float()
        if out is None:
            out = torch.empty((n, result.shape[1], height * scale, width * scale), dtype=torch.float32, device=x.device)
        # Keep only the core of the result.
        cy0, cx0 = (y0 - wy0) * scale, (x0 - wx0) * scale
        core = result[:, :, cy0 : cy0 + (y1 - y0) * scale, cx0 : cx0 + (x1 - x0) * scale]
        out[:, :, y0 * scale : y1 * scale, x0 * scale : x1 * scale] = core
    assert out is not None
    return out


def pad_to_multiple(x: torch.Tensor, multiple: int, extra: int = 0) -> tuple[torch.Tensor, int, int]:
    """Reflect-pad bottom/right so both sides are divisible by ``multiple`` (after ``extra`` border pixels)."""
    height, width = x.shape[2], x.shape[3]
    pad_h = extra + (-(height + extra)) % multiple
    pad_w = extra + (-(width + extra)) % multiple
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, pad_h, pad_w
