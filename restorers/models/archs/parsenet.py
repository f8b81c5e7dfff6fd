"""ParseNet face parser (19 CelebAMask-HQ classes), as used by facexlib for the paste-back mask.

Re-implemented from the description of xinntao/facexlib `facexlib/parsing/parsenet.py` (itself derived
from PSFRGAN). Module names follow the published `parsing_parsenet.pth` so that its bare state_dict
(238 tensors, 21.3 M parameters) loads with strict=True.

Shape of the network for the published config (in_size = out_size = 512):
- encoder: a plain 3x3 conv (3 -> 64), then 4 residual blocks that halve the size (512 -> 32) with
  channels 128, 256, 256, 256 (capped at 256);
- body: 10 residual blocks at 32x32, added to their own input (a long skip);
- decoder: 4 residual blocks that double the size (nearest-neighbour, then conv) back to 512 with
  channels 256, 256, 128, 64;
- two 3x3 heads: an RGB image and the 19 parsing logits.
Every 3x3 conv pads by reflection (1 px) and has no padding of its own; convs followed by BatchNorm
have no bias; the activation is LeakyReLU(0.2) after the first conv of each residual branch only.

Input: RGB in [-1, 1] ((x/255 - 0.5) / 0.5), [N, 3, 512, 512]. Output: `(logits, image)`.
Everything here is plain torch, so it runs under autocast and channels_last.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 19
# Label order of the 19 CelebAMask-HQ classes as PSFRGAN and face-parsing.PyTorch number them. It is the
# order facexlib's paste-back colormap implies (it drops 0, 14, 16, 17, 18: background, neck, cloth, hair,
# hat); it was not checked against the real weights here, which could not be downloaded.
CLASS_NAMES: tuple[str, ...] = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
    "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)


class Conv3x3(nn.Module):
    """Reflection pad 1, 3x3 conv, optional BatchNorm and LeakyReLU(0.2).

    `resample` is "down" (stride 2), "up" (nearest 2x before the conv) or "none". The BatchNorm sits
    in a one-entry ModuleDict so that its keys read `norm.norm.*`, as in the checkpoint.
    """

    def __init__(self, cin: int, cout: int, resample: str = "none", bn: bool = False,
                 act: bool = False) -> None:
        super().__init__()
        if resample not in ("none", "down", "up"):
            raise ValueError(f"resample must be 'none', 'down' or 'up', not {resample!r}")
        self.upsample = resample == "up"
        self.conv2d = nn.Conv2d(cin, cout, 3, stride=2 if resample == "down" else 1, bias=not bn)
        self.norm = nn.ModuleDict({"norm": nn.BatchNorm2d(cout)}) if bn else None
        self.act = nn.LeakyReLU(0.2) if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"))
        if self.norm is not None:
            x = self.norm["norm"](x)
        if self.act is not None:
            x = self.act(x)
        return x


class ResBlock(nn.Module):
    """Two convs (conv-BN-LReLU, conv-BN) plus a shortcut; the shortcut is a biased conv when the
    block resamples or changes width, the identity otherwise. A "down" block strides in its second
    conv, an "up" block upsamples before its first."""

    def __init__(self, cin: int, cout: int, resample: str = "none") -> None:
        super().__init__()
        self.shortcut_func = (
            Conv3x3(cin, cout, resample) if resample != "none" or cin != cout else None
        )
        self.conv1 = Conv3x3(cin, cout, "up" if resample == "up" else "none", bn=True, act=True)
        self.conv2 = Conv3x3(cout, cout, "down" if resample == "down" else "none", bn=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.shortcut_func is None else self.shortcut_func(x)
        return skip + self.conv2(self.conv1(x))


class ParseNet(nn.Module):
    """Encoder / residual body / decoder face parser; returns `(parsing_logits, image)`."""

    def __init__(self, in_size: int = 512, out_size: int = 512, parsing_ch: int = NUM_CLASSES,
                 min_feat_size: int = 32, base_ch: int = 64, res_depth: int = 10,
                 max_ch: int = 256, min_ch: int = 32) -> None:
        super().__init__()
        for name, size in (("in_size", in_size), ("out_size", out_size)):
            if size < 1 or size & (size - 1):
                raise ValueError(f"{name} must be a power of two, got {size}")
        feat = min(in_size, min_feat_size)
        down_steps = int(math.log2(in_size // feat))
        up_steps = int(math.log2(out_size // feat))

        def width(c: int) -> int:
            return max(min_ch, min(c, max_ch))

        head = base_ch
        encoder: list[nn.Module] = [Conv3x3(3, base_ch)]
        for _ in range(down_steps):
            encoder.append(ResBlock(width(head), width(head * 2), "down"))
            head *= 2
        self.encoder = nn.Sequential(*encoder)
        self.body = nn.Sequential(*(ResBlock(width(head), width(head)) for _ in range(res_depth)))
        decoder: list[nn.Module] = []
        for _ in range(up_steps):
            decoder.append(ResBlock(width(head), width(head // 2), "up"))
            head //= 2
        self.decoder = nn.Sequential(*decoder)
        self.out_img_conv = Conv3x3(width(head), 3)
        self.out_mask_conv = Conv3x3(width(head), parsing_ch)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.encoder(x)
        x = self.decoder(feat + self.body(feat))
        return self.out_mask_conv(x), self.out_img_conv(x)
