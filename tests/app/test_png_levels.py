"""PNG writing: fast files for the page, small files for keeping, always the same pixels."""
from __future__ import annotations

import numpy as np
from PIL import Image

from restorers.media import images


def _photo_like(size: int = 256) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x, y, (x + y) // 2], axis=-1).astype(np.float32)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def test_compress_level_changes_bytes_not_pixels(tmp_path):
    rgb = _photo_like()
    small = images.save_png(tmp_path / "small.png", rgb)  # default: level 6, for files people keep
    fast = images.save_png(tmp_path / "fast.png", rgb, compress_level=images.PNG_LEVEL_FAST)
    assert fast.stat().st_size > small.stat().st_size
    with Image.open(small) as a, Image.open(fast) as b:
        assert np.array_equal(np.asarray(a), rgb) and np.array_equal(np.asarray(b), rgb)


def test_app_result_files_are_written_fast(tmp_path):
    from webui.common import save_result_png

    rgb = _photo_like()
    path = save_result_png(tmp_path, "result", rgb)
    reference = images.save_png(tmp_path / "level1.png", rgb, compress_level=1)
    assert open(path, "rb").read() == reference.read_bytes()


def test_models_at_one_scale_share_one_comparison_image(tmp_path):
    from webui.restore_tab import run_restore

    photo = tmp_path / "face.png"
    images.save_png(photo, _photo_like(64))
    out = run_restore(str(photo), ["bicubic", "lanczos"], 2.0)
    compare = out[-1]
    assert compare["bicubic"][0] == compare["lanczos"][0]  # the enlarged input, written once
    assert compare["bicubic"][1] != compare["lanczos"][1]
