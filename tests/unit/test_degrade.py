"""restorers.analysis.degrade: exactness of stack blur, seeding, effects and the spec parser."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import require_shared
from restorers.analysis import degrade


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    path = require_shared("faces", "ffhq-gt", "00002.png")
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((128, 128), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def small() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (13, 17, 3), dtype=np.uint8)


def _high_frequency_energy(image: np.ndarray) -> float:
    x = image.astype(np.float64)
    return float(np.mean(np.diff(x, axis=0) ** 2) + np.mean(np.diff(x, axis=1) ** 2))


# --- stack blur -----------------------------------------------------------------------------------


def _stack_blur_line(line: list[int], radius: int) -> list[int]:
    """Klingemann's scanline loop: a circular stack of 2r+1 pixels with running total, incoming
    and outgoing sums, the edge pixel repeated past the ends, integer division by (r+1)^2."""
    n = len(line)
    div = 2 * radius + 1
    divisor = (radius + 1) ** 2
    stack = [0] * div
    total = sum_in = sum_out = 0
    for i in range(-radius, radius + 1):
        p = line[min(n - 1, max(i, 0))]
        stack[i + radius] = p
        total += p * (radius + 1 - abs(i))
        if i > 0:
            sum_in += p
        else:
            sum_out += p
    pointer = radius
    out = []
    for x in range(n):
        out.append(total // divisor)
        total -= sum_out
        start = (pointer - radius + div) % div
        sum_out -= stack[start]
        p = line[min(x + radius + 1, n - 1)]
        stack[start] = p
        sum_in += p
        total += sum_in
        pointer = (pointer + 1) % div
        sum_out += stack[pointer]
        sum_in -= stack[pointer]
    return out


def _stack_blur_reference(image: np.ndarray, radius: int) -> np.ndarray:
    out = image.astype(np.int64).copy()
    for c in range(3):
        for y in range(out.shape[0]):  # horizontal pass first, as the original
            out[y, :, c] = _stack_blur_line(out[y, :, c].tolist(), radius)
        for x in range(out.shape[1]):
            out[:, x, c] = _stack_blur_line(out[:, x, c].tolist(), radius)
    return out.astype(np.uint8)


@pytest.mark.parametrize("radius", [1, 2, 3, 8, 25])
def test_stack_blur_equals_the_scanline_algorithm(small: np.ndarray, radius: int) -> None:
    before = small.copy()
    result = degrade.stack_blur(small, radius)
    np.testing.assert_array_equal(result, _stack_blur_reference(small, radius))
    np.testing.assert_array_equal(small, before)  # input untouched


def test_stack_blur_properties(face: np.ndarray) -> None:
    assert np.array_equal(degrade.stack_blur(face, 0), face)
    flat = np.full((9, 40, 3), 173, dtype=np.uint8)
    assert np.array_equal(degrade.stack_blur(flat, 30), flat)
    energies = [_high_frequency_energy(degrade.stack_blur(face, r)) for r in (0, 2, 8)]
    assert energies[0] > 3 * energies[1] > 3 * energies[2]
    for bad in (-1, 255, 2.5, True):
        with pytest.raises(ValueError, match="radius"):
            degrade.stack_blur(face, bad)


# --- Gaussian blur and resizing -------------------------------------------------------------------


def test_gaussian_blur(face: np.ndarray) -> None:
    assert np.array_equal(degrade.gaussian_blur(face, 0), face)
    blurred = degrade.gaussian_blur(face, 2.0)
    assert blurred.shape == face.shape and blurred.dtype == np.uint8
    assert _high_frequency_energy(blurred) < 0.2 * _high_frequency_energy(face)
    # a blur moves no mass: the mean stays (up to rounding and the mirrored borders)
    assert abs(blurred.mean() - face.mean()) < 0.5
    with pytest.raises(ValueError, match="sigma"):
        degrade.gaussian_blur(face, -1.0)
    with pytest.raises(ValueError, match="sigma"):
        degrade.gaussian_blur(face, float("nan"))


def test_downscale_sizes(face: np.ndarray) -> None:
    assert degrade.downscale(face, 4).shape == (32, 32, 3)
    odd = face[:100, :75]
    assert degrade.downscale(odd, 3).shape == (33, 25, 3)
    assert degrade.downscale(odd, 2.5, "area").shape == (40, 30, 3)
    assert degrade.downscale(odd, 64).shape == (2, 1, 3)
    restored = degrade.downscale(face, 4, "bilinear", restore_size=True)
    assert restored.shape == face.shape
    assert _high_frequency_energy(restored) < 0.5 * _high_frequency_energy(face)
    for interpolation in degrade.INTERPOLATIONS:
        assert degrade.downscale(face, 2, interpolation).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="interpolation"):
        degrade.downscale(face, 2, "cubic")
    with pytest.raises(ValueError, match="factor"):
        degrade.downscale(face, 0.5)


# --- noise ----------------------------------------------------------------------------------------


def test_gaussian_noise_seeding_and_strength() -> None:
    gray = np.full((64, 64, 3), 128, dtype=np.uint8)
    a = degrade.gaussian_noise(gray, 10, seed=3)
    assert np.array_equal(a, degrade.gaussian_noise(gray, 10, seed=3))
    assert not np.array_equal(a, degrade.gaussian_noise(gray, 10, seed=4))
    assert a.astype(np.float64).std() == pytest.approx(10.0, rel=0.05)
    assert abs(a.mean() - 128) < 0.5
    assert np.array_equal(degrade.gaussian_noise(gray, 0, seed=1), gray)
    mono = degrade.gaussian_noise(gray, 10, seed=3, gray=True)
    assert np.array_equal(mono[..., 0], mono[..., 1]) and np.array_equal(mono[..., 1], mono[..., 2])
    with pytest.raises(ValueError, match="seed"):
        degrade.gaussian_noise(gray, 10, seed=-1)
    with pytest.raises(ValueError, match="sigma"):
        degrade.gaussian_noise(gray, 300, seed=0)


def test_poisson_noise(face: np.ndarray) -> None:
    a = degrade.poisson_noise(face, 1.0, seed=7)
    assert np.array_equal(a, degrade.poisson_noise(face, 1.0, seed=7))
    assert not np.array_equal(a, degrade.poisson_noise(face, 1.0, seed=8))
    assert np.array_equal(degrade.poisson_noise(face, 0.0, seed=7), face)
    # signal-dependent: brighter pixels get more noise; the mean is kept. The photon count
    # depends on the number of distinct values, so the image holds a full ramp as well.
    dark = np.full((64, 64, 3), 30, dtype=np.uint8)
    bright = np.full((64, 64, 3), 160, dtype=np.uint8)
    ramp = np.broadcast_to(np.arange(256, dtype=np.uint8).reshape(64, 4, 1), (64, 4, 3))
    noisy = degrade.poisson_noise(np.concatenate([dark, bright, ramp], axis=1), 2.0, seed=0)
    noisy = noisy.astype(np.float64)
    dark_out, bright_out = noisy[:, :64], noisy[:, 64:128]
    assert bright_out.std() > 1.5 * dark_out.std() > 0
    assert abs(dark_out.mean() - 30) < 1.0 and abs(bright_out.mean() - 160) < 1.0
    mono_out = degrade.poisson_noise(face, 1.0, seed=7, gray=True)
    mono = mono_out.astype(np.int64) - face
    unclipped = ((mono_out > 0) & (mono_out < 255)).all(axis=2)
    assert unclipped.mean() > 0.9
    # the same noise in every channel, up to rounding
    assert np.abs(mono[..., 0] - mono[..., 2])[unclipped].max() <= 1
    with pytest.raises(ValueError, match="scale"):
        degrade.poisson_noise(face, -0.1, seed=0)


# --- JPEG -----------------------------------------------------------------------------------------

# ITU T.81 Annex K tables, natural (row-major) order: what IJG quality scaling starts from.
_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57,
         69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64,
         81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
_CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99,
           99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32


def _ijg_table(base: list[int], quality: int) -> list[int]:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (q * scale + 50) // 100)) for q in base]


@pytest.mark.parametrize("quality", [10, 30, 50, 75, 95])
def test_jpeg_is_written_at_the_requested_quality(face: np.ndarray, quality: int) -> None:
    data = degrade.encode_jpeg(face, quality)
    with Image.open(io.BytesIO(data)) as im:
        tables = im.quantization
    assert list(tables[0]) == _ijg_table(_LUMA, quality)
    assert list(tables[1]) == _ijg_table(_CHROMA, quality)


def test_jpeg_quality_orders_size_and_error(face: np.ndarray) -> None:
    qualities = [10, 40, 90]
    sizes = [len(degrade.encode_jpeg(face, q)) for q in qualities]
    errors = [np.abs(degrade.jpeg(face, q).astype(int) - face).mean() for q in qualities]
    assert sizes == sorted(sizes) and errors == sorted(errors, reverse=True)
    out = degrade.jpeg(face, 40)
    assert out.shape == face.shape and out.dtype == np.uint8
    for bad in (0, 101, 50.5):
        with pytest.raises(ValueError, match="quality"):
            degrade.jpeg(face, bad)


# --- Real-ESRGAN chain ----------------------------------------------------------------------------


def test_realesrgan_chain(face: np.ndarray) -> None:
    image = face[:, :100]
    a = degrade.realesrgan_chain(image, seed=11)
    assert a.shape == (32, 25, 3) and a.dtype == np.uint8
    assert np.array_equal(a, degrade.realesrgan_chain(image, seed=11))
    assert not np.array_equal(a, degrade.realesrgan_chain(image, seed=12))
    same_size = degrade.realesrgan_chain(image, seed=11, scale=1)
    assert same_size.shape == image.shape
    assert degrade.realesrgan_chain(image, seed=11, scale=2).shape == (64, 50, 3)
    # many seeds: always a degraded image, never a blank one
    for seed in range(6):
        out = degrade.realesrgan_chain(image, seed=seed, scale=1)
        assert 5 < out.mean() < 250 and not np.array_equal(out, image)
    with pytest.raises(ValueError, match="scale"):
        degrade.realesrgan_chain(image, seed=0, scale=0)
    with pytest.raises(ValueError, match="smaller"):
        degrade.realesrgan_chain(image[:3], seed=0, scale=4)


# --- spec parser ----------------------------------------------------------------------------------


def test_parse_degradation() -> None:
    spec = degrade.parse_degradation(" Downscale:2 + JPEG:40 ")
    assert [s.kind for s in spec.steps] == ["downscale", "jpeg"]
    assert str(spec) == "downscale:2+jpeg:40"
    assert not spec.is_random
    assert str(degrade.parse_degradation("stackblur:8")) == "stackblur:8"
    assert str(degrade.parse_degradation("blur:2.0")) == "gaussian:2"
    assert str(degrade.parse_degradation("downscale:4:area:restore")) == "downscale:4:area:restore"
    assert str(degrade.parse_degradation("noise:10:gray")) == "noise:10:gray"
    real = degrade.parse_degradation("realesrgan")
    assert real.steps[0].value is None and real.is_random
    assert degrade.parse_degradation("none").steps == ()
    assert degrade.parse_degradation("").steps == ()


@pytest.mark.parametrize(
    "spec, message",
    [
        ("stackblur", "needs a value"),
        ("stackblur:8.5", "integer"),
        ("stackblur:300", r"\[0, 254\]"),
        ("gaussian:x", "number"),
        ("noise:-3", "sigma"),
        ("jpeg:0", "quality"),
        ("downscale:2:cubic", "unexpected"),
        ("downscale:2:area:bicubic", "more than one"),
        ("poisson:1:gray:gray", "twice"),
        ("realesrgan:16", "scale"),
        ("sharpen:2", "unknown degradation"),
        ("jpeg:40++noise:5", "empty step"),
    ],
)
def test_parse_degradation_rejects(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        degrade.parse_degradation(spec)


def test_apply_degradation(face: np.ndarray) -> None:
    out = degrade.apply_degradation(face, "downscale:2+jpeg:40")
    np.testing.assert_array_equal(out, degrade.jpeg(degrade.downscale(face, 2), 40))
    blurred = degrade.apply_degradation(face, "stackblur:3")
    np.testing.assert_array_equal(blurred, degrade.stack_blur(face, 3))
    assert np.array_equal(degrade.apply_degradation(face, "none"), face)
    parsed = degrade.parse_degradation("noise:10+noise:10")
    a = degrade.apply_degradation(face, parsed, seed=1)
    assert np.array_equal(a, degrade.apply_degradation(face, "noise:10+noise:10", seed=1))
    assert not np.array_equal(a, degrade.apply_degradation(face, parsed, seed=2))
    # two noise steps draw independent noise: about sqrt(2) x the noise of one step
    one = degrade.apply_degradation(face, "noise:10", seed=1).astype(float) - face
    two = a.astype(float) - face
    assert two.std() / one.std() == pytest.approx(np.sqrt(2), rel=0.1)
    with pytest.raises(ValueError, match="HxWx3"):
        degrade.apply_degradation(face[:, :, 0], "jpeg:50")
    with pytest.raises(ValueError, match="uint8"):
        degrade.apply_degradation(face.astype(np.float32), "jpeg:50")
