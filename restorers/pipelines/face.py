"""Face pipeline for whole photos: detect (RetinaFace) -> align (5-point FFHQ template) -> paste back.

Images at this boundary are numpy uint8 HxWx3 RGB. Point coordinates use the pixel-centre convention
(pixel (row i, column j) is the point (x=j, y=i)), the convention of the FFHQ template and of OpenCV's
warpAffine used by facexlib/GFPGAN. Warps are bicubic torch `grid_sample` (an align + paste round trip
changes a face by ~0.5 grey level on average, bilinear by ~2.5); a warp that shrinks by more than 2x
first resizes its source with an antialiased filter, so restored fine detail does not turn into moire
when a 512 px face is pasted into an 80 px slot.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..guards import limits
from ..models.registry import DEFAULT_THRESHOLD
from ..models.archs.retinaface import (
    RetinaFace,
    decode_boxes,
    decode_landmarks,
    fuse_batchnorm_,
    nms,
    preprocess,
    prior_boxes,
)

# facexlib / GFPGAN 5-point template (eyes, nose, mouth corners) for a 512x512 FFHQ-aligned face.
FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.1936],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float64,
)
DEFAULT_MAX_SIDE = 1600  # detection runs on a copy downscaled to this longest side (1328 px Solvay: as is)
# RetinaFace's anchors reach 512 px; a face much larger than that in the detector's input is missed
# and its parts are found instead. So a second pass runs on a copy with this longest side, and a face
# wider than LARGE_FACE pixels in the main pass's input is taken from that pass.
COARSE_SIDE = 640
LARGE_FACE = 400
# A detection with more than this fraction of its box inside a larger, better-scoring one is a part of it.
MAX_INSIDE = 0.5
_PRE_NMS_TOP_K = 2000
# A warp that shrinks by more than 2x first resizes its source (bicubic, antialiased) to 1.5x the
# target resolution. Point sampling alone turns fine detail into moire at such ratios; resizing to
# exactly 1x would suppress aliasing best but blurs an identity align + paste round trip (mean error
# ~1.2 grey levels on the Solvay faces, 0.5 with 1.5x). Milder shrinks skip it: one more resampling
# costs more sharpness there than it saves in aliasing.
_PREFILTER_BELOW = 0.5
_OVERSAMPLE = 1.5

RestoreCrops = Callable[[np.ndarray], np.ndarray]
MaskFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class Face:
    """One detection in original image coordinates (eq=False: compared by identity, holds an array)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2) x, y: left eye, right eye, nose, left mouth, right mouth (image left/right)
    score: float

    def __post_init__(self) -> None:
        points = np.array(self.landmarks, dtype=np.float64).reshape(5, 2)
        points.setflags(write=False)
        object.__setattr__(self, "landmarks", points)
        object.__setattr__(self, "box", tuple(float(v) for v in self.box))
        object.__setattr__(self, "score", float(self.score))

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


@dataclass(frozen=True, eq=False)
class AlignedFace:
    crop: np.ndarray  # (size, size, 3) uint8
    affine: np.ndarray  # (2, 3) float64: original image coords -> crop coords


@dataclass(frozen=True, eq=False)
class FaceRestoreResult:
    image: np.ndarray  # the background with the restored faces pasted in
    faces: list[Face]
    crops_before: list[np.ndarray] = field(default_factory=list)  # aligned crops sent to the restorer
    crops_after: list[np.ndarray] = field(default_factory=list)  # what the restorer returned
    skipped: int = 0  # faces found but not restored (past the max_faces cap: the smallest ones)
    # The paste-back weights of each face, over its restored crop (the square mask's unless a mask_fn gave one).
    masks: list[np.ndarray] = field(default_factory=list)


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    """Zero-copy view of a numpy array (copied when read-only, e.g. np.asarray of a PIL image)."""
    return torch.from_numpy(np.ascontiguousarray(array) if array.flags.writeable else np.array(array))


def _check_rgb(image: np.ndarray, name: str = "image") -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name} must be a uint8 HxWx3 RGB array, got {got}")
    if min(image.shape[:2]) < 2:
        raise ValueError(f"{name} is too small: {image.shape[1]}x{image.shape[0]}")


# ----------------------------------------------------------------------------------------------------
# Detection


class FaceDetector:
    """RetinaFace wrapper: uint8 RGB photo -> faces. Stateless between calls (safe to share).

    `dtype` other than float32 runs the network under autocast (bfloat16 on CPU, float16/bfloat16 on
    CUDA); prior decoding and NMS always run in float32.
    """

    def __init__(self, state_dict: Mapping[str, torch.Tensor], device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        state = {k.removeprefix("module."): v for k, v in state_dict.items()}
        net = RetinaFace()
        net.load_state_dict(state, strict=True)
        self.device = torch.device(device)
        self.dtype = dtype
        net = fuse_batchnorm_(net.eval().requires_grad_(False))
        self.net = net.to(self.device, memory_format=torch.channels_last)

    @classmethod
    def from_file(cls, path: str | Path, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> FaceDetector:
        """Build from a local checkpoint (CUDA storages are mapped to CPU; no code in it is run)."""
        return cls(torch.load(path, map_location="cpu", weights_only=True), device=device, dtype=dtype)

    def detect(self, image: np.ndarray, threshold: float = DEFAULT_THRESHOLD, min_size: float = 0,
               nms_threshold: float = 0.4, max_side: int | None = DEFAULT_MAX_SIDE,
               coarse_side: int | None = COARSE_SIDE, max_inside: float = MAX_INSIDE) -> list[Face]:
        """Faces with score > threshold and min(width, height) >= min_size, largest first.

        Runs on a copy downscaled to ``max_side``; when that copy is larger than ``coarse_side``, a second
        pass on a ``coarse_side`` copy finds the faces too large for the first (wider than LARGE_FACE px
        there), which replace whatever the first pass found inside them. Detections lying mostly inside a
        better-scoring one (more than ``max_inside`` of their area; 1 keeps them) are dropped (drop_contained).
        """
        _check_rgb(image)
        height, width = image.shape[:2]
        ratio = 1.0 if max_side is None else min(1.0, max_side / max(height, width))
        faces = self._detect_once(image, threshold, nms_threshold, max_side)
        if coarse_side is not None and max(height, width) * ratio > coarse_side:
            large = [f for f in self._detect_once(image, threshold, nms_threshold, coarse_side)
                     if max(f.width, f.height) * ratio > LARGE_FACE]
            faces = large + sorted(faces, key=lambda f: f.score, reverse=True)  # large faces take precedence
        faces = drop_contained(faces, max_inside, ordered=True)
        faces = [f for f in faces if min(f.width, f.height) >= min_size]
        return sorted(faces, key=lambda f: f.area, reverse=True)

    @torch.inference_mode()
    def _detect_once(self, image: np.ndarray, threshold: float, nms_threshold: float,
                     max_side: int | None) -> list[Face]:
        """One RetinaFace pass on a copy downscaled to max_side; boxes in original pixels, unsorted."""
        height, width = image.shape[:2]
        rgb = _as_tensor(image).to(self.device).permute(2, 0, 1)[None].float()
        net_h, net_w = height, width
        if max_side is not None and max(height, width) > max_side:
            ratio = max_side / max(height, width)
            net_h, net_w = max(2, round(height * ratio)), max(2, round(width * ratio))
            rgb = F.interpolate(rgb, size=(net_h, net_w), mode="bilinear", antialias=True, align_corners=False)
        x = preprocess(rgb).contiguous(memory_format=torch.channels_last)
        if self.dtype == torch.float32:
            loc, scores, marks = self.net(x)
        else:
            with torch.autocast(self.device.type, dtype=self.dtype):
                loc, scores, marks = self.net(x)

        scores = scores[0]
        keep = torch.nonzero(scores > threshold).squeeze(1)
        if keep.numel() > _PRE_NMS_TOP_K:
            keep = keep[scores[keep].topk(_PRE_NMS_TOP_K).indices]
        priors = prior_boxes(net_h, net_w, self.device)[keep]
        size = torch.tensor([net_w, net_h], dtype=torch.float32, device=self.device)
        boxes = decode_boxes(loc[0, keep], priors) * size.repeat(2)
        points = decode_landmarks(marks[0, keep], priors) * size
        scores = scores[keep]
        kept = nms(boxes, scores, nms_threshold)
        boxes, points, scores = boxes[kept], points[kept], scores[kept]

        # Back to original pixels (centre convention: x_orig + 0.5 = (x_net + 0.5) * width / net_w).
        back = torch.tensor([width / net_w, height / net_h], dtype=torch.float32, device=self.device)
        boxes = ((boxes.view(-1, 2, 2) + 0.5) * back - 0.5).view(-1, 4)
        points = (points + 0.5) * back - 0.5
        return [
            Face(tuple(b), p, s)
            for b, p, s in zip(boxes.cpu().tolist(), points.cpu().numpy(), scores.cpu().tolist())
        ]


def inside_fraction(inner: Face, outer: Face) -> float:
    """Fraction of ``inner``'s box area that lies inside ``outer``'s box."""
    ix = min(inner.box[2], outer.box[2]) - max(inner.box[0], outer.box[0])
    iy = min(inner.box[3], outer.box[3]) - max(inner.box[1], outer.box[1])
    if ix <= 0 or iy <= 0 or inner.area <= 0:
        return 0.0
    return ix * iy / inner.area


def drop_contained(faces: Sequence[Face], max_inside: float = MAX_INSIDE, ordered: bool = False) -> list[Face]:
    """Drop each face whose box lies mostly (> max_inside of its area) inside a better face's box.

    "Better" is a higher score, or, with ``ordered``, coming earlier in ``faces`` (the caller's order of
    trust). The better box is then at least max_inside times as large, so a big face is never dropped
    for a small one inside it. This catches parts of a large face (an eye, a cheek) that non-maximum
    suppression keeps, since their IoU with the whole face is small, and a face found by two passes.
    """
    ranked = list(faces) if ordered else sorted(faces, key=lambda f: f.score, reverse=True)
    kept: list[Face] = []
    for face in ranked:
        if not any(inside_fraction(face, k) > max_inside for k in kept):
            kept.append(face)
    return kept


@functools.lru_cache(maxsize=4)
def default_detector(device: str = "cpu", dtype: torch.dtype = torch.float32) -> FaceDetector:
    """The published RetinaFace detector, fetched through the hub module once per (device, dtype)."""
    from ..models.hub import load_weights
    from ..models.registry import RETINAFACE

    assert RETINAFACE.weights is not None
    return FaceDetector(load_weights(RETINAFACE.weights, RETINAFACE.state_keys), device=device, dtype=dtype)


def detect(image: np.ndarray, threshold: float = DEFAULT_THRESHOLD, min_size: float = 0,
           detector: FaceDetector | None = None) -> list[Face]:
    """Detect faces in a uint8 RGB photo, largest first (the default detector is loaded on first use)."""
    return (detector or default_detector()).detect(image, threshold=threshold, min_size=min_size)


def center_face(faces: Sequence[Face], height: int, width: int) -> Face | None:
    """The face whose box centre is closest to the image centre."""
    if not faces:
        return None
    cx, cy = (width - 1) / 2, (height - 1) / 2
    return min(faces, key=lambda f: math.hypot(f.center[0] - cx, f.center[1] - cy))


# ----------------------------------------------------------------------------------------------------
# Geometry


def face_template(size: int) -> np.ndarray:
    """The FFHQ 5-point template scaled to a size x size crop (what facexlib and GPEN use)."""
    return FFHQ_TEMPLATE_512 * (size / 512.0)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) src -> dst, as 2x3.

    Umeyama (1991): the rotation comes from the SVD of the cross-covariance, with the last singular
    direction flipped when that is needed to keep det(R) = +1.
    """
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    mu_src, mu_dst = src.mean(0), dst.mean(0)
    src_c, dst_c = src - mu_src, dst - mu_dst
    var_src = (src_c**2).sum() / len(src)
    if var_src <= 0:
        raise ValueError("landmarks are degenerate (all points coincide)")
    u, sing, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    d = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ np.diag(d) @ vt
    scale = float((sing * d).sum() / var_src)
    translation = mu_dst - scale * rotation @ mu_src
    return np.concatenate([scale * rotation, translation[:, None]], axis=1)


def _to3x3(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(matrix, dtype=np.float64).reshape(2, 3), [0.0, 0.0, 1.0]])


def _resize_matrix(sx: float, sy: float) -> np.ndarray:
    """Pixel-centre map of a resize by (sx, sy): x' + 0.5 = (x + 0.5) * sx."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def warp_affine(src: np.ndarray | torch.Tensor, matrix: np.ndarray, out_size: tuple[int, int],
                out_origin: tuple[int, int] = (0, 0), padding_mode: str = "zeros") -> torch.Tensor:
    """Warp an HxWxC image by `matrix` (2x3, src -> dst coords); returns float32 (C, h, w).

    The output is the dst window of size out_size = (h, w) whose top-left pixel is out_origin = (x0, y0).
    Only the part of `src` that the window needs is converted to float (large photos stay cheap).
    """
    out_h, out_w = out_size
    inv = np.linalg.inv(_to3x3(matrix))  # dst -> src
    src_h, src_w = src.shape[:2]

    # Source region that the window reads, clipped to the image: +3 px for the bicubic footprint, more
    # when the antialiased pre-resize below needs a wider support.
    scale = math.sqrt(abs(np.linalg.det(_to3x3(matrix)[:2, :2])))
    factor = scale * _OVERSAMPLE if scale < _PREFILTER_BELOW else 1.0
    pad = 3 + (math.ceil(2 / factor) if factor < 1 else 0)
    x0, y0 = out_origin
    corners = np.array([[x0, y0, 1], [x0 + out_w - 1, y0, 1], [x0, y0 + out_h - 1, 1],
                        [x0 + out_w - 1, y0 + out_h - 1, 1]], dtype=np.float64)
    mapped = corners @ inv[:2].T
    left = int(np.clip(math.floor(mapped[:, 0].min()) - pad, 0, src_w - 2))
    top = int(np.clip(math.floor(mapped[:, 1].min()) - pad, 0, src_h - 2))
    right = int(np.clip(math.ceil(mapped[:, 0].max()) + pad + 1, left + 2, src_w))
    bottom = int(np.clip(math.ceil(mapped[:, 1].max()) + pad + 1, top + 2, src_h))
    region = src[top:bottom, left:right]
    tensor = region if isinstance(region, torch.Tensor) else _as_tensor(region)
    tensor = tensor.permute(2, 0, 1)[None].float()
    # dst -> region coords
    to_region = np.array([[1.0, 0.0, -left], [0.0, 1.0, -top], [0.0, 0.0, 1.0]]) @ inv

    if factor < 1:
        reg_h, reg_w = tensor.shape[-2:]
        new_h, new_w = max(4, round(reg_h * factor)), max(4, round(reg_w * factor))
        tensor = F.interpolate(tensor, size=(new_h, new_w), mode="bicubic", antialias=True, align_corners=False)
        to_region = _resize_matrix(new_w / reg_w, new_h / reg_h) @ to_region

    # affine_grid works in normalised coords (align_corners=True: -1 and +1 are the centres of the
    # first and last pixels), so wrap the pixel map: window normalised -> dst px -> region px -> normalised.
    reg_h, reg_w = tensor.shape[-2:]
    window_from_norm = np.array([[(out_w - 1) / 2, 0.0, x0 + (out_w - 1) / 2],
                                 [0.0, (out_h - 1) / 2, y0 + (out_h - 1) / 2], [0.0, 0.0, 1.0]])
    norm_from_region = np.array([[2.0 / (reg_w - 1), 0.0, -1.0], [0.0, 2.0 / (reg_h - 1), -1.0], [0.0, 0.0, 1.0]])
    theta = (norm_from_region @ to_region @ window_from_norm)[:2].tolist()
    # Same grid as F.affine_grid(align_corners=True), built by broadcasting: ~100x faster on CPU here.
    u = torch.linspace(-1.0, 1.0, out_w)[None, :]
    v = torch.linspace(-1.0, 1.0, out_h)[:, None]
    grid = torch.stack((theta[0][0] * u + theta[0][1] * v + theta[0][2],
                        theta[1][0] * u + theta[1][1] * v + theta[1][2]), dim=-1)
    out = F.grid_sample(tensor, grid[None], mode="bicubic", padding_mode=padding_mode, align_corners=True)
    return out[0]


def _to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 255] -> HxWxC uint8."""
    return np.ascontiguousarray(tensor.permute(1, 2, 0).round().clamp_(0, 255).to(torch.uint8).numpy())


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int) -> AlignedFace:
    """Crop a size x size face aligned to the FFHQ template; the border is filled by reflection."""
    _check_rgb(image)
    affine = similarity_transform(landmarks, face_template(size))
    crop = warp_affine(image, affine, (size, size), padding_mode="reflection")
    return AlignedFace(_to_uint8(crop), affine)


def align_region(region: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """An HxW bool map over the photo, in a face's aligned size x size frame (outside the photo: False)."""
    warped = warp_affine(region.astype(np.float32)[:, :, None], affine, (size, size), padding_mode="zeros")
    return warped[0].numpy() > 0.5


# ----------------------------------------------------------------------------------------------------
# Paste back


@functools.lru_cache(maxsize=8)
def square_weights(height: int, width: int) -> torch.Tensor:
    """Blending weight over a crop: 1 in the middle, a Gaussian-smoothed edge at 1/16 of the side.

    This is facexlib's eroded + Gaussian-blurred mask computed in crop space, in closed form: a box
    blurred by a Gaussian is a product of two erf profiles. At the crop border the weight is < 1e-4.
    """
    side = min(height, width)
    margin, sigma = side / 16.0, side / 64.0

    def profile(length: int) -> torch.Tensor:
        x = torch.arange(length, dtype=torch.float64)
        lo, hi = margin - 0.5, length - 1 - margin + 0.5
        return 0.5 * (torch.erf((x - lo) / (sigma * math.sqrt(2))) - torch.erf((x - hi) / (sigma * math.sqrt(2))))

    return (profile(height)[:, None] * profile(width)[None, :]).float()


def crop_to_background(affine: np.ndarray, scale: float) -> np.ndarray:
    """2x3 map from crop coords to background coords, for a background `scale` times the original."""
    orig_to_bg = _resize_matrix(scale, scale)
    return (orig_to_bg @ np.linalg.inv(_to3x3(affine)))[:2]


def paste_faces(background: np.ndarray, faces: Sequence[tuple[np.ndarray, np.ndarray]],
                scale: float = 1.0, masks: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
    """Blend restored crops into a copy of `background`, later faces over earlier ones.

    faces: (restored crop uint8 SxSx3, affine 2x3 from ORIGINAL image coords to that crop's coords).
    scale: background size / original size. masks: optional per-face SxS weights in [0, 1] over the crop
    (the 'parse' mask), warped back with the same inverse affine as the face; None uses the square mask.
    Pixels outside every face's mask are left untouched.
    """
    _check_rgb(background, "background")
    if masks is not None and len(masks) != len(faces):
        raise ValueError(f"{len(masks)} masks for {len(faces)} faces")
    out = background.copy()
    bg_h, bg_w = out.shape[:2]
    for index, (crop, affine) in enumerate(faces):
        own = None if masks is None else masks[index]
        _check_rgb(crop, "restored crop")
        size_h, size_w = crop.shape[:2]
        to_bg = crop_to_background(affine, scale)
        corners = np.array([[0, 0, 1], [size_w - 1, 0, 1], [0, size_h - 1, 1], [size_w - 1, size_h - 1, 1]], float)
        mapped = corners @ to_bg.T
        x0 = int(np.clip(math.floor(mapped[:, 0].min()) - 1, 0, bg_w))
        y0 = int(np.clip(math.floor(mapped[:, 1].min()) - 1, 0, bg_h))
        x1 = int(np.clip(math.ceil(mapped[:, 0].max()) + 2, 0, bg_w))
        y1 = int(np.clip(math.ceil(mapped[:, 1].max()) + 2, 0, bg_h))
        if x1 <= x0 or y1 <= y0:
            continue  # the face lies entirely outside the background
        mask = square_weights(size_h, size_w)
        if own is not None:
            # A face's own mask (the parse mask) is capped by the square one, as CodeFormer's helper does:
            # the crop's border never shows, whatever the mask says there.
            own = torch.as_tensor(np.asarray(own, dtype=np.float32))
            if own.shape != (size_h, size_w):
                raise ValueError(f"a face's mask must be {size_h}x{size_w} like its crop, got {tuple(own.shape)}")
            mask = torch.minimum(mask, own.clamp(0, 1))
        rgba = torch.cat((_as_tensor(crop).float(), mask[..., None]), dim=-1)
        warped = warp_affine(rgba, to_bg, (y1 - y0, x1 - x0), out_origin=(x0, y0), padding_mode="zeros")
        weight = warped[3:4].clamp(0, 1)
        region = torch.from_numpy(out[y0:y1, x0:x1]).permute(2, 0, 1).float()
        blended = region + (warped[:3] - region) * weight
        out[y0:y1, x0:x1] = _to_uint8(blended)
    return out


# ----------------------------------------------------------------------------------------------------
# Whole pipeline


def resize_image(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bicubic resize (antialiased when shrinking) of a uint8 HxWxC image."""
    tensor = _as_tensor(image).permute(2, 0, 1)[None].float()
    tensor = F.interpolate(tensor, size=(out_h, out_w), mode="bicubic", antialias=True, align_corners=False)
    return _to_uint8(tensor[0])


def restore_faces(
    image: np.ndarray,
    restore_crops: RestoreCrops,
    face_size: int,
    background: np.ndarray | None = None,
    scale: float = 1.0,
    *,
    only_center_face: bool = False,
    min_size: float = 0,
    threshold: float = DEFAULT_THRESHOLD,
    detector: FaceDetector | None = None,
    max_faces: int | None = None,
    faces: Sequence[Face] | None = None,
    mask_fn: MaskFn | None = None,
    region: np.ndarray | None = None,
) -> FaceRestoreResult:
    """Detect -> align every face -> ONE batched restore_crops call -> paste onto the background.

    restore_crops: (N, S, S, 3) uint8 aligned faces -> (N, S', S', 3) uint8 restored faces (S' may
    differ from S, e.g. a model that also upscales). background: the whole image already upscaled by
    `scale` (e.g. by Real-ESRGAN); None means a plain bicubic upscale of `image`. faces: use these
    (e.g. tracked across video frames, with smoothed landmarks) instead of detecting; their landmarks
    drive both the alignment and the paste-back. mask_fn: (N, S', S', 3) restored faces -> (N, S', S')
    paste-back weights in [0, 1] (face_mask.FaceParser.weights for the 'parse' mask); None: the square mask.
    region: an HxW bool map over `image` (an inpainting mask); it is warped into each face's aligned frame
    with the face's own affine and handed over as restore_crops(batch, regions) with (N, S, S) bool regions.
    """
    _check_rgb(image)
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    height, width = image.shape[:2]
    expected = (round(height * scale), round(width * scale))
    if background is None:
        background = image.copy() if expected == (height, width) else resize_image(image, *expected)
    else:
        _check_rgb(background, "background")
        if abs(background.shape[0] - expected[0]) > 1 or abs(background.shape[1] - expected[1]) > 1:
            raise ValueError(
                f"background is {background.shape[1]}x{background.shape[0]}, expected about "
                f"{expected[1]}x{expected[0]} for an {width}x{height} image at scale {scale}"
            )

    if faces is None:
        faces = (detector or default_detector()).detect(image, threshold=threshold, min_size=min_size)
    faces = list(faces)
    if only_center_face:
        chosen = center_face(faces, height, width)
        faces = [chosen] if chosen is not None else []
    # A crowd photo can hold hundreds of faces: restore the largest `max_faces` (None: $RESTORERS_MAX_FACES,
    # 0 there means no cap), keeping the detection order among them.
    cap = limits.max_faces() if max_faces is None else max_faces
    skipped = 0
    if cap and len(faces) > cap:
        largest = set(sorted(range(len(faces)), key=lambda i: -faces[i].area)[:cap])
        skipped = len(faces) - cap
        faces = [face for i, face in enumerate(faces) if i in largest]
    if not faces:
        return FaceRestoreResult(background, [], [], [])

    aligned = [align_face(image, face.landmarks, face_size) for face in faces]
    batch = np.stack([a.crop for a in aligned])
    if region is None:
        restored = np.asarray(restore_crops(batch))
    else:
        restored = np.asarray(restore_crops(batch, np.stack([align_region(region, a.affine, face_size) for a in aligned])))
    if restored.dtype != np.uint8 or restored.ndim != 4 or restored.shape[0] != len(faces) \
            or restored.shape[1] != restored.shape[2] or restored.shape[3] != 3:
        raise ValueError(f"restore_crops must return ({len(faces)}, S, S, 3) uint8, got {restored.dtype} "
                         f"{restored.shape}")
    # A restorer that returns another size: rescale each affine to the returned crop's coords.
    resize = _resize_matrix(restored.shape[1] / face_size, restored.shape[2] / face_size)
    masks = None
    if mask_fn is not None:
        masks = np.asarray(mask_fn(restored), dtype=np.float32)
        if masks.shape != restored.shape[:3]:
            raise ValueError(f"mask_fn must return {restored.shape[:3]} weights, got {masks.shape}")
    pasted = paste_faces(
        background,
        [(crop, (resize @ _to3x3(a.affine))[:2]) for crop, a in zip(restored, aligned)],
        scale,
        None if masks is None else list(masks),
    )
    square = square_weights(restored.shape[1], restored.shape[2]).numpy()
    used = [square] * len(aligned) if masks is None else [np.minimum(square, m.clip(0, 1)) for m in masks]
    return FaceRestoreResult(pasted, faces, [a.crop for a in aligned], list(restored), skipped, used)
