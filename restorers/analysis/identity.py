"""Identity similarity: does the restored face still show the same person as the ground truth?

Both images are aligned with one transform, found on the ground truth: RetinaFace's five landmarks of its
largest face (an image where no face is found is taken as an already aligned FFHQ-style crop) mapped onto
ArcFace's 112x112 template. An ArcFace IResNet-50 (models/metric_weights.py) embeds both crops; the score is
the cosine of the two embeddings, from -1 to 1, 1 for the same pixels. Higher is better. What could and
could not be checked without the real weights: docs/metrics.md.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import torch

from ..models import hub
from ..models.archs.iresnet import INPUT_SIZE, IResNet
from ..models.metric_weights import ARCFACE_R50

# InsightFace's 112x112 ArcFace template: left eye, right eye, nose, left and right mouth corners.
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]])
MIN_SIDE = 32

_lock = threading.Lock()
_network: IResNet | None = None
# Landmarks found on a ground truth, by content: Degrade & Measure scores every column against the same one.
_landmarks: OrderedDict[bytes, np.ndarray] = OrderedDict()
_LANDMARK_CACHE = 32


def load_network() -> IResNet:
    """The ArcFace IResNet-50 with the pinned weights (fetched and verified once per process)."""
    global _network
    with _lock:
        if _network is None:
            network = IResNet(50)
            network.load_state_dict(hub.load_weights(ARCFACE_R50, keys=()), strict=True)
            _network = network.eval().requires_grad_(False)
        return _network


def forget_network() -> None:
    global _network
    with _lock:
        _network = None
        _landmarks.clear()


def _digest(image: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16, person=str(image.shape).encode()[:16]).digest()


def face_landmarks(image: np.ndarray) -> np.ndarray:
    """Five landmarks of the largest face RetinaFace finds, or the FFHQ template scaled to the image when
    none is found (an aligned crop, e.g. a 512 face from a face model). Remembered per image content."""
    key = _digest(image)
    with _lock:
        if key in _landmarks:
            _landmarks.move_to_end(key)
            return _landmarks[key]
    from ..pipelines.face import FFHQ_TEMPLATE_512, detect

    faces = detect(image)
    if faces:
        points = np.array(faces[0].landmarks, dtype=np.float64)
    else:
        height, width = image.shape[:2]
        points = FFHQ_TEMPLATE_512 * np.array([width / 512.0, height / 512.0])
    with _lock:
        _landmarks[key] = points
        while len(_landmarks) > _LANDMARK_CACHE:
            _landmarks.popitem(last=False)
    return points


def aligned_crops(images: list[np.ndarray], landmarks: np.ndarray) -> torch.Tensor:
    """Warp every image with the transform that maps ``landmarks`` onto the ArcFace template:
    N x 3 x 112 x 112 float32 in [-1, 1]."""
    from ..pipelines.face import similarity_transform, warp_affine

    affine = similarity_transform(landmarks, ARCFACE_TEMPLATE)
    crops = [warp_affine(np.ascontiguousarray(im[:, :, :3]), affine, (INPUT_SIZE, INPUT_SIZE),
                         padding_mode="reflection") for im in images]
    return torch.stack(crops).clamp(0, 255) / 127.5 - 1.0


def embeddings(faces: torch.Tensor, network: IResNet | None = None) -> torch.Tensor:
    """Unit-length ArcFace embeddings of aligned faces (N x 3 x 112 x 112 in [-1, 1])."""
    network = network or load_network()
    with torch.inference_mode():
        return torch.nn.functional.normalize(network(faces).float(), dim=1)


def identity_similarity(gt: np.ndarray, img: np.ndarray, network: IResNet | None = None) -> float:
    """Cosine similarity of the ArcFace embeddings of the face in ``gt`` and the same region of ``img``."""
    if gt.shape != img.shape:
        raise ValueError(f"identity similarity needs images of one shape, got {gt.shape} and {img.shape}")
    if gt.ndim != 3 or gt.shape[2] < 3:
        raise ValueError(f"identity similarity needs RGB images, got shape {gt.shape}")
    if min(gt.shape[:2]) < MIN_SIDE:
        raise ValueError(f"identity similarity needs images of at least {MIN_SIDE}x{MIN_SIDE} pixels, "
                         f"got {gt.shape[:2]}")
    network = network or load_network()  # first, so missing weights fail before the detector runs
    vectors = embeddings(aligned_crops([gt, img], face_landmarks(gt)), network)
    return float((vectors[0] * vectors[1]).sum().clamp(-1.0, 1.0))
