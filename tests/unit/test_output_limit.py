"""The output pixel limit (RESTORERS_MAX_OUTPUT_PIXELS): one rule in the engine, seen by the API and the CLI."""
from __future__ import annotations

import numpy as np
import pytest

import restorers
from restorers.guards import limits
from restorers.cli.commands import main


def test_clamp_keeps_small_requests_and_lowers_big_ones(monkeypatch):
    monkeypatch.delenv(limits.MAX_OUTPUT_PIXELS_ENV, raising=False)
    assert limits.clamp_output_scale(512, 512, 4.0) == (4.0, None)
    # The case: 4096x4096 at x4 would be 16384x16384; the default limit is 4096x4096.
    scale, note = limits.clamp_output_scale(4096, 4096, 4.0)
    assert scale == 1.0
    assert "16384x16384" in note and "x1" in note and limits.MAX_OUTPUT_PIXELS_ENV in note
    monkeypatch.setenv(limits.MAX_OUTPUT_PIXELS_ENV, "10000")
    scale, note = limits.clamp_output_scale(37, 23, 4.0)
    assert round(37 * scale) * round(23 * scale) <= 10000 < round(37 * (scale + 0.01)) * round(23 * (scale + 0.01))


def test_engine_clamps_every_family_and_says_so(monkeypatch):
    monkeypatch.setenv(limits.MAX_OUTPUT_PIXELS_ENV, str(200 * 200))
    rgb = np.random.default_rng(0).integers(0, 256, (100, 80, 3), dtype=np.uint8)
    result = restorers.restore(rgb, "lanczos", outscale=4.0)
    assert 0.98 * 200 * 200 < result.image.shape[0] * result.image.shape[1] <= 200 * 200
    assert "lowered from x4" in result.warnings[0]
    # The baselines' default scale (x4) is clamped too, and a small request is left alone.
    assert restorers.restore(rgb, "bicubic").warnings
    assert restorers.restore(rgb, "bicubic", outscale=2.0).warnings == []


def test_cli_prints_the_note(monkeypatch, tmp_path, capsys):
    from PIL import Image

    monkeypatch.setenv(limits.MAX_OUTPUT_PIXELS_ENV, str(100 * 100))
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / "in.png")
    assert main(["restore", str(tmp_path / "in.png"), "--model", "lanczos", "--scale", "4",
                 "--out", str(tmp_path / "out")]) == 0
    assert "output scale lowered from x4 to x1.562" in capsys.readouterr().err
    with Image.open(tmp_path / "out" / "in_lanczos.png") as out:
        assert out.size == (100, 100)

