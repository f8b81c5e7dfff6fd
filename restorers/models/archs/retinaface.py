"""RetinaFace face detector with the MobileNet-0.25 backbone (5 facial landmarks).

Re-implemented from the description of biubug6/Pytorch_Retinaface and xinntao/facexlib
(detection/retinaface.py, retinaface_net.py, retinaface_utils.py). Module names follow the published
`detection_mobilenet0.25_Final.pth` so that its bare state_dict (300 tensors) loads with strict=True.

The network was trained on BGR images with the per-channel mean (104, 117, 123) subtracted and no
further scaling; `preprocess` does that from an RGB batch. The heads predict, for every prior box,
offsets (box, 5 landmarks) and two class logits; `prior_boxes`, `decode_boxes`, `decode_landmarks`
and `nms` turn them into detections. Everything here is plain torch, so it runs under autocast and
channels_last; decoding is done in float32 whatever the network dtype was.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Anchor layout of the published mobilenet0.25 config: one feature map per stride, two square
# anchor sizes (in input pixels) per location.
MIN_SIZES: tuple[tuple[int, int], ...] = ((16, 32), (64, 128), (256, 512))
STEPS: tuple[int, ...] = (8, 16, 32)
VARIANCE: tuple[float, float] = (0.1, 0.2)
BGR_MEAN: tuple[float, float, float] = (104.0, 117.0, 123.0)
NUM_ANCHORS = 2


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, leaky: float | None = None,
             groups: int = 1) -> list[nn.Module]:
    """Conv (no bias) + BatchNorm [+ LeakyReLU] as a flat module list (index layout of the checkpoint)."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if leaky is not None:
        layers.append(nn.LeakyReLU(leaky, inplace=True))
    return layers


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, leaky: float | None = None) -> nn.Sequential:
    return nn.Sequential(*_conv_bn(cin, cout, kernel, stride, leaky))


def conv_dw(cin: int, cout: int, stride: int, leaky: float = 0.1) -> nn.Sequential:
    """MobileNet block: depthwise 3x3 + BN + LReLU, then pointwise 1x1 + BN + LReLU (keys .0/.1 and .3/.4)."""
    return nn.Sequential(
        *_conv_bn(cin, cin, 3, stride, leaky, groups=cin),
        *_conv_bn(cin, cout, 1, 1, leaky),
    )


class MobileNetV1(nn.Module):
    """MobileNet-0.25 trunk; returns the stride 8, 16 and 32 feature maps (64, 128, 256 channels)."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            conv_bn(3, 8, 3, 2, leaky=0.1),
            conv_dw(8, 16, 1),
            conv_dw(16, 32, 2),
            conv_dw(32, 32, 1),
            conv_dw(32, 64, 2),
            conv_dw(64, 64, 1),
        )
        self.stage2 = nn.Sequential(conv_dw(64, 128, 2), *(conv_dw(128, 128, 1) for _ in range(5)))
        self.stage3 = nn.Sequential(conv_dw(128, 256, 2), conv_dw(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        c3 = self.stage3(c2)
        return [c1, c2, c3]


class FPN(nn.Module):
    """Top-down feature pyramid: 1x1 laterals, nearest upsampling, 3x3 merge convs."""

    def __init__(self, in_channels: tuple[int, int, int], out_channels: int) -> None:
        super().__init__()
        leaky = 0.1 if out_channels <= 64 else 0.0
        self.output1 = conv_bn(in_channels[0], out_channels, 1, leaky=leaky)
        self.output2 = conv_bn(in_channels[1], out_channels, 1, leaky=leaky)
        self.output3 = conv_bn(in_channels[2], out_channels, 1, leaky=leaky)
        self.merge1 = conv_bn(out_channels, out_channels, 3, leaky=leaky)
        self.merge2 = conv_bn(out_channels, out_channels, 3, leaky=leaky)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        p1 = self.output1(feats[0])
        p2 = self.output2(feats[1])
        p3 = self.output3(feats[2])
        p2 = self.merge2(p2 + F.interpolate(p3, size=p2.shape[-2:], mode="nearest"))
        p1 = self.merge1(p1 + F.interpolate(p2, size=p1.shape[-2:], mode="nearest"))
        return [p1, p2, p3]


class SSH(nn.Module):
    """Context module: parallel 3x3, 5x5 (two 3x3) and 7x7 (three 3x3) branches, concatenated, ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if out_channels % 4:
            raise ValueError("SSH out_channels must be a multiple of 4")
        leaky = 0.1 if out_channels <= 64 else 0.0
        quarter = out_channels // 4
        self.conv3X3 = conv_bn(in_channels, out_channels // 2)
        self.conv5X5_1 = conv_bn(in_channels, quarter, leaky=leaky)
        self.conv5X5_2 = conv_bn(quarter, quarter)
        self.conv7X7_2 = conv_bn(quarter, quarter, leaky=leaky)
        self.conv7x7_3 = conv_bn(quarter, quarter)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3 = self.conv3X3(x)
        mid = self.conv5X5_1(x)
        branch5 = self.conv5X5_2(mid)
        branch7 = self.conv7x7_3(self.conv7X7_2(mid))
        return F.relu(torch.cat((branch3, branch5, branch7), dim=1))


class _Head(nn.Module):
    """1x1 conv predicting `values` numbers per anchor; output (N, H*W*anchors, values)."""

    def __init__(self, in_channels: int, values: int, num_anchors: int = NUM_ANCHORS) -> None:
        super().__init__()
        self.values = values
        self.conv1x1 = nn.Conv2d(in_channels, num_anchors * values, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NHWC order makes the anchors of one location adjacent, matching `prior_boxes`.
        return self.conv1x1(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1, self.values)


class RetinaFace(nn.Module):
    """RetinaFace (MobileNet-0.25). Input: preprocessed BGR batch (see `preprocess`).

    Returns (loc (N, A, 4), scores (N, A), landmarks (N, A, 10)) in float32, where scores is the
    softmax face probability and A is the number of prior boxes for the input size.
    """

    def __init__(self, out_channels: int = 64) -> None:
        super().__init__()
        self.body = MobileNetV1()
        self.fpn = FPN((64, 128, 256), out_channels)
        self.ssh1 = SSH(out_channels, out_channels)
        self.ssh2 = SSH(out_channels, out_channels)
        self.ssh3 = SSH(out_channels, out_channels)
        self.ClassHead = nn.ModuleList(_Head(out_channels, 2) for _ in range(3))
        self.BboxHead = nn.ModuleList(_Head(out_channels, 4) for _ in range(3))
        self.LandmarkHead = nn.ModuleList(_Head(out_channels, 10) for _ in range(3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pyramid = self.fpn(self.body(x))
        feats = [self.ssh1(pyramid[0]), self.ssh2(pyramid[1]), self.ssh3(pyramid[2])]
        loc = torch.cat([head(f) for head, f in zip(self.BboxHead, feats)], dim=1).float()
        logits = torch.cat([head(f) for head, f in zip(self.ClassHead, feats)], dim=1).float()
        landmarks = torch.cat([head(f) for head, f in zip(self.LandmarkHead, feats)], dim=1).float()
        return loc, logits.softmax(dim=-1)[..., 1], landmarks


@torch.no_grad()
def fuse_batchnorm_(model: nn.Module) -> nn.Module:
    """Fold every Conv2d -> BatchNorm2d pair inside a Sequential into the conv, in place (eval only).

    Saves one pass over every feature map (~25% of CPU time here); outputs change only by float
    rounding. The module tree, and so the state_dict, no longer matches the checkpoint afterwards:
    load first, then fuse.
    """
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
                continue
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                bias = bias + conv.bias * scale
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias = nn.Parameter(bias, requires_grad=False)
            seq[i + 1] = nn.Identity()
    return model


def preprocess(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 255] -> the network input: BGR minus the training mean."""
    mean = torch.tensor(BGR_MEAN, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return rgb.flip(1) - mean


def prior_boxes(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Anchors (A, 4) as (cx, cy, w, h), normalised by the input size, in the heads' output order."""
    priors = []
    for step, sizes in zip(STEPS, MIN_SIZES):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        cy = (torch.arange(fh, dtype=torch.float32, device=device) + 0.5) * (step / height)
        cx = (torch.arange(fw, dtype=torch.float32, device=device) + 0.5) * (step / width)
        cy, cx = torch.meshgrid(cy, cx, indexing="ij")
        per_size = [
            torch.stack((cx, cy, torch.full_like(cx, s / width), torch.full_like(cy, s / height)), dim=-1)
            for s in sizes
        ]
        # (fh, fw, anchors, 4): row, column, then anchor size, like the heads' reshape.
        priors.append(torch.stack(per_size, dim=2).reshape(-1, 4))
    return torch.cat(priors, dim=0)


def decode_boxes(loc: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """(..., A, 4) offsets -> (x1, y1, x2, y2), normalised like the priors."""
    centre = priors[..., :2] + loc[..., :2] * VARIANCE[0] * priors[..., 2:]
    size = priors[..., 2:] * torch.exp(loc[..., 2:] * VARIANCE[1])
    return torch.cat((centre - size / 2, centre + size / 2), dim=-1)


def decode_landmarks(pred: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """(..., A, 10) offsets -> (..., A, 5, 2) points (x, y), normalised like the priors."""
    offsets = pred.reshape(*pred.shape[:-1], 5, 2)
    return priors[..., None, :2] + offsets * VARIANCE[0] * priors[..., None, 2:]


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU matrix between (N, 4) and (M, 4) boxes (x1, y1, x2, y2)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-12)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression; returns kept indices, highest score first.

    The IoU matrix is computed once (candidates are few after the score threshold); the greedy pass
    then only walks a boolean matrix.
    """
    order = scores.argsort(descending=True)
    if order.numel() == 0:
        return order
    overlaps = (box_iou(boxes[order], boxes[order]) > iou_threshold).cpu()
    suppressed = torch.zeros(order.numel(), dtype=torch.bool)
    keep = []
    for i in range(order.numel()):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i]
    return order[torch.tensor(keep, dtype=torch.long, device=order.device)]
