"""NIQE: the MATLAB building blocks, the packaged pristine model, and values on the project's own example faces.

The scores on the MATLAB release's published calibration images are checked by
benchmarks/check_niqe_reference.py (the images are not ours to ship); see docs/metrics.md for its result."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorers.analysis import niqe as N

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / name).convert("RGB"))


def test_packaged_model_is_the_published_one() -> None:
    digest = hashlib.sha256(N.PRISTINE_FILE.read_bytes()).hexdigest()
    assert digest == "e12caab3587efc4d551e8f3de89a296dc87a5a960b25f2c1bf448e3c8a2d058b"
    model = N.load_pristine_model()
    assert model.mu.shape == (36,) and model.cov.shape == (36, 36)
    # The first values of the release's mu_prisparam, and a symmetric covariance.
    np.testing.assert_allclose(model.mu[:4], [2.60131368, 0.90570272, 0.81204778, 0.09042671], atol=1e-8)
    np.testing.assert_array_equal(model.cov, model.cov.T)


def test_rgb_to_gray_rounds_like_matlab() -> None:
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [128, 128, 128]]], np.uint8)
    assert N.rgb_to_gray_matlab(pixels).tolist() == [[76.0, 150.0, 29.0, 255.0, 128.0]]


def test_resize_half_keeps_constants_and_ramps() -> None:
    flat = np.full((40, 30), 7.0)
    np.testing.assert_allclose(N.resize_half_matlab(flat), 7.0, rtol=1e-12)
    # The bicubic kernel reproduces linear functions: away from the mirrored borders, output sample u
    # (1-based) of a ramp f(i) = i lands on input coordinate 2u - 0.5.
    ramp = np.tile(np.arange(1, 65, dtype=np.float64)[:, None], (1, 8))
    out = N.resize_half_matlab(ramp)
    assert out.shape == (32, 4)
    u = np.arange(1, 33)
    np.testing.assert_allclose(out[3:-3, 0], (2 * u - 0.5)[3:-3], atol=1e-12)


def test_values_on_example_faces() -> None:
    clean = N.niqe(_example("grace_hopper_face.png"))
    blurred = N.niqe(_example("grace_hopper_face_blurred.png"))
    assert clean == pytest.approx(3.3537857378098686, abs=1e-9)
    assert blurred == pytest.approx(8.4994225921523, abs=1e-9)
    assert blurred > 2 * clean  # blur moves the statistics away from pristine photos


def test_grey_input_equals_rgb_with_equal_channels() -> None:
    grey = _example("grace_hopper_face.png")[:, :, 1]
    assert N.niqe(grey) == pytest.approx(N.niqe(np.repeat(grey[:, :, None], 3, axis=2)), abs=1e-12)


def test_noise_scores_far_from_natural() -> None:
    noise = (np.random.default_rng(0).random((192, 288, 3)) * 255).astype(np.uint8)
    assert N.niqe(noise) > 20


def test_model_from_a_matlab_file_gives_the_same_score(tmp_path) -> None:
    from scipy.io import savemat

    model = N.load_pristine_model()
    path = tmp_path / "modelparameters.mat"
    savemat(path, {"mu_prisparam": model.mu[None, :], "cov_prisparam": model.cov})
    image = _example("astronaut_face.png")
    assert N.niqe(image, N.load_pristine_model(path)) == N.niqe(image)


def test_bad_inputs_say_why(tmp_path) -> None:
    with pytest.raises(ValueError, match="two whole 96x96 blocks"):
        N.niqe(np.zeros((96, 96, 3), np.uint8))
    with pytest.raises(ValueError, match="no texture|fewer than two"):
        N.niqe(np.full((192, 192, 3), 90, np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        N.niqe(np.zeros((192, 192, 3), np.float32))
    bad = tmp_path / "model.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(ValueError, match="holds no NIQE model"):
        N.load_pristine_model(bad)
