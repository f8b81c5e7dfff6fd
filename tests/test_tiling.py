"""Tiled inference equals untiled inference where the receptive field fits in the overlap."""
from __future__ import annotations

import torch

from restorers.tiling import pad_to_multiple, tiled_apply


def small_upscaler(scale: int) -> torch.nn.Module:
    torch.manual_seed(0)
    # Receptive field radius 2 (two 3x3 convs), far below the overlap used below.
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 3 * scale * scale, 3, padding=1), torch.nn.PixelShuffle(scale),
    ).eval()


def test_tiled_equals_untiled_when_overlap_covers_receptive_field():
    net = small_upscaler(2)
    x = torch.rand(1, 3, 70, 53)
    with torch.inference_mode():
        full = net(x)
        tiled = tiled_apply(net, x, scale=2, tile=24, overlap=4)
    assert tiled.shape == full.shape == (1, 3, 140, 106)
    assert torch.allclose(tiled, full, atol=1e-5)


def test_tiles_differ_only_near_borders_when_overlap_is_too_small():
    net = small_upscaler(1)
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        full, tiled = net(x), tiled_apply(net, x, scale=1, tile=32, overlap=0)
    diff = (full - tiled).abs().amax(dim=1)[0]
    assert diff[28:36, :].max() > 1e-4  # seams at the tile border...
    interior = torch.ones_like(diff, dtype=torch.bool)
    interior[29:35, :] = False
    interior[:, 29:35] = False
    assert diff[interior].max() < 1e-5  # ...and nowhere else


def test_pixel_unshuffle_multiple_is_respected():
    calls = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        calls.append(t.shape)
        assert t.shape[2] % 4 == 0 and t.shape[3] % 4 == 0
        return torch.nn.functional.interpolate(t, scale_factor=2, mode="nearest")

    x = torch.rand(1, 3, 50, 37)
    out = tiled_apply(fn, x, scale=2, tile=20, overlap=3, multiple=4)
    assert out.shape == (1, 3, 100, 74) and len(calls) == 6
    assert torch.allclose(out[:, :, ::2, ::2], x)


def test_pad_to_multiple():
    padded, ph, pw = pad_to_multiple(torch.rand(1, 3, 5, 8), 4)
    assert padded.shape == (1, 3, 8, 8) and (ph, pw) == (3, 0)
