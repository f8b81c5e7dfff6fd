"""Seamless tiled inference, so that memory stays bounded on large images.

The image is cut into core tiles of ``tile`` pixels. Each tile is run on a window that adds, on every
side that is not the image border, ``overlap // 2`` pixels of blend band plus ``context`` pixels of
context (then cropped away). The context margin is what the network needs to see around a pixel to
give nearly the untiled answer there (its receptive field, or the part of it that matters: see
``network_context``); across each seam the two tiles are mixed with linear ramps (a feathered blend)
whose weights are normalised, so no hard edge is left where the small remaining errors differ.

Memory stays bounded by the window, ``tile + overlap + 2 * context`` pixels on a side (plus the output).
Pure functions: no state is kept between calls.
"""
from __future__ import annotations

import os
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from ..guards import cancel

TileFn = Callable[[torch.Tensor], torch.Tensor]

TILE_MEMORY_ENV = "RESTORERS_TILE_MEMORY_MB"
# Working memory one SR call may take for its activations. A free CPU Space has 16 GB: the cached
# networks (~1.1 GB), the app (~0.4 GB) and a few requests at once still fit next to 3 GB.
DEFAULT_TILE_MEMORY_MB = 3072
MIN_TILE = 64
TILE_STEP = 32  # tile sides are multiples of this (and of the network's pixel-unshuffle factor)


def tile_memory_budget() -> int:
    """Bytes of activation memory an SR call may use: $RESTORERS_TILE_MEMORY_MB, else the default."""
    raw = os.environ.get(TILE_MEMORY_ENV, "").strip()
    try:
        megabytes = float(raw) if raw else DEFAULT_TILE_MEMORY_MB
    except ValueError:
        raise ValueError(f"{TILE_MEMORY_ENV} must be a number of megabytes, got '{raw}'") from None
    if megabytes <= 0:
        raise ValueError(f"{TILE_MEMORY_ENV} must be positive, got '{raw}'")
    return int(megabytes * (1 << 20))


def choose_tile(height: int, width: int, bytes_per_pixel: int, budget: int, overlap: int = 16, context: int = 0) -> int:
    """The tile side for an image: 0 (one piece) when the whole image's activations fit ``budget`` bytes, else
    the largest tile (a multiple of TILE_STEP, at least MIN_TILE) whose window does.

    ``bytes_per_pixel``: the network's peak activation memory per input pixel, measured untiled (the spec's
    ``tile_bytes_per_pixel``). Larger tiles are faster (fewer windows, less overlap and context recomputed),
    so the largest that fits is taken. The window is the tile plus the blend band and the context on each side.
    """
    if bytes_per_pixel <= 0 or height * width * bytes_per_pixel <= budget:
        return 0
    margin = 2 * (overlap // 2 + context)
    side = int((budget / bytes_per_pixel) ** 0.5) - margin
    tile = max(MIN_TILE, side - side % TILE_STEP)
    return 0 if tile >= max(height, width) else tile


def tile_boxes(height: int, width: int, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of the non-overlapping core tiles that cover the image."""
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            yield y0, min(y0 + tile, height), x0, min(x0 + tile, width)


def network_context(net: object, default: int = 16) -> int:
    """Context margin (input pixels) a network asks for around each tile: its ``tile_context`` attribute.

    Architectures compute it from their own configuration (SRVGGNetCompact: its exact receptive field;
    RRDBNet: the part of its very large receptive field that still moves the output, measured on the real
    x4plus weights). Networks that say nothing get ``default``.
    """
    return int(getattr(net, "tile_context", default))


def _ramp(start: int, stop: int, length: int, half: int, scale: int, device: torch.device) -> torch.Tensor:
    """Blend weights, at output resolution, of the kept span [start - half, stop + half) of one axis.

    Weight 1 inside the core [start, stop); across a seam it falls linearly to 0 over the 2 * half pixels
    centred on the seam, so the two neighbours' weights sum to 1 there. No ramp at the image border.
    """
    lo, hi = max(start - half, 0), min(stop + half, length)
    centres = (torch.arange(lo * scale, hi * scale, device=device, dtype=torch.float32) + 0.5) / scale
    weight = torch.ones_like(centres)
    if half > 0:
        if start > 0:
            weight = weight * ((centres - (start - half)) / (2 * half)).clamp(0, 1)
        if stop < length:
            weight = weight * (((stop + half) - centres) / (2 * half)).clamp(0, 1)
    return weight


def window_pixels(height: int, width: int, tile: int, overlap: int, context: int) -> int:
    """Input pixels the network processes for one image (the cost of tiling, against height * width)."""
    if tile <= 0:
        return height * width
    half = overlap // 2
    total = 0
    for y0, y1, x0, x1 in tile_boxes(height, width, tile):
        rows = min(y1 + half + context, height) - max(y0 - half - context, 0)
        cols = min(x1 + half + context, width) - max(x0 - half - context, 0)
        total += rows * cols
    return total


def tiled_apply(
    fn: TileFn, x: torch.Tensor, scale: int, tile: int = 256, overlap: int = 16, multiple: int = 1, context: int = 0,
) -> torch.Tensor:
    """Apply ``fn`` (an ``scale``-times upscaler on NCHW tensors) tile by tile, blending across seams.

    ``overlap``: width of the band around each seam where two tiles are blended (half on each side).
    ``context``: extra input pixels around each tile's kept span, seen by the network and then cropped.
    ``multiple``: the network needs input sides divisible by it (pixel-unshuffle); windows are padded to it.
    Returns a float32 tensor on x's device of size (N, C_out, H*scale, W*scale).
    """
    if tile <= 0:
        return fn(x).float()
    n, _, height, width = x.shape
    half = min(max(overlap, 0) // 2, tile // 2)  # a tile's two ramps must not overlap
    out: torch.Tensor | None = None
    row_sum = torch.zeros(height * scale, device=x.device)
    col_sum = torch.zeros(width * scale, device=x.device)
    for y0, y1, x0, x1 in tile_boxes(height, width, tile):
        cancel.check()  # a request's time limit or a gone client stops the work between tiles
        # Kept span: the core plus half the blend band; window: the kept span plus context, clipped.
        ky0, ky1 = max(y0 - half, 0), min(y1 + half, height)
        kx0, kx1 = max(x0 - half, 0), min(x1 + half, width)
        wy0, wy1 = max(ky0 - context, 0), min(ky1 + context, height)
        wx0, wx1 = max(kx0 - context, 0), min(kx1 + context, width)
        # Start windows on the network's pixel-unshuffle grid, so each tile sees the grid the whole image does.
        wy0, wx0 = wy0 - wy0 % multiple, wx0 - wx0 % multiple
        wy1 = min(wy1 + (-(wy1 - wy0)) % multiple, height)
        wx1 = min(wx1 + (-(wx1 - wx0)) % multiple, width)
        window = x[:, :, wy0:wy1, wx0:wx1]
        pad_h = (-window.shape[2]) % multiple
        pad_w = (-window.shape[3]) % multiple
        if pad_h or pad_w:
            mode = "reflect" if pad_h < window.shape[2] and pad_w < window.shape[3] else "replicate"
            window = F.pad(window, (0, pad_w, 0, pad_h), mode=mode)
        result = fn(window)
        if out is None:
            out = torch.zeros((n, result.shape[1], height * scale, width * scale), dtype=torch.float32, device=x.device)
        cy0, cx0 = (ky0 - wy0) * scale, (kx0 - wx0) * scale
        kept = result[:, :, cy0 : cy0 + (ky1 - ky0) * scale, cx0 : cx0 + (kx1 - kx0) * scale].float()
        wy = _ramp(y0, y1, height, half, scale, x.device)
        wx = _ramp(x0, x1, width, half, scale, x.device)
        out[:, :, ky0 * scale : ky1 * scale, kx0 * scale : kx1 * scale] += kept * (wy[:, None] * wx[None, :])
        # The 2-D weights are outer products, so their sum over tiles is the product of two 1-D sums;
        # keeping those avoids a full-size weight image. Each row/column is counted once per tile column/row.
        if x0 == 0:
            row_sum[ky0 * scale : ky1 * scale] += wy
        if y0 == 0:
            col_sum[kx0 * scale : kx1 * scale] += wx
    assert out is not None
    # Normalise (the ramps already sum to 1; this keeps it exact whatever the ramp shape).
    out.div_(row_sum.view(1, 1, -1, 1)).div_(col_sum.view(1, 1, 1, -1))
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
