"""Large faces: no false "faces" on parts of a big face (threshold 0.97, containment, a coarse pass)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import require_shared
from restorers.media import images
from restorers.pipelines.face import DEFAULT_THRESHOLD, Face, FaceDetector, drop_contained, inside_fraction

DETECTOR_PARTS = ("weights", "hf-cache", "models--fofr--comfyui", "snapshots", "local", "facedetection",
                  "detection_mobilenet0.25_Final.pth")


def box(x1: float, y1: float, x2: float, y2: float, score: float) -> Face:
    return Face((x1, y1, x2, y2), np.zeros((5, 2)), score)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.from_file(require_shared(*DETECTOR_PARTS))


@pytest.fixture(scope="module")
def large_selfie() -> np.ndarray:
    """A real FFHQ face upscaled to 2048 px (face about 1100 px wide), padded to 2304x2048 like a selfie."""
    face = images.load_image(require_shared("faces", "ffhq-gt", "00000.png")).rgb
    big = images.resize(face, (2048, 2048), "bicubic")
    return np.pad(big, ((128, 128), (0, 0), (0, 0)), mode="edge")


def test_inside_fraction_and_containment_filter_on_synthetic_boxes():
    whole = box(0, 0, 100, 100, 0.99)
    eye = box(20, 20, 40, 40, 0.995)  # scores higher than the face, but lies inside it
    half_out = box(80, 0, 120, 40, 0.999)  # half of it inside: kept (not "mostly")
    other = box(200, 0, 260, 60, 0.98)
    assert inside_fraction(eye, whole) == 1.0
    assert inside_fraction(half_out, whole) == pytest.approx(0.5)
    assert inside_fraction(whole, eye) == pytest.approx(0.04)
    assert inside_fraction(other, whole) == 0.0
    # By score, the eye comes first, and the big face is not dropped for the small one inside it...
    assert drop_contained([whole, eye, half_out, other]) == [half_out, eye, whole, other]
    # ...but a part inside a better-scoring face is.
    better = box(0, 0, 100, 100, 0.999)
    assert drop_contained([eye, better, other]) == [better, other]
    # In the caller's order of trust, earlier faces win whatever the scores.
    assert drop_contained([whole, eye, other], ordered=True) == [whole, other]
    # A near-duplicate (the same face from two passes) is dropped too.
    assert drop_contained([whole, box(3, 2, 101, 99, 0.98)], ordered=True) == [whole]
    assert drop_contained([]) == []


def test_threshold_default_is_facexlibs():
    assert DEFAULT_THRESHOLD == 0.97
    import inspect

    from restorers.pipelines.restorer import FaceRestorer

    assert inspect.signature(FaceRestorer.run).parameters["threshold"].default == 0.97
    assert inspect.signature(FaceDetector.detect).parameters["threshold"].default == 0.97


def test_large_face_is_found_once(detector: FaceDetector, large_selfie: np.ndarray):
    # The old behaviour: one pass at 1600 px (the face ~900 px there, beyond RetinaFace's 512 px anchors)
    # finds only parts of the face (two of them here), even with scores above 0.97.
    parts = detector.detect(large_selfie, threshold=0.9, coarse_side=None, max_inside=1.0)
    assert sum(p.score > DEFAULT_THRESHOLD for p in parts) >= 2 and all(p.width < 900 for p in parts)
    faces = detector.detect(large_selfie)
    assert len(faces) == 1
    (found,) = faces
    assert found.score > 0.99 and 1000 < found.width < 1300
    # The eyes land where the upscaled FFHQ alignment puts them (x about 386 and 630 on 1024 px, x2).
    eyes = found.landmarks[:2]
    assert np.abs(eyes[:, 0] - np.array([386, 630]) * 2).max() < 60
    # Containment drops every part of the face that the first pass found.
    assert drop_contained([found] + parts, ordered=True) == [found]


def test_other_photos_keep_their_faces(detector: FaceDetector):
    group = images.load_image(require_shared("faces", "gpen-group", "Solvay_conference_1927.png")).rgb
    assert 25 <= len(detector.detect(group)) <= 31
    aligned = images.load_image(require_shared("faces", "ffhq-gt", "00003.png")).rgb
    assert len(detector.detect(aligned)) == 1
    assert len(detector.detect(images.resize(aligned, (512, 512), "lanczos"))) == 1


def test_no_face_warning_matches_the_background_choice():
    from restorers.pipelines.restorer import no_face_message

    assert no_face_message("none", 1.0) == "no face found: the photo is returned unchanged"
    assert "x2 by the background upsampler 'realesrgan-x2plus'" in no_face_message("realesrgan-x2plus", 2.0)
    assert "custom upsampler" in no_face_message(lambda rgb, s: rgb, 4.0)
