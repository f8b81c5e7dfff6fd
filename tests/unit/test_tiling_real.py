"""Seamless tiling with a real trained RRDBNet (the fp16-rounded Real-ESRGAN x4plus fixture in ../shared).

The fixture is used only here, under its own sha256 pin; it never becomes a product model.
"""
from __future__ import annotations

import numpy as np
import pytest

import restorers
from conftest import require_shared
from hubcache import add_file
from restorers.media import images
from restorers.models.registry import REALESRGAN_X4PLUS, ModelSpec

X4PLUS_FIXTURE = ("weights", "fixtures", "realesrgan-x4plus-from-ncnn.pth")
X4PLUS_FIXTURE_SHA256 = "722e7d8a8f39cd90965bcd5861e376b350977851b8910668e06983002e16d447"


@pytest.fixture()
def x4plus_spec(hub_cache) -> ModelSpec:
    data = require_shared(*X4PLUS_FIXTURE).read_bytes()
    weights = add_file(hub_cache, "fixtures/x4plus-from-ncnn", "realesrgan-x4plus-from-ncnn.pth", data)
    assert weights.sha256 == X4PLUS_FIXTURE_SHA256, "the x4plus fixture in ../shared is not the pinned file"
    return ModelSpec(name="fixture-x4plus-from-ncnn", title="fixture", family="sr", build=REALESRGAN_X4PLUS.build,
                     config=REALESRGAN_X4PLUS.config, weights=weights, scale=4)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def test_tiled_real_esrgan_matches_untiled(x4plus_spec):
    """Before context margins and feathered seams this case gave 42.9 dB (max 55 grey levels)."""
    restorer = restorers.load(x4plus_spec, device="cpu", precision="fp32")
    photo = images.load_image(require_shared("faces", "gfpgan-whole", "10045.png")).rgb
    crop = np.ascontiguousarray(photo[300:492, 300:492])  # a real photo, 192x192 -> 2x2 tiles of 128
    calls = []
    hook = restorer.network.register_forward_pre_hook(lambda _m, args: calls.append(tuple(args[0].shape[2:])))
    try:
        whole = restorer.upscale(crop, tile=0)
        tiled = restorer.upscale(crop, tile=128)
    finally:
        hook.remove()
    assert len(calls) == 1 + 4
    assert tiled.shape == whole.shape == (768, 768, 3)
    assert psnr(tiled, whole) >= 50
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 24
