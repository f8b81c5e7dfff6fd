"""benchmarks/bench_paste.py's measures on synthetic photos: no change gives zeros, a hard-edged paste
gives a seam, and changes in the kept region show as 'outside'."""
from __future__ import annotations

import numpy as np
import torch

from benchmarks import bench_paste
from restorers.pipelines import face


def _photo() -> tuple[np.ndarray, np.ndarray]:
    """A 240x200 textured photo and the affine of a 512 px crop covering x 40..200, y 20..180."""
    yy, xx = np.mgrid[0:200, 0:240]
    photo = np.stack([80 + 40 * np.sin(xx / 9.0), 90 + 30 * np.cos(yy / 7.0), 100 + 0 * xx], -1).astype(np.uint8)
    scale = 512 / 160
    return photo, np.array([[scale, 0.0, -40 * scale], [0.0, scale, -20 * scale]])


def test_stand_ins_are_what_they_say():
    labels = bench_paste.ellipse_labels(512)
    assert labels.shape == (1, 512, 512) and set(labels.unique().tolist()) == {1, 17}
    assert labels[0, 290, 256] == 1 and labels[0, 20, 20] == 17
    crops = np.full((1, 64, 64, 3), 100, np.uint8)
    out = bench_paste.standin_restore(crops)
    assert out.shape == crops.shape and out.dtype == np.uint8 and out[0, 32, 32, 0] == 106  # 6 % brighter


def test_measures_on_synthetic_pastes():
    photo, affine = _photo()
    labels = bench_paste.ellipse_labels(512)
    square = face.square_weights(512, 512)
    same = bench_paste.measure(photo, {"square": photo}, {"square": [square]}, labels, [affine])
    assert same["square"]["seam"] == 0 and same["square"]["outside"] == 0 and same["square"]["inside"] == 0
    # A flat grey crop pasted with a hard mask: a strong new edge along the band, and hair/background changed.
    grey = np.full((512, 512, 3), 200, np.uint8)
    hard = torch.zeros(512, 512)
    hard[40:472, 40:472] = 1
    pasted = face.paste_faces(photo, [(grey, affine)], 1.0, masks=[hard.numpy()])
    weights = {"hard": [torch.minimum(square, hard)]}
    result = bench_paste.measure(photo, {"hard": pasted}, weights, labels, [affine])["hard"]
    assert result["seam"] > 1.0 and result["band_px"] > 0
    assert result["outside"] > 20 and result["inside"] > 50
    # The same crop through the stand-in ellipse's own weights: hair/background change much less.
    from restorers.pipelines.face_mask import parse_weights

    ellipse = parse_weights(labels)[0]
    pasted = face.paste_faces(photo, [(grey, affine)], 1.0, masks=[ellipse.numpy()])
    parse = bench_paste.measure(photo, {"parse": pasted}, {"parse": [torch.minimum(square, ellipse)]}, labels,
                                [affine])["parse"]
    assert parse["outside"] < result["outside"] / 2
    table = bench_paste.to_markdown([{"photo": "x.png", "faces": 1, "parser": "STAND-IN p", "restorer": "r",
                                      "square": result, "parse": parse}])
    assert f"| x.png | 1 | square | {result['seam']} | {result['outside']} |" in table
    assert f"| x.png | 1 | parse | {parse['seam']} | {parse['outside']} |" in table and "STAND-IN p" in table
