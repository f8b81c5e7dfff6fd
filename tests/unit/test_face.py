"""RetinaFace detection, FFHQ alignment and paste-back, on the real detector and real photos in ../shared."""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from PIL import Image

from restorers.pipelines import face as face_mod
from restorers.models.archs.retinaface import RetinaFace, box_iou, nms, preprocess, prior_boxes
from restorers.pipelines.face import (
    Face,
    FaceDetector,
    align_face,
    default_detector,
    face_template,
    paste_faces,
    resize_image,
    restore_faces,
    similarity_transform,
    warp_affine,
)

from conftest import require_shared

DETECTOR_PARTS = ("weights", "hf-cache", "models--fofr--comfyui", "snapshots", "local", "facedetection",
                  "detection_mobilenet0.25_Final.pth")
WHOLE = ("Blake_Lively.jpg", "00.jpg", "10045.png")
CROPPED = ("Adele_crop.png", "Julia_Roberts_crop.png", "Justin_Timberlake_crop.png", "Paris_Hilton_crop.png")


@pytest.fixture(scope="module")
def state_dict() -> dict[str, torch.Tensor]:
    return torch.load(require_shared(*DETECTOR_PARTS), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def detector(state_dict: dict[str, torch.Tensor]) -> FaceDetector:
    return FaceDetector(state_dict)


@functools.lru_cache(maxsize=None)
def photo(*parts: str) -> np.ndarray:
    """A photo from ../shared/faces as uint8 RGB (alpha dropped), read-only like np.asarray(PIL)."""
    return np.asarray(Image.open(require_shared("faces", *parts)).convert("RGB"))


_detections: dict[tuple[str, ...], list[Face]] = {}


def faces_in(detector: FaceDetector, *parts: str) -> list[Face]:
    if parts not in _detections:
        _detections[parts] = detector.detect(photo(*parts))
    return _detections[parts]


def soft_weight(shape: tuple[int, int], affines: list[np.ndarray], size: int, scale: float = 1.0) -> np.ndarray:
    """The paste-back blending weight of all faces, in background pixels, to 1/255.

    Pasting white crops onto black measures it with paste_faces itself; where this reads 0 the weight
    is too small to move any pixel by half a grey level.
    """
    white = np.full((size, size, 3), 255, np.uint8)
    black = np.zeros((*shape, 3), np.uint8)
    return paste_faces(black, [(white, a) for a in affines], scale)[..., 0] / 255.0


# ---------------------------------------------------------------------------------------------------
# Network, priors, NMS


def test_state_dict_matches_published_checkpoint(state_dict: dict[str, torch.Tensor]) -> None:
    ours = RetinaFace().state_dict()
    assert len(state_dict) == 300
    assert list(ours) == list(state_dict)
    assert all(ours[k].shape == v.shape for k, v in state_dict.items())


def test_module_prefix_is_stripped_and_fusion_is_exact(state_dict: dict[str, torch.Tensor],
                                                       detector: FaceDetector) -> None:
    wrapped = FaceDetector({f"module.{k}": v for k, v in state_dict.items()})
    plain = RetinaFace().eval()
    plain.load_state_dict(state_dict)
    image = torch.from_numpy(photo("realesrgan-inputs", "children-alpha.png").copy()).permute(2, 0, 1)[None].float()
    x = preprocess(image)
    with torch.inference_mode():
        ref = plain(x)
        for fused in (wrapped.net, detector.net):  # BatchNorm folded into the convs
            for a, b in zip(ref, fused(x.contiguous(memory_format=torch.channels_last))):
                assert torch.allclose(a, b, atol=2e-4, rtol=1e-4)
    assert ref[1].max() > 0.99  # a face is there


def test_prior_boxes_match_head_outputs() -> None:
    priors = prior_boxes(640, 640)
    assert priors.shape == (2 * (80 * 80 + 40 * 40 + 20 * 20), 4)
    # First location of the stride-8 map: centre (4, 4) px, anchors 16 and 32 px, normalised by 640.
    assert torch.allclose(priors[:2], torch.tensor([[4, 4, 16, 16], [4, 4, 32, 32]]) / 640.0)
    # Odd sizes: the prior count follows the conv arithmetic (ceil at every stride-2 layer).
    net = RetinaFace().eval()
    with torch.inference_mode():
        loc, scores, marks = net(torch.zeros(1, 3, 37, 53))
    assert loc.shape == (1, prior_boxes(37, 53).shape[0], 4)
    assert scores.shape == loc.shape[:2] and marks.shape == (*loc.shape[:2], 10)


def test_nms_keeps_best_of_overlapping_boxes() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9.0]])
    scores = torch.tensor([0.8, 0.9, 0.7, 0.95])
    assert box_iou(boxes[:1], boxes[1:2]).item() == pytest.approx(81 / 119)
    assert nms(boxes, scores, 0.4).tolist() == [3, 2]
    assert nms(boxes, scores, 0.95).tolist() == [3, 1, 0, 2]
    assert nms(boxes[:0], scores[:0], 0.4).numel() == 0


# ---------------------------------------------------------------------------------------------------
# Detection on real photos


def test_solvay_group_photo(detector: FaceDetector) -> None:
    image = photo("gpen-group", "Solvay_conference_1927.png")
    assert image.shape == (568, 1328, 3)
    faces = faces_in(detector, "gpen-group", "Solvay_conference_1927.png")
    assert 25 <= len(faces) <= 31  # about 29 people; all of them are found at threshold 0.9
    assert all(f.score > 0.9 for f in faces)
    areas = [f.area for f in faces]
    assert areas == sorted(areas, reverse=True)
    assert all(20 < f.width < 60 for f in faces)  # small faces, ~35 px
    assert len(detector.detect(image, min_size=34)) < len(faces)


def test_children_photo(detector: FaceDetector) -> None:
    assert len(faces_in(detector, "realesrgan-inputs", "children-alpha.png")) >= 5


@pytest.mark.parametrize("name", WHOLE)
def test_whole_photos_have_faces(detector: FaceDetector, name: str) -> None:
    faces = faces_in(detector, "gfpgan-whole", name)
    assert len(faces) >= 1
    assert faces[0].score > 0.99 and faces[0].width > 60


@pytest.mark.parametrize("name", ("ADE_val_00000114.jpg", "OST_009.png"))
def test_landscape_without_faces(detector: FaceDetector, name: str) -> None:
    assert faces_in(detector, "realesrgan-inputs", name) == []


def test_landmarks_lie_inside_their_boxes(detector: FaceDetector) -> None:
    photos = [("gpen-group", "Solvay_conference_1927.png"), ("realesrgan-inputs", "children-alpha.png")]
    photos += [("gfpgan-whole", n) for n in WHOLE] + [("gfpgan-cropped", n) for n in CROPPED]
    count = 0
    for parts in photos:
        for f in faces_in(detector, *parts):
            x, y = f.landmarks[:, 0], f.landmarks[:, 1]
            assert np.all((x >= f.box[0]) & (x <= f.box[2]) & (y >= f.box[1]) & (y <= f.box[3])), parts
            # order: left eye, right eye (as seen in the image), nose between, mouth below the eyes
            assert x[0] < x[1] and x[3] < x[4] and min(y[3], y[4]) > max(y[0], y[1])
            count += 1
    assert count >= 40


def test_downscaled_detection_maps_back_to_original_pixels(detector: FaceDetector) -> None:
    """Detecting on a 640 px copy finds the same faces, in original pixel coordinates."""
    image = photo("gfpgan-whole", "00.jpg")  # 1297x1920: the default path already downscales to 1600
    full = faces_in(detector, "gfpgan-whole", "00.jpg")
    small = detector.detect(image, max_side=640)  # faces ~50 px there instead of ~125
    assert len(small) == len(full)
    for a, b in zip(full, small):
        assert box_iou(torch.tensor([a.box]), torch.tensor([b.box])).item() > 0.85
        assert np.abs(a.landmarks - b.landmarks).max() < 0.06 * a.width


def test_bfloat16_fast_path_agrees_with_float32(state_dict: dict[str, torch.Tensor],
                                                detector: FaceDetector) -> None:
    fast = FaceDetector(state_dict, dtype=torch.bfloat16)
    image = photo("gpen-group", "Solvay_conference_1927.png")
    ref = faces_in(detector, "gpen-group", "Solvay_conference_1927.png")
    got = fast.detect(image)
    assert abs(len(got) - len(ref)) <= 1
    iou = box_iou(torch.tensor([f.box for f in ref]), torch.tensor([f.box for f in got])).max(dim=1).values
    assert (iou > 0.8).sum() >= len(ref) - 1


def test_input_validation(detector: FaceDetector) -> None:
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        detector.detect(np.zeros((32, 32, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        detector.detect(np.zeros((32, 32, 3), np.float32))


def test_default_detector_loads_through_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = require_shared("weights", "hf-cache")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RESTORERS_WEIGHTS_DIR", raising=False)
    default_detector.cache_clear()
    try:
        faces = face_mod.detect(photo("gfpgan-whole", "Blake_Lively.jpg"))
        assert len(faces) >= 1
        assert default_detector() is default_detector()  # loaded once
    finally:
        default_detector.cache_clear()


# ---------------------------------------------------------------------------------------------------
# Alignment


def test_similarity_transform_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    affine = similarity_transform(src, dst)
    assert np.allclose(affine, np.hstack([scale * rot, shift[:, None]]), atol=1e-9)
    # Mirrored targets: the best proper similarity still has det > 0 (no reflection).
    mirrored = similarity_transform(src, dst * [-1, 1])
    assert np.linalg.det(mirrored[:, :2]) > 0


@pytest.mark.parametrize("name", CROPPED)
def test_aligned_crops_put_eyes_on_the_template(detector: FaceDetector, name: str) -> None:
    """The GFPGAN test crops are already aligned 512 faces: aligning them again changes little."""
    image = photo("gfpgan-cropped", name)
    faces = faces_in(detector, "gfpgan-cropped", name)
    assert len(faces) == 1
    template = face_template(512)
    assert np.abs(faces[0].landmarks[:2] - template[:2]).max() < 22  # eyes, as detected
    aligned = align_face(image, faces[0].landmarks, 512)
    assert aligned.crop.shape == (512, 512, 3) and aligned.crop.dtype == np.uint8
    scale = math.sqrt(np.linalg.det(aligned.affine[:, :2]))
    angle = math.degrees(math.atan2(aligned.affine[1, 0], aligned.affine[0, 0]))
    assert 0.95 < scale < 1.1 and abs(angle) < 4
    eyes = faces[0].landmarks[:2] @ aligned.affine[:, :2].T + aligned.affine[:, 2]
    assert np.abs(eyes - template[:2]).max() < 12  # the fit spreads the residual over 5 points


def test_alignment_undoes_a_known_warp() -> None:
    """Rotate/shrink an aligned face into a canvas, then align it back with the moved template points."""
    original = photo("gfpgan-cropped", "Paris_Hilton_crop.png")
    angle, scale = math.radians(20), 0.6
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    forward = np.hstack([rot, [[150.0], [80.0]]])  # crop -> canvas
    canvas = face_mod._to_uint8(warp_affine(original, forward, (500, 560), padding_mode="border"))
    landmarks = face_template(512) @ forward[:, :2].T + forward[:, 2]
    aligned = align_face(canvas, landmarks, 512)
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))[:2]
    assert np.allclose(aligned.affine, inverse, atol=1e-9)
    centre = (slice(96, 416), slice(96, 416))
    # 512 -> 307 px -> 512: only what survives the shrink comes back (JPEG-ish crops: soft already)
    error = np.abs(aligned.crop[centre].astype(int) - original[centre])
    assert error.mean() < 4 and np.percentile(error, 50) <= 3


# ---------------------------------------------------------------------------------------------------
# Paste-back


@pytest.mark.parametrize("parts, size", [(("gpen-group", "Solvay_conference_1927.png"), 256),
                                         (("gfpgan-whole", "00.jpg"), 512)])
def test_identity_paste_back_leaves_photo_unchanged(detector: FaceDetector, parts: tuple[str, str],
                                                   size: int) -> None:
    image = photo(*parts)
    aligned = [align_face(image, f.landmarks, size) for f in faces_in(detector, *parts)]
    out = paste_faces(image, [(a.crop, a.affine) for a in aligned], 1.0)
    weight = soft_weight(image.shape[:2], [a.affine for a in aligned], size)
    diff = np.abs(out.astype(int) - image)
    assert np.array_equal(out[weight == 0], image[weight == 0])  # outside every mask: bit-exact
    inner = diff[weight > 0.99]  # away from the mask edges: only the two resamplings differ
    assert inner.size > 10_000
    assert inner.mean() < 1.0 and np.percentile(inner, 99) <= 3
    assert (weight > 0).mean() < 0.5  # the masks cover the faces, not the photo


def test_paste_back_antialiases_when_shrinking(detector: FaceDetector) -> None:
    """Fine stripes in a 512 crop pasted into a ~35 px face must average out, not turn into moire."""
    image = photo("gpen-group", "Solvay_conference_1927.png")
    faces = faces_in(detector, "gpen-group", "Solvay_conference_1927.png")[:4]
    affines = [align_face(image, f.landmarks, 512).affine for f in faces]
    stripes = np.repeat(((np.arange(512) // 2 % 2) * 255).astype(np.uint8)[None, :, None], 512, 0).repeat(3, 2)
    grey = np.full_like(image, 128)
    out = paste_faces(grey, [(stripes, a) for a in affines], 1.0)
    inner = out[soft_weight(image.shape[:2], affines, 512) > 0.99]
    assert abs(inner.mean() - 127.5) < 3 and inner.std() < 6  # plain point sampling gives std ~50


def test_paste_back_onto_an_upscaled_background(detector: FaceDetector) -> None:
    """scale=2: the crop lands where the face is in a 2x bicubic background (half-pixel conventions)."""
    image = photo("gfpgan-whole", "Blake_Lively.jpg")
    faces = faces_in(detector, "gfpgan-whole", "Blake_Lively.jpg")
    background = resize_image(image, image.shape[0] * 2, image.shape[1] * 2)
    aligned = [align_face(image, f.landmarks, 512) for f in faces]
    out = paste_faces(background, [(a.crop, a.affine) for a in aligned], 2.0)
    weight = soft_weight(background.shape[:2], [a.affine for a in aligned], 512, scale=2.0)
    inner = np.abs(out.astype(int) - background)[weight > 0.99]
    assert inner.mean() < 1.5
    # A one-pixel misplacement would show: compare with the crop shifted by 1 px in the original.
    shifted = [(a.crop, a.affine + np.hstack([np.zeros((2, 2)), a.affine[:, :1]])) for a in aligned]
    wrong = np.abs(paste_faces(background, shifted, 2.0).astype(int) - background)[weight > 0.99]
    assert wrong.mean() > 2 * inner.mean()


def test_later_faces_are_pasted_over_earlier_ones() -> None:
    background = np.zeros((100, 100, 3), np.uint8)
    affine = np.array([[2.0, 0, -40], [0, 2.0, -40]])  # the 64 px crop covers background 20..52
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 200
    blue = np.zeros((64, 64, 3), np.uint8)
    blue[..., 2] = 200
    out = paste_faces(background, [(red, affine), (blue, affine)], 1.0)
    assert tuple(out[36, 36]) == (0, 0, 200)
    out = paste_faces(background, [(blue, affine), (red, affine)], 1.0)
    assert tuple(out[36, 36]) == (200, 0, 0)
    assert out[:18].max() == 0 and out[56:].max() == 0  # nothing outside the crop's footprint
    assert not background.any()  # the input is not modified


# ---------------------------------------------------------------------------------------------------
# Whole pipeline


def test_restore_faces_with_identity_restorer(detector: FaceDetector) -> None:
    image = photo("gfpgan-whole", "Blake_Lively.jpg")
    calls: list[tuple[int, ...]] = []

    def identity(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return batch.copy()

    result = restore_faces(image, identity, 512, None, 1.0, detector=detector)
    assert len(result.faces) >= 1 and calls == [(len(result.faces), 512, 512, 3)]  # one batched call
    assert len(result.crops_before) == len(result.crops_after) == len(result.faces)
    assert result.image.shape == image.shape
    # two big faces (~0.4 grey level inside the masks; a hard white divider line crosses one crop)
    assert np.abs(result.image.astype(int) - image).mean() < 1.0

    # 2x with a restorer that returns 1024 px crops (an upscaling restorer)
    def upscale(batch: np.ndarray) -> np.ndarray:
        return np.stack([resize_image(c, 1024, 1024) for c in batch])

    result2 = restore_faces(image, upscale, 512, None, 2.0, detector=detector, max_faces=1)
    assert result2.image.shape == (image.shape[0] * 2, image.shape[1] * 2, 3)
    assert len(result2.faces) == 1 and result2.faces[0].box == result.faces[0].box
    plain = resize_image(image, image.shape[0] * 2, image.shape[1] * 2)
    assert np.abs(result2.image.astype(int) - plain).mean() < 1.0


def test_restore_faces_without_faces_returns_background(detector: FaceDetector) -> None:
    image = photo("realesrgan-inputs", "ADE_val_00000114.jpg")
    background = resize_image(image, 512, 512)

    def never(batch: np.ndarray) -> np.ndarray:
        raise AssertionError("restore_crops must not be called without faces")

    result = restore_faces(image, never, 512, background, 2.0, detector=detector)
    assert result.faces == [] and result.image is background


def test_restore_faces_only_center_face(detector: FaceDetector) -> None:
    image = photo("realesrgan-inputs", "children-alpha.png")
    result = restore_faces(image, lambda b: b, 256, None, 1.0, detector=detector, only_center_face=True)
    assert len(result.faces) == 1 and len(result.crops_after) == 1
    centres = [f.center for f in faces_in(detector, "realesrgan-inputs", "children-alpha.png")]
    height, width = image.shape[:2]
    dist = [math.hypot(x - (width - 1) / 2, y - (height - 1) / 2) for x, y in centres]
    assert result.faces[0].center == centres[int(np.argmin(dist))]


def test_restore_faces_checks_its_inputs(detector: FaceDetector) -> None:
    image = photo("gfpgan-whole", "Blake_Lively.jpg")
    with pytest.raises(ValueError, match="background"):
        restore_faces(image, lambda b: b, 512, np.zeros((10, 10, 3), np.uint8), 2.0, detector=detector)
    with pytest.raises(ValueError, match="restore_crops must return"):
        restore_faces(image, lambda b: b[:, :10], 512, None, 1.0, detector=detector)
