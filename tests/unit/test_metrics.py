"""restorers.analysis.metrics: agreement with sewar, the published UQI, ideal values and input checks."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFilter

from restorers.analysis import metrics
from conftest import require_shared

sewar_full_ref = pytest.importorskip("sewar.full_ref")
sewar_utils = pytest.importorskip("sewar.utils")


def _load_face(name: str, size: int = 256) -> np.ndarray:
    path = require_shared("faces", "ffhq-gt", name)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS))


def _blurred(image: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return _load_face("00000.png")


@pytest.fixture(scope="module")
def pairs(face: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Pairs of real photos: a face against blurred, noisy and other-face versions, in colour,
    gray and an odd crop."""
    noisy = np.clip(face + np.random.default_rng(0).normal(0, 12, face.shape), 0, 255)
    return {
        "face-blur": (face, _blurred(face, 2.0)),
        "face-noise": (face, noisy.astype(np.uint8)),
        "faces-different": (face, _load_face("00001.png")),
        "gray-blur": (face[:, :, 1], _blurred(face, 1.0)[:, :, 1]),
        "odd-crop": (face[:201, :97], _blurred(face, 3.0)[:201, :97]),
    }


def _synthetic_pair(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Pairs that need no fixtures: independent noise (negative cs terms) and a smooth field
    against a noisy copy."""
    rng = np.random.default_rng(3)
    if name == "random-independent":
        return (rng.integers(0, 256, (61, 83, 3), dtype=np.uint8),
                rng.integers(0, 256, (61, 83, 3), dtype=np.uint8))
    yy, xx = np.mgrid[0:90, 0:120] / 30.0
    smooth = 128 + 100 * np.sin(xx)[..., None] * np.cos(yy[..., None] + np.arange(3))
    noisy = smooth + rng.normal(0, 20, smooth.shape)
    return smooth.astype(np.uint8), np.clip(noisy, 0, 255).astype(np.uint8)


def _sewar_quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sewar warns when MS-SSIM drops scales on small images
        return fn(*args, **kwargs)


def _assert_agrees_with_sewar(a: np.ndarray, b: np.ndarray) -> None:
    assert metrics.psnr(a, b) == sewar_full_ref.psnr(a, b)
    assert metrics.ssim(a, b) == pytest.approx(sewar_full_ref.ssim(a, b)[0], abs=1e-9)
    gaussian = dict(fltr=sewar_utils.Filter.GAUSSIAN, sigma=1.5, ws=11)
    expected = sewar_full_ref.ssim(a, b, fltr_specs=gaussian)[0]
    assert metrics.ssim(a, b, window="gaussian") == pytest.approx(expected, abs=1e-9)
    expected = _sewar_quietly(sewar_full_ref.msssim, a, b)
    assert metrics.ms_ssim(a, b) == pytest.approx(expected, abs=1e-9)
    # the compatibility figure is sewar's, bit for bit
    assert metrics.uqi_sewar(a, b) == sewar_full_ref.uqi(a, b)


PHOTO_PAIRS = ["face-blur", "face-noise", "faces-different", "gray-blur", "odd-crop"]


@pytest.mark.parametrize("name", PHOTO_PAIRS)
def test_agrees_with_sewar_on_photos(pairs, name: str) -> None:
    _assert_agrees_with_sewar(*pairs[name])


@pytest.mark.parametrize("name", ["random-independent", "smooth-noisy"])
def test_agrees_with_sewar_on_synthetic_images(name: str) -> None:
    _assert_agrees_with_sewar(*_synthetic_pair(name))


@pytest.mark.parametrize("name", ["random-independent", "smooth-noisy"])
def test_vifp_agrees_with_sewar(name: str) -> None:
    a, b = _synthetic_pair(name)  # small: sewar's vifp is slow
    assert metrics.vifp(a, b) == pytest.approx(sewar_full_ref.vifp(a, b), abs=1e-9)


def test_vifp_agrees_with_sewar_on_a_photo(pairs) -> None:
    a, b = (x[:96, :96] for x in pairs["face-blur"])
    assert metrics.vifp(a, b) == pytest.approx(sewar_full_ref.vifp(a, b), abs=1e-9)


def test_values_are_plain_floats_in_expected_ranges(pairs) -> None:
    a, b = pairs["face-blur"]
    scores = metrics.score_all(a, b)
    assert all(type(v) is float for v in scores.values())
    assert 25.0 < scores["psnr"] < 45.0
    for name in ("ssim", "ssim_gaussian", "ms_ssim", "uqi", "uqi_sewar", "vifp"):
        assert 0.0 < scores[name] < 1.0, name


def test_ms_ssim_of_anticorrelated_images_is_real(pairs) -> None:
    # A negative contrast-structure term has a complex fractional power in sewar's arithmetic;
    # both return the real part.
    a, _ = pairs["face-blur"]
    inverted = 255 - a
    ours = metrics.ms_ssim(a, inverted)
    assert isinstance(ours, float) and math.isfinite(ours)
    assert ours == pytest.approx(_sewar_quietly(sewar_full_ref.msssim, a, inverted), abs=1e-9)


# --- UQI as published -----------------------------------------------------------------------------


def _uqi_direct(a: np.ndarray, b: np.ndarray, ws: int = 8) -> float:
    """Wang & Bovik's Q straight from the paper's definitions: per 8x8 window (all positions,
    stride 1) the sample means, unbiased variances and covariance; special cases as img_qi.m."""
    a = a.astype(np.float64).reshape(a.shape[0], a.shape[1], -1)
    b = b.astype(np.float64).reshape(b.shape[0], b.shape[1], -1)
    per_channel = []
    for c in range(a.shape[2]):
        qs = []
        for i in range(a.shape[0] - ws + 1):
            for j in range(a.shape[1] - ws + 1):
                x = a[i : i + ws, j : j + ws, c].ravel()
                y = b[i : i + ws, j : j + ws, c].ravel()
                mx, my = x.mean(), y.mean()
                vx = ((x - mx) ** 2).sum() / (x.size - 1)
                vy = ((y - my) ** 2).sum() / (y.size - 1)
                cxy = ((x - mx) * (y - my)).sum() / (x.size - 1)
                if vx + vy == 0 and mx * mx + my * my != 0:
                    q = 2 * mx * my / (mx * mx + my * my)
                elif (vx + vy) * (mx * mx + my * my) == 0:
                    q = 1.0
                else:
                    q = 4 * cxy * mx * my / ((vx + vy) * (mx * mx + my * my))
                qs.append(q)
        per_channel.append(np.mean(qs))
    return float(np.mean(per_channel))


def test_uqi_matches_the_published_formula() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    b = np.clip(a * 0.7 + rng.normal(20, 25, a.shape), 0, 255).astype(np.uint8)
    # flat patches exercise the zero-variance special cases
    a[:10, :10] = 90
    b[:10, :10] = 60
    a[14:, 14:] = 0
    b[14:, 14:] = 0
    assert metrics.uqi(a, b) == pytest.approx(_uqi_direct(a, b), abs=1e-12)
    gray_a, gray_b = a[:20, :17, 0], b[:20, :17, 0]
    assert metrics.uqi(gray_a, gray_b) == pytest.approx(_uqi_direct(gray_a, gray_b), abs=1e-12)


def test_sewar_uqi_is_inflated(pairs) -> None:
    a, b = pairs["faces-different"]
    assert metrics.uqi(a, b) < 0.2
    assert metrics.uqi_sewar(a, b) > 0.4


# --- ideal values and input checks ----------------------------------------------------------------


def test_identical_images_give_ideal_values(face) -> None:
    assert metrics.psnr(face, face) == float("inf")
    assert metrics.ssim(face, face) == 1.0
    assert metrics.ssim(face, face, window="gaussian") == 1.0
    assert metrics.ms_ssim(face, face) == pytest.approx(1.0, abs=1e-12)
    assert metrics.uqi(face, face) == 1.0
    assert metrics.uqi_sewar(face, face) == pytest.approx(1.0, abs=1e-12)
    assert metrics.vifp(face, face) == pytest.approx(1.0, abs=1e-6)
    flat = np.full((32, 32, 3), 7, dtype=np.uint8)
    assert metrics.uqi(flat, flat) == 1.0
    assert metrics.ssim(flat, flat) == 1.0


def test_more_degradation_scores_worse(face) -> None:
    light, heavy = _blurred(face, 1.0), _blurred(face, 4.0)
    # The pixel metrics and NIQE (no weights needed; LPIPS and identity: tests/unit/test_learned_metrics.py).
    for name in (*metrics.PIXEL_METRICS, "niqe"):
        info = metrics.METRICS[name]
        better, worse = info.score(face, light), info.score(face, heavy)
        assert (better > worse) == info.higher_is_better, name


@pytest.mark.parametrize("fn", [metrics.psnr, metrics.ssim, metrics.ms_ssim, metrics.uqi,
                                metrics.uqi_sewar, metrics.vifp])
def test_bad_inputs_raise(fn) -> None:
    a = np.zeros((64, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="same shape"):
        fn(a, np.zeros((64, 63, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        fn(a.astype(np.float32), a.astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        fn(a, a.astype(np.uint16))
    with pytest.raises(ValueError, match="HxW"):
        fn(a[None], a[None])
    with pytest.raises(ValueError, match="numpy array"):
        fn(a.tolist(), a)


def test_too_small_images_raise() -> None:
    tiny = np.zeros((10, 30, 3), dtype=np.uint8)
    for fn in (metrics.ssim, metrics.ms_ssim, metrics.vifp):
        with pytest.raises(ValueError, match="at least"):
            fn(tiny, tiny)
    with pytest.raises(ValueError, match="at least"):
        metrics.uqi(tiny[:7], tiny[:7])
    with pytest.raises(ValueError, match="window"):
        metrics.ssim(tiny[:, :, 0].repeat(2, 0), tiny[:, :, 0].repeat(2, 0), window="box")


# --- registry and resizing ------------------------------------------------------------------------


def test_registry_and_score_all(pairs) -> None:
    a, b = pairs["face-noise"]
    assert {"psnr", "ssim", "ms_ssim", "uqi", "uqi_sewar"} <= set(metrics.METRICS)
    for name, info in metrics.METRICS.items():
        assert info.name == name and info.label and callable(info.function)
    subset = metrics.score_all(a, b, names=["uqi", "psnr"])
    assert list(subset) == ["uqi", "psnr"]
    assert subset["psnr"] == metrics.psnr(a, b)
    assert subset["uqi"] == metrics.uqi(a, b)
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.score_all(a, b, names=["no_such_metric"])
    with pytest.raises(ValueError, match="match_size"):
        metrics.score_all(a, b[:100])


def test_match_size(face) -> None:
    small = face[::4, ::4]
    resized = metrics.match_size(small, face.shape)
    assert resized.shape == face.shape and resized.dtype == np.uint8
    expected = Image.fromarray(np.ascontiguousarray(small))
    expected = expected.resize((256, 256), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(resized, np.asarray(expected))
    assert metrics.match_size(face, face.shape) is face
    assert metrics.match_size(face[:, :, 0], (40, 30)).shape == (40, 30)
    flat = np.full((20, 30, 3), 200, dtype=np.uint8)
    np.testing.assert_array_equal(metrics.match_size(flat, (45, 17)), 200)
    with pytest.raises(ValueError):
        metrics.match_size(face.astype(np.float32), face.shape)
    with pytest.raises(ValueError):
        metrics.match_size(face, (0, 10))
