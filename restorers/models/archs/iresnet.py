"""IResNet, the ArcFace face-recognition backbone of InsightFace's arcface_torch (Deng et al., CVPR 2019;
"improved residual networks"), in plain PyTorch with the published state_dict names.

Input: an aligned 112x112 RGB face in [-1, 1] ((pixel / 255 - 0.5) / 0.5). Output: a 512-d embedding;
two faces are compared by the cosine of their embeddings.

Key layout of a published backbone (e.g. ms1mv3_arcface_r50_fp16 backbone.pth, layers (3, 4, 14, 3)):
``conv1.weight`` (64, 3, 3, 3), ``bn1.*``, ``prelu.weight`` (64,); per block ``layerS.B.{bn1, conv1, bn2,
prelu, conv2, bn3}`` and on the first block of every stage ``layerS.0.downsample.{0 (1x1 conv, stride 2),
1 (BatchNorm)}``; then ``bn2.*`` (512), ``fc.weight`` (512, 25088), ``fc.bias``, ``features.*``
(BatchNorm1d 512). Every BatchNorm uses eps 1e-5.
"""
from __future__ import annotations

import torch
from torch import nn

DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3)}
INPUT_SIZE = 112


class IBasicBlock(nn.Module):
    """BN -> 3x3 conv -> BN -> PReLU -> 3x3 conv (carrying the stride) -> BN, plus the shortcut."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-5)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-5)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-5)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return out + shortcut


class IResNet(nn.Module):
    """IResNet-``depth`` (18, 34, 50 or 100) with a ``num_features``-d embedding for 112x112 faces."""

    def __init__(self, depth: int = 50, num_features: int = 512) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"IResNet depth must be one of {sorted(DEPTHS)}, got {depth}")
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        inplanes = 64
        for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), DEPTHS[depth]), start=1):
            layers = [IBasicBlock(inplanes, planes, stride=2)] + [IBasicBlock(planes, planes) for _ in range(blocks - 1)]
            self.add_module(f"layer{stage}", nn.Sequential(*layers))
            inplanes = planes
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.fc = nn.Linear(512 * 7 * 7, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"IResNet takes {INPUT_SIZE}x{INPUT_SIZE} aligned faces, got {tuple(x.shape[-2:])}")
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.bn2(x), 1)
        return self.features(self.fc(x))
