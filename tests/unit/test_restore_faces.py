"""GPEN and GFPGAN restorers end to end through the real hub path, with tiny checkpoints (the golden
cases' weights) in a temporary hub cache, in both aligned-face and whole-photo modes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import restorers
from conftest import require_shared
from hubcache import add_file, checkpoint_bytes
from restorers.media import images
from restorers.models.registry import GFPGAN_V14, GPEN_BFR_512, ModelSpec


def tiny_spec(hub_cache, golden: str, base: ModelSpec, size: int, wrap: str | None) -> ModelSpec:
    case = torch.load(require_shared("golden", golden), weights_only=True)
    config = {k: v for k, v in case["config"].items() if k != "device"}
    data = checkpoint_bytes(case["state_dict"], wrap=wrap)
    weights = add_file(hub_cache, f"tiny/{base.name}", base.weights.filename, data, repo_type="model")
    return ModelSpec(name=f"tiny-{base.name}", title=f"tiny {base.title}", family="face", build=base.build,
                     config=config, weights=weights, state_keys=base.state_keys, input_size=size,
                     value_range=(-1.0, 1.0), seeded_noise=base.seeded_noise)


@pytest.fixture()
def tiny_gpen(hub_cache) -> ModelSpec:
    return tiny_spec(hub_cache, "gpen/case_gpen_128.pt", GPEN_BFR_512, 128, wrap=None)  # GPEN files are bare


@pytest.fixture()
def tiny_gfpgan(hub_cache) -> ModelSpec:
    return tiny_spec(hub_cache, "gfpgan/case_gfpgan_64.pt", GFPGAN_V14, 64, wrap="params_ema")


@pytest.fixture(scope="module")
def aligned_face() -> np.ndarray:
    return images.load_image(require_shared("faces", "gfpgan-cropped", "Adele_crop.png")).rgb


@pytest.fixture(scope="module")
def whole_photo() -> np.ndarray:
    rgb = images.load_image(require_shared("faces", "gfpgan-whole", "10045.png")).rgb
    return images.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), "area")


def test_gpen_aligned_mode_equals_the_bare_network(tiny_gpen, aligned_face):
    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    result = restorer.restore(aligned_face, mode="aligned")
    assert result.image.shape == (128, 128, 3)
    crop = images.resize(aligned_face, (128, 128), "lanczos")
    with torch.inference_mode():
        direct = images.from_tensor(restorer.network(images.to_tensor(crop, (-1, 1)))[0], (-1, 1))[0]
    assert np.abs(result.image.astype(int) - direct.astype(int)).max() <= 1
    assert len(result.crops_before) == len(result.crops_after) == 1


def test_gpen_aligned_blend_and_outscale(tiny_gpen, aligned_face):
    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    untouched = restorer.restore(aligned_face, mode="aligned", blend=0.0).image
    assert np.array_equal(untouched, images.resize(aligned_face, (128, 128), "lanczos"))
    assert restorer.restore(aligned_face, mode="aligned", outscale=0.5).size == (256, 256)
    with pytest.raises(ValueError, match="blend"):
        restorer.restore(aligned_face, mode="aligned", blend=1.5)


def test_gpen_whole_photo_detects_restores_and_pastes_back(tiny_gpen, whole_photo):
    restorer = restorers.load(tiny_gpen, device="cpu")
    result = restorer.restore(whole_photo, mode="whole", outscale=2, background="lanczos")
    height, width = whole_photo.shape[:2]
    assert result.image.shape == (height * 2, width * 2, 3)
    assert len(result.faces) >= 1 and len(result.crops_after) == len(result.faces)
    assert result.crops_after[0].shape == (128, 128, 3)
    background = images.resize(whole_photo, (width * 2, height * 2), "lanczos")
    changed = np.abs(result.image.astype(int) - background.astype(int)).max(axis=2) > 8
    outside = np.ones_like(changed)
    for face in result.faces:
        x1, y1, x2, y2 = (int(v * 2) for v in face.box)
        assert changed[max(y1, 0):y2, max(x1, 0):x2].mean() > 0.2  # each face region was replaced...
        # ...and nothing outside the aligned crops' footprints (about twice the face box) changed.
        cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 1.5
        outside[max(int(cy - half), 0):int(cy + half), max(int(cx - half), 0):int(cx + half)] = False
    assert changed[outside].mean() < 0.01


def test_blend_zero_whole_photo_is_the_background(tiny_gpen, whole_photo):
    result = restorers.load(tiny_gpen, device="cpu", precision="fp32").restore(
        whole_photo, mode="whole", outscale=1, background="none", blend=0.0)
    diff = np.abs(result.image.astype(int) - whole_photo.astype(int))
    # Original crops pasted back: only resampling error (the 128 px crop is coarser than these faces).
    assert diff.mean() < 1.5 and np.percentile(diff, 95) <= 4


def test_no_face_found_returns_the_background_with_a_warning(tiny_gpen):
    landscape = images.load_image(require_shared("faces", "realesrgan-inputs", "OST_009.png")).rgb[:200, :300]
    result = restorers.load(tiny_gpen, device="cpu").restore(landscape, mode="whole", outscale=2, background="bicubic")
    assert result.faces == [] and result.image.shape == (400, 600, 3)
    assert result.warnings and "no face" in result.warnings[0]
    assert np.array_equal(result.image, images.resize(landscape, (600, 400), "bicubic"))


def test_only_center_face_and_min_face(tiny_gpen):
    group = images.load_image(require_shared("faces", "realesrgan-inputs", "children-alpha.png"))
    restorer = restorers.load(tiny_gpen, device="cpu")
    one = restorer.restore(group, mode="whole", outscale=1, background="none", only_center_face=True)
    assert len(one.faces) == 1 and one.alpha is not None
    big_only = restorer.restore(group, mode="whole", outscale=1, background="none", min_face=10_000)
    assert big_only.faces == []


def test_gfpgan_is_deterministic_by_default_and_seeded_on_request(tiny_gfpgan, aligned_face):
    restorer = restorers.load(tiny_gfpgan, device="cpu", precision="fp32")
    first = restorer.restore(aligned_face, mode="aligned").image
    assert first.shape == (64, 64, 3)
    assert np.array_equal(first, restorer.restore(aligned_face, mode="aligned").image)
    seeded = restorer.restore(aligned_face, mode="aligned", seed=7).image
    assert np.array_equal(seeded, restorer.restore(aligned_face, mode="aligned", seed=7).image)
    assert not np.array_equal(seeded, first)


def test_gfpgan_whole_photo(tiny_gfpgan, whole_photo):
    result = restorers.load(tiny_gfpgan, device="cpu").restore(whole_photo, mode="whole", outscale=1.5)
    assert len(result.faces) >= 1 and result.crops_after[0].shape == (64, 64, 3)
    assert result.size == images.scaled_size(whole_photo.shape[1], whole_photo.shape[0], 1.5)


def test_batched_and_one_by_one_face_restoration_agree(tiny_gpen, whole_photo, monkeypatch):
    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    monkeypatch.setenv("RESTORERS_FACE_BATCH", "1")
    single = restorer.restore(whole_photo, mode="whole", outscale=1, background="none")
    monkeypatch.setenv("RESTORERS_FACE_BATCH", "4")
    batched = restorer.restore(whole_photo, mode="whole", outscale=1, background="none")
    assert len(single.faces) >= 3
    assert np.abs(single.image.astype(int) - batched.image.astype(int)).max() <= 1
