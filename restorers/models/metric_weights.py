"""The published networks behind the learned scores (LPIPS, identity), pinned like every model's weights.

Each file is named by Hub repo, path, size and sha256 (read from the Hub's file pages), and loaded through
hub.py: a local override directory, then the Hugging Face cache or a download, then the size/sha256 check.
The mirrors are third-party copies; the sha256 is what makes them the published files (see docs/metrics.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from .hub import WeightsFile

# torchvision's ImageNet VGG16 (IMAGENET1K_V1). torchvision names its files after the first 8 hex digits of
# their sha256, and this mirror's sha256 starts with the 397923af of the name.
VGG16_IMAGENET = WeightsFile(
    "Keiser41/mangaaa", "model/vgg16-397923af.pth",
    "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0", 553433881,
)
# The LPIPS release's v0.1 linear layers for VGG (the same bytes as lpips/weights/v0.1/vgg.pth in the
# `lpips` 0.1.4 package on PyPI: checked here).
LPIPS_VGG_LINEAR = WeightsFile(
    "chaofengc/IQA-PyTorch-Weights", "LPIPS_v0.1_vgg-a78928a0.pth",
    "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868", 7289,
)
# InsightFace arcface_torch: IResNet-50 trained with ArcFace on MS1MV3 (ms1mv3_arcface_r50_fp16/backbone.pth).
# The same sha256 is published by a second repo as torphix/face arcface_r50_backbone.pth.
ARCFACE_R50 = WeightsFile(
    "lithiumice/ArcFace_PyTorch", "ms1mv3_arcface_r50_fp16.pth",
    "ef005ba502a2d0f40e7b94245054d3a23e375776f7035080fcbce45ae49cfb01", 174680546,
)


@dataclass(frozen=True)
class MetricWeights:
    """What a learned score needs, and under which terms."""

    files: tuple[WeightsFile, ...]
    licence: str
    source: str


LPIPS_VGG = MetricWeights(
    (VGG16_IMAGENET, LPIPS_VGG_LINEAR),
    "LPIPS code and linear layers: BSD-2-Clause (Zhang et al.); VGG16 weights: torchvision (BSD-3-Clause code; "
    "trained on ImageNet, whose terms allow non-commercial research use)",
    "https://github.com/richzhang/PerceptualSimilarity",
)
ARCFACE = MetricWeights(
    (ARCFACE_R50,),
    "InsightFace code: MIT; its trained models: non-commercial research purposes only",
    "https://github.com/deepinsight/insightface/tree/master/recognition/arcface_torch",
)
