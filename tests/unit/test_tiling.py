"""Tiled inference equals untiled inference where the context covers the receptive field, and seams are blended."""
from __future__ import annotations

import torch

from restorers.pipelines.tiling import network_context, pad_to_multiple, tiled_apply, window_pixels


def small_upscaler(scale: int, unshuffle: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    # Receptive field radius 2 (two 3x3 convs), in pixels after the optional pixel-unshuffle.
    layers = [torch.nn.PixelUnshuffle(unshuffle)] if unshuffle > 1 else []
    return torch.nn.Sequential(
        *layers,
        torch.nn.Conv2d(3 * unshuffle * unshuffle, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 3 * (scale * unshuffle) ** 2, 3, padding=1), torch.nn.PixelShuffle(scale * unshuffle),
    ).eval()


def test_tiled_equals_untiled_when_context_covers_receptive_field():
    net = small_upscaler(2)
    x = torch.rand(1, 3, 70, 53)
    with torch.inference_mode():
        full = net(x)
        for overlap in (0, 4, 7):
            tiled = tiled_apply(net, x, scale=2, tile=24, overlap=overlap, context=2)
            assert tiled.shape == full.shape == (1, 3, 140, 106)
            assert torch.allclose(tiled, full, atol=1e-5), overlap


def test_windows_keep_the_pixel_unshuffle_grid():
    net = small_upscaler(1, unshuffle=2)  # radius 2 feature px = 4 input px
    x = torch.rand(1, 3, 64, 48)
    with torch.inference_mode():
        full = net(x)
        tiled = tiled_apply(net, x, scale=1, tile=22, overlap=6, multiple=2, context=5)
    assert torch.allclose(tiled, full, atol=1e-5)


def test_tiles_differ_only_near_borders_without_context():
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


def test_seams_are_feathered_and_weights_normalised():
    # Each window returns its own constant: a hard crop would leave a step at the seam; the blend
    # turns it into a linear ramp across the overlap, and constant outputs stay exactly constant.
    def window_mean(t: torch.Tensor) -> torch.Tensor:
        return torch.full((1, 1, t.shape[2] * 2, t.shape[3] * 2), float(t.mean()))

    x = torch.zeros(1, 1, 16, 64)
    x[..., 32:] = 1.0
    hard = tiled_apply(window_mean, x, scale=2, tile=32, overlap=0)[0, 0, 0]
    soft = tiled_apply(window_mean, x, scale=2, tile=32, overlap=8)[0, 0, 0]
    assert (hard[64] - hard[63]).abs() > 0.9  # a step of the whole contrast
    steps = soft.diff().abs()
    assert steps.max() < 0.9 / 16 + 1e-6  # spread over 2 * 4 px * scale 2 = 16 output pixels
    assert soft[:48].eq(soft[0]).all() and soft[80:].eq(soft[-1]).all()  # untouched outside the band
    ones = tiled_apply(lambda t: torch.ones(1, 3, t.shape[2] * 3, t.shape[3] * 3), torch.rand(1, 3, 50, 37),
                       scale=3, tile=16, overlap=8, context=3)
    assert torch.allclose(ones, torch.ones_like(ones), atol=1e-6)


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


def test_window_pixels_counts_the_extra_compute():
    assert window_pixels(100, 100, 0, 16, 32) == 100 * 100
    assert window_pixels(100, 100, 128, 16, 32) == 100 * 100  # one tile: no extra work
    # Two tiles per side: windows of 50 + 4 + 10 = 64 px per axis.
    assert window_pixels(100, 100, 50, 8, 10) == 4 * 64 * 64


def test_network_context_comes_from_the_architecture():
    from restorers.models.archs.rrdbnet import EFFECTIVE_CONTEXT, RRDBNet
    from restorers.models.archs.srvgg import SRVGGNetCompact

    assert network_context(SRVGGNetCompact(num_conv=16)) == 18  # 18 convs of 3x3: exact receptive field
    assert network_context(SRVGGNetCompact(num_conv=32)) == 34
    assert network_context(RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4)) == 18
    assert network_context(RRDBNet(3, 3, scale=2, num_feat=8, num_block=23, num_grow_ch=4)) == 2 * EFFECTIVE_CONTEXT
    assert network_context(torch.nn.Identity(), default=7) == 7


def test_pad_to_multiple():
    padded, ph, pw = pad_to_multiple(torch.rand(1, 3, 5, 8), 4)
    assert padded.shape == (1, 3, 8, 8) and (ph, pw) == (3, 0)
