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
