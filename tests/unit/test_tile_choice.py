"""Tile sizes follow each SR network's measured memory per pixel and $RESTORERS_TILE_MEMORY_MB."""
from __future__ import annotations

import pytest

from restorers.models.registry import get_spec
from restorers.pipelines import restorer as restorer_module
from restorers.pipelines import tiling
from restorers.pipelines.tiling import choose_tile, tile_memory_budget

MB = 1 << 20


def test_untiled_when_the_whole_image_fits():
    assert choose_tile(679, 1024, 1024, 3072 * MB) == 0
    assert choose_tile(679, 1024, 0, 1) == 0  # unknown memory per pixel: no opinion


def test_largest_tile_whose_window_fits():
    budget = 64 * MB
    tile = choose_tile(2048, 2048, 4096, budget, overlap=16, context=10)
    assert tile % tiling.TILE_STEP == 0 and tile >= tiling.MIN_TILE
    window = tile + 16 + 20
    assert window**2 * 4096 <= budget < (window + tiling.TILE_STEP) ** 2 * 4096
    assert choose_tile(2048, 2048, 4096, 1) == tiling.MIN_TILE  # never below the minimum


def test_per_architecture_tiles_for_one_photo():
    budget = tiling.DEFAULT_TILE_MEMORY_MB * MB
    tiles = {name: choose_tile(679, 1024, get_spec(name).tile_bytes_per_pixel, budget, 16, 10)
             for name in ("realesr-general-x4v3", "realesrgan-x2plus", "realesrgan-x4plus")}
    # SRVGG and x2plus run a 1024x679 photo in one piece; x4plus (16x the pixels at its last convs) is tiled.
    assert tiles["realesr-general-x4v3"] == 0 and tiles["realesrgan-x2plus"] == 0
    assert 256 <= tiles["realesrgan-x4plus"] < 1024


def test_memory_setting(monkeypatch):
    monkeypatch.delenv(tiling.TILE_MEMORY_ENV, raising=False)
    assert tile_memory_budget() == tiling.DEFAULT_TILE_MEMORY_MB * MB
    monkeypatch.setenv(tiling.TILE_MEMORY_ENV, "512")
    assert tile_memory_budget() == 512 * MB
    spec = get_spec("realesr-general-x4v3")
    assert restorer_module._tile_size(679, 1024, None, spec, 10) > 0  # 0.7 GB of activations > 512 MB
    assert restorer_module._tile_size(679, 1024, 200, spec, 10) == 200  # the caller's tile wins
    for bad in ("lots", "0", "-5"):
        monkeypatch.setenv(tiling.TILE_MEMORY_ENV, bad)
        with pytest.raises(ValueError, match=tiling.TILE_MEMORY_ENV):
            tile_memory_budget()


def test_face_models_of_one_run_share_one_background():
    import numpy as np

    from restorers.pipelines.restorer import SharedBackground, no_face_message, shared_background
    import torch

    shared = SharedBackground("bicubic", torch.device("cpu"), "fp32")
    photo = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    first = shared(photo, 2.0)
    second = shared(photo.copy(), 2.0)  # another restorer's copy of the same photo
    assert shared.computed == 1 and first.shape == (60, 80, 3) and np.array_equal(first, second)
    first[:] = 0  # a model pasting its faces does not change what the next one gets
    assert np.array_equal(shared(photo, 2.0), second) and shared.computed == 1
    shared(photo, 3.0)
    other = photo.copy()
    other[0, 0] ^= 1
    shared(other, 3.0)
    assert shared.computed == 3  # another scale, another image: computed again
    assert "'bicubic'" in no_face_message(shared, 2.0)
    # Only SR backgrounds are worth sharing; the cheap ones and 'none' stay as they are.
    assert shared_background("lanczos", torch.device("cpu"), "fp32") == "lanczos"
    assert shared_background("none", torch.device("cpu"), "fp32") == "none"
    assert isinstance(shared_background("realesr-general-x4v3", torch.device("cpu"), "fp32"), SharedBackground)
