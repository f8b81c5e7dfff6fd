"""Whole-photo mode's default background ("auto") and its results as they come (restore_steps): the faces
on a Lanczos background first, then the final image on the upsampled background, detected and restored once."""
from __future__ import annotations

import numpy as np
import pytest

import restorers
from conftest import require_shared
from restorers.media import images
from restorers.models import hub, registry
from test_restore_faces import tiny_spec  # noqa: F401 (the tiny GPEN checkpoint in a temporary hub cache)
from restorers.models.registry import GPEN_BFR_512


@pytest.fixture()
def tiny_gpen(hub_cache):
    return tiny_spec(hub_cache, "gpen/case_gpen_128.pt", GPEN_BFR_512, 128, wrap=None)


@pytest.fixture(scope="module")
def whole_photo() -> np.ndarray:
    rgb = images.load_image(require_shared("faces", "gfpgan-whole", "10045.png")).rgb
    return images.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), "area")


def bicubic_background(calls: list):
    """A stand-in for an SR background upsampler (a callable counts as real work); records its calls."""
    def upscale(rgb: np.ndarray, scale: float) -> np.ndarray:
        calls.append(rgb.shape)
        return images.resize(rgb, images.scaled_size(rgb.shape[1], rgb.shape[0], scale), "bicubic")
    return upscale


def test_auto_background_is_general_x4v3_where_it_can_run_else_lanczos(hub_cache, monkeypatch):
    assert registry.default_background() == "lanczos"  # offline, not cached
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.forget_hub_failure()
    try:
        assert registry.default_background() == "realesr-general-x4v3"  # downloads on first use
        hub.mark_hub_unreachable("test: the Hub does not answer")
        assert registry.default_background() == "lanczos"
    finally:
        hub.forget_hub_failure()


def test_auto_background_here_is_the_lanczos_one(tiny_gpen, whole_photo):
    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    auto = restorer.restore(whole_photo, mode="whole")  # no background named: "auto"
    lanczos = restorer.restore(whole_photo, mode="whole", background="lanczos")
    assert auto.size == lanczos.size == images.scaled_size(whole_photo.shape[1], whole_photo.shape[0], 2.0)
    assert np.array_equal(auto.image, lanczos.image)


def test_faces_first_on_lanczos_then_the_final_background(tiny_gpen, whole_photo, monkeypatch):
    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    restored_batches: list[int] = []
    original = restorer.restore_crops_sweep

    def counting(crops, *args, **kwargs):
        restored_batches.append(len(crops))
        return original(crops, *args, **kwargs)

    calls: list = []
    monkeypatch.setattr(restorer, "restore_crops_sweep", counting)
    steps = list(restorer.restore_steps(whole_photo, mode="whole", outscale=2, background=bicubic_background(calls)))
    assert [[r.provisional for r in step] for step in steps] == [[True], [False]]
    assert len(calls) == 1 and len(restored_batches) == 1  # the faces were restored once, the background made once
    early, final = steps[0][0], steps[1][0]
    assert len(early.faces) >= 1 and early.size == final.size
    assert all(np.array_equal(a, b) for a, b in zip(early.crops_after, final.crops_after))

    # The final image is exactly what restore() gives with that background in one go.
    monkeypatch.setattr(restorer, "restore_crops_sweep", original)
    direct = restorer.restore(whole_photo, mode="whole", outscale=2, background=bicubic_background([]))
    assert np.array_equal(final.image, direct.image) and not direct.provisional
    # The early image is the Lanczos-background one: away from the faces it is the Lanczos enlargement.
    lanczos = restorer.restore(whole_photo, mode="whole", outscale=2, background="lanczos")
    assert np.array_equal(early.image, lanczos.image)
    assert not np.array_equal(early.image, final.image)


def test_a_resize_background_or_aligned_mode_gives_the_final_result_only(tiny_gpen, whole_photo):
    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    for options in (dict(mode="whole", background="lanczos"), dict(mode="whole", background="none"),
                    dict(mode="aligned")):
        steps = list(restorer.restore_steps(whole_photo, **options))
        assert len(steps) == 1 and not steps[0][0].provisional, options


def test_no_face_gives_no_early_result(tiny_gpen):
    landscape = images.load_image(require_shared("faces", "realesrgan-inputs", "OST_009.png")).rgb[:200, :300]
    steps = list(restorers.load(tiny_gpen, device="cpu").restore_steps(
        landscape, mode="whole", outscale=2, background=bicubic_background([])))
    assert len(steps) == 1 and steps[0][0].faces == [] and "no face" in steps[0][0].warnings[0]
    assert np.array_equal(steps[0][0].image, images.resize(landscape, (600, 400), "bicubic"))


def test_sr_and_baseline_models_step_once(whole_photo):
    steps = list(restorers.load("lanczos").restore_steps(whole_photo, outscale=2))
    assert len(steps) == 1 and steps[0][0].size == images.scaled_size(whole_photo.shape[1], whole_photo.shape[0], 2)
