"""The 'parse' paste-back mask: the class rule, the soft edges and the parser wrapper (no weights needed)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from restorers.models.archs.parsenet import ParseNet
from restorers.pipelines import face_mask
from restorers.pipelines.face_mask import (
    EXCLUDED_CLASSES,
    FaceParser,
    blur_settings,
    gaussian_blur,
    gaussian_kernel,
    labels_to_mask,
    mask_preview,
    parse_weights,
    soften,
)


def test_mask_rule_on_a_synthetic_label_map():
    labels = torch.arange(19).repeat_interleave(3).repeat(2, 1)[None]  # two rows: every class, three pixels each
    mask = labels_to_mask(labels)
    expected = torch.tensor([0.0 if c in (0, 14, 16, 17, 18) else 255.0 for c in range(19)]).repeat_interleave(3)
    assert torch.equal(mask[0, 0], expected) and torch.equal(mask[0, 1], expected)
    assert EXCLUDED_CLASSES == (0, 14, 16, 17, 18)
    with pytest.raises(ValueError, match="integer"):
        labels_to_mask(labels.float())


def test_blur_settings_are_facexlibs_at_512_and_scale_with_the_size():
    assert blur_settings(512) == (101, 11.0, 10)
    assert blur_settings(1024) == (201, 22.0, 20)
    kernel, sigma, border = blur_settings(64)
    assert kernel == 13 and sigma == pytest.approx(11 / 8) and border == 1
    assert blur_settings(8)[0] <= 7  # never wider than reflection padding allows
    with pytest.raises(ValueError):
        blur_settings(2)


def test_gaussian_blur_matches_a_reference_with_reflected_borders():
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(2, 40, 33, generator=gen) * 255
    kernel = gaussian_kernel(11, 2.5)
    assert kernel.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert kernel[5] == kernel.max() and torch.allclose(kernel, kernel.flip(0))
    # scipy's "mirror" is OpenCV's BORDER_REFLECT_101 (the edge pixel is not repeated).
    ref = ndimage.correlate1d(image.double().numpy(), kernel.double().numpy(), axis=2, mode="mirror")
    ref = ndimage.correlate1d(ref, kernel.double().numpy(), axis=1, mode="mirror")
    out = gaussian_blur(image, 11, 2.5)
    assert np.abs(out.double().numpy() - ref).max() < 1e-3


def _disk_labels(size: int, radius: float, inside: int = 1, outside: int = 17) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    centre = (size - 1) / 2
    disk = (xx - centre) ** 2 + (yy - centre) ** 2 <= radius**2
    return torch.where(disk, inside, outside)[None]


def test_soft_edges_at_512():
    """A face disk (skin) in hair: 1 well inside, 0 well outside, a smooth edge about 4 sigma wide."""
    weights = parse_weights(_disk_labels(512, 150))[0]
    assert weights.min() >= 0 and weights.max() <= 1.0 + 1e-6
    assert weights[255, 255] == pytest.approx(1.0, abs=1e-4)
    assert weights[255, 255 + 150 + 60] == pytest.approx(0.0, abs=1e-3)  # 60 px outside the disk
    edge = weights[255, 255 + 150].item()
    assert 0.35 < edge < 0.65  # about half on the boundary
    # Two blurs of sigma 11 = one of sigma 15.6: the 10 %-90 % ramp is about 2.56 sigma = 40 px wide.
    row = weights[255, 256:].numpy()
    ramp = np.count_nonzero((row > 0.1) & (row < 0.9))
    assert 30 <= ramp <= 50
    # The border is zeroed even where the face reaches it.
    full = parse_weights(torch.ones(1, 512, 512, dtype=torch.long))[0]
    assert full[:10].abs().max() == 0 and full[:, -10:].abs().max() == 0
    assert full[10, 256] > 0.4 and full[256, 256] == pytest.approx(1.0, abs=1e-5)


def test_excluded_classes_give_zero_weight_everywhere():
    for cls in EXCLUDED_CLASSES:
        assert parse_weights(torch.full((1, 64, 64), cls)).abs().max() == 0
    assert soften(torch.zeros(1, 64, 64)).abs().max() == 0
    with pytest.raises(ValueError):
        soften(torch.zeros(64, 64))


def test_parser_wrapper_resizes_to_the_crop_and_runs_the_rule(monkeypatch):
    torch.manual_seed(0)
    net = ParseNet(in_size=64, out_size=64, min_feat_size=16, res_depth=1).eval()
    parser = FaceParser(net, 64)
    crops = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    labels = parser.labels(crops)
    assert labels.shape == (2, 64, 64) and labels.dtype == torch.int64
    weights = parser.weights(crops)
    assert weights.shape == (2, 96, 96) and weights.dtype == np.float32
    assert 0 <= weights.min() and weights.max() <= 1
    # A network that says "skin" everywhere gives the plain soft square of the rule, resized to the crop.

    class AllSkin(torch.nn.Module):
        def forward(self, x):
            logits = torch.zeros(x.shape[0], 19, *x.shape[-2:])
            logits[:, 1] = 1
            return logits, x

    skin = FaceParser(AllSkin(), 64).weights(crops[:1])[0]
    expected = face_mask.resize_weights(parse_weights(torch.ones(1, 64, 64, dtype=torch.long)), 96)[0].numpy()
    assert np.abs(skin - expected).max() < 1e-6
    assert skin[48, 48] == pytest.approx(1.0, abs=1e-3) and skin[0, 48] == 0
    preview = mask_preview(skin)
    assert preview.shape == (96, 96, 3) and preview.dtype == np.uint8 and preview[48, 48, 0] == 255
    with pytest.raises(ValueError, match="uint8"):
        parser.labels(crops.astype(np.float32))
    with pytest.raises(ValueError, match="power of two"):
        FaceParser(net, 100)
