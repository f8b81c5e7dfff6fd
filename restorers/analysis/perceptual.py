"""LPIPS (VGG), the learned perceptual distance, between a ground truth and an output. Lower is better.

The network is built from two pinned files (models/metric_weights.py) and kept once per process. Scores run
in float32 on the CPU at the images' full size: LPIPS is a measurement, so it gets no bf16 shortcut.
"""
from __future__ import annotations

import threading

import numpy as np
import torch

from ..models import hub
from ..models.archs.lpips_vgg import LPIPSVGG
from ..models.metric_weights import LPIPS_VGG_LINEAR, VGG16_IMAGENET

MIN_SIDE = 16  # relu5_3 sits after four 2x2 poolings: smaller inputs have no pixel left there

_lock = threading.Lock()
_network: LPIPSVGG | None = None


def load_network() -> LPIPSVGG:
    """The LPIPS-VGG network with the pinned weights (fetched and verified once per process).

    Raises hub.WeightsError (naming the file and how to provide it offline) when a file is missing or wrong."""
    global _network
    with _lock:
        if _network is None:
            network = LPIPSVGG()
            network.load_trunk(hub.load_weights(VGG16_IMAGENET, keys=()))
            network.load_lins(hub.load_weights(LPIPS_VGG_LINEAR, keys=()))
            _network = network.eval().requires_grad_(False)
        return _network


def forget_network() -> None:
    """Drop the loaded network (tests, or to free its ~530 MB)."""
    global _network
    with _lock:
        _network = None


def to_lpips_input(image: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 (or HxW, repeated to three channels) -> 1x3xHxW float32 in [-1, 1]."""
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    tensor = torch.from_numpy(np.array(image[:, :, :3], dtype=np.float32)).permute(2, 0, 1)[None]
    return tensor / 127.5 - 1.0


def lpips_vgg(gt: np.ndarray, img: np.ndarray, network: LPIPSVGG | None = None) -> float:
    """LPIPS v0.1 (VGG) distance between two uint8 images of one shape; 0 for identical images."""
    if gt.shape != img.shape:
        raise ValueError(f"LPIPS needs images of one shape, got {gt.shape} and {img.shape}")
    if min(gt.shape[:2]) < MIN_SIDE:
        raise ValueError(f"LPIPS needs images of at least {MIN_SIDE}x{MIN_SIDE} pixels, got {gt.shape[:2]}")
    network = network or load_network()
    with torch.inference_mode():
        return float(network(to_lpips_input(gt), to_lpips_input(img))[0])
