"""Paste-back masks from face parsing: which pixels of a restored aligned face go back into the photo.

The 'parse' mask follows the rule of GFPGAN's and CodeFormer's face helpers (facexlib, `use_parse=True`):
ParseNet labels the restored face at 512x512; background, neck, cloth, hair and hat (classes 0, 14, 16,
17, 18) become 0 and every other class 255; the map is blurred twice with a 101x101 Gaussian of sigma 11,
a 10 px border is zeroed, and it is divided by 255. The result is resized to the restored crop and,
as CodeFormer does, capped by the square mask (so the crop's own border never shows). The paste-back
warps it with the same inverse affine as the face (pipelines/face.py).

The constants are facexlib's for a 512 px parse; a parser of another input size (the tiny test network)
scales them with its size.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

# Classes that keep the original photo (facexlib's MASK_COLORMAP zeros): background, neck, cloth, hair, hat.
EXCLUDED_CLASSES: tuple[int, ...] = (0, 14, 16, 17, 18)
REFERENCE_SIZE = 512  # the parse size facexlib's constants below are given for
BLUR_KERNEL = 101
BLUR_SIGMA = 11.0
BLUR_PASSES = 2
BORDER = 10


def labels_to_mask(labels: torch.Tensor) -> torch.Tensor:
    """Class labels (any integer shape) -> float mask: 0 for the excluded classes, 255 elsewhere."""
    if labels.is_floating_point():
        raise ValueError("labels must be an integer tensor of class indices")
    excluded = torch.zeros_like(labels, dtype=torch.bool)
    for index in EXCLUDED_CLASSES:
        excluded |= labels == index
    return torch.where(excluded, 0.0, 255.0).to(torch.float32)


def blur_settings(side: int) -> tuple[int, float, int]:
    """(kernel size, sigma, border) for a parse map of this side: facexlib's at 512, scaled otherwise."""
    if side < 4:
        raise ValueError(f"a parse map needs at least 4x4 pixels, got {side}")
    ratio = side / REFERENCE_SIZE
    kernel = max(3, 2 * round((BLUR_KERNEL - 1) / 2 * ratio) + 1)
    kernel = min(kernel, 2 * ((side - 1) // 2) + 1)  # reflection padding needs kernel // 2 < side
    return kernel, BLUR_SIGMA * ratio, max(1, round(BORDER * ratio))


@functools.lru_cache(maxsize=8)
def gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian of odd `size` (OpenCV's getGaussianKernel for a given sigma)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).to(torch.float32)


def gaussian_blur(image: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [N, H, W] with reflected borders (OpenCV's default BORDER_REFLECT_101)."""
    kernel = gaussian_kernel(size, sigma).to(image.device)
    pad = size // 2
    x = image[:, None]
    x = F.conv2d(F.pad(x, (pad, pad, 0, 0), mode="reflect"), kernel.view(1, 1, 1, size))
    x = F.conv2d(F.pad(x, (0, 0, pad, pad), mode="reflect"), kernel.view(1, 1, size, 1))
    return x[:, 0]


def soften(mask: torch.Tensor) -> torch.Tensor:
    """A 0/255 mask [N, S, S] -> soft weights in [0, 1]: blurred twice, border zeroed, /255."""
    if mask.dim() != 3:
        raise ValueError(f"mask must be [N, H, W], got {tuple(mask.shape)}")
    size, sigma, border = blur_settings(min(mask.shape[-2:]))
    out = mask.float()
    for _ in range(BLUR_PASSES):
        out = gaussian_blur(out, size, sigma)
    out = out.clone()
    out[:, :border] = 0
    out[:, -border:] = 0
    out[:, :, :border] = 0
    out[:, :, -border:] = 0
    return out / 255.0


def parse_weights(labels: torch.Tensor) -> torch.Tensor:
    """Labels [N, S, S] -> the soft paste-back weights [N, S, S] of the anchors' rule."""
    return soften(labels_to_mask(labels))


def resize_weights(weights: torch.Tensor, size: int) -> torch.Tensor:
    """[N, S, S] weights resized (bilinear, as cv2.resize) to [N, size, size]."""
    if weights.shape[-1] == size and weights.shape[-2] == size:
        return weights
    return F.interpolate(weights[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]


class FaceParser:
    """A ParseNet-style network (returns `(logits, image)`) on restored aligned faces -> paste-back weights.

    The network runs in float32, channels_last: bfloat16 autocast changed 1-2 % of the labels on the
    golden cases (tests/golden/test_arch_parsenet.py), enough to move the mask's edge.
    """

    def __init__(self, net: torch.nn.Module, size: int, device: torch.device | str = "cpu") -> None:
        if size < 4 or size & (size - 1):
            raise ValueError(f"the parser's input size must be a power of two, got {size}")
        self.net = net
        self.size = size
        self.device = torch.device(device)

    @torch.inference_mode()
    def labels(self, crops: np.ndarray) -> torch.Tensor:
        """(N, S, S, 3) uint8 RGB faces -> (N, P, P) int64 labels at the parser's size P, one face per call."""
        crops = np.asarray(crops)
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3:
            raise ValueError(f"faces must be (N, S, S, 3) uint8, got {crops.dtype} {crops.shape}")
        out = []
        for crop in crops:  # one at a time: a 512 px parse holds a few hundred MB of activations
            x = torch.from_numpy(np.ascontiguousarray(crop)).to(self.device).permute(2, 0, 1)[None].float()
            if x.shape[-1] != self.size or x.shape[-2] != self.size:
                x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
            x = ((x / 255.0 - 0.5) / 0.5).contiguous(memory_format=torch.channels_last)
            logits = self.net(x)[0]
            out.append(logits.argmax(1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.size, self.size, dtype=torch.int64)

    def weights(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 faces -> (N, S, S) float32 paste-back weights in [0, 1]."""
        labels = self.labels(crops)
        if not len(labels):
            return np.zeros((0, *np.asarray(crops).shape[1:3]), np.float32)
        return resize_weights(parse_weights(labels), int(np.asarray(crops).shape[1])).clamp_(0, 1).numpy()


def mask_preview(weights: np.ndarray) -> np.ndarray:
    """(S, S) weights in [0, 1] -> an S x S x 3 uint8 grey image (white = restored face)."""
    grey = np.clip(np.round(np.asarray(weights, np.float32) * 255), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


# ----------------------------------------------------------------------------------------------------
# Choosing the mask and loading the parser


# Weights states in which the parser runs without any download (see models.hub.check).
READY_STATES = ("cached", "override")


def parser_spec():
    """The registry's face parser (looked up at call time, so tests can point it at a tiny network)."""
    from ..models import registry

    return registry.PARSENET


def parser_ready() -> bool:
    """Whether the parser's weights are here and verified (so 'parse' runs without any download)."""
    from ..models.hub import check

    spec = parser_spec()
    return spec.weights is None or check(spec.weights).state in READY_STATES


def resolve_mask(mask: str | None) -> tuple[str, str | None]:
    """The mask to use and a note when the default had to fall back.

    None (the default) is 'parse' when the parser's weights are here, else 'square' with a note saying
    which file is missing and how to provide it. An explicit 'parse' is kept: loading then raises the
    usual missing-weights error if the file cannot be had.
    """
    from ..models.registry import MASK_CHOICES

    if mask is None:
        from ..models.hub import check

        weights = parser_spec().weights
        status = None if weights is None else check(weights)
        if status is None or status.state in READY_STATES:
            return "parse", None
        why = {"downloadable": "are not downloaded yet (mask 'parse' downloads them)",
               "missing": "are not here"}.get(status.state, f"cannot be used ({status.reason})")
        return "square", (
            f"pasted back with the square mask: the face-parsing weights {weights.repo_id}/{weights.filename}, "
            f"which the 'parse' mask needs to keep hair, hats and background as they were, {why}. "
            f"{weights.offline_hint()}"
        )
    if mask not in MASK_CHOICES:
        raise ValueError(f"mask must be one of {', '.join(MASK_CHOICES)}, got '{mask}'")
    return mask, None


def load_parser(device: torch.device | str = "cpu") -> FaceParser:
    """The shared parser network for `device` (weights fetched and verified through models.hub)."""
    from ..models.networks import get_network

    spec = parser_spec()
    device = torch.device(device)
    assert spec.input_size is not None
    return FaceParser(get_network(spec, device), spec.input_size, device)
