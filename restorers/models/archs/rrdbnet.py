"""RRDBNet, the ESRGAN generator used by Real-ESRGAN x4plus / x2plus.

Re-implemented from the BasicSR description (basicsr/archs/rrdbnet_arch.py). Module names match
the official ones so that published `params_ema` / `params` state_dicts load with strict=True.

For scale 2 and 1 the network pixel-unshuffles its input (by 2 / by 4) and then always upsamples
by 4 (nearest x2 twice), so the output is `scale` times the input. Input H and W must therefore be
multiples of `input_multiple`; the caller pads (Real-ESRGAN uses reflect padding) and crops back.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

# Pixel-unshuffle factor applied before conv_first, per output scale.
_UNSHUFFLE = {4: 1, 2: 2, 1: 4}
# Context (in feature pixels, i.e. after pixel-unshuffle) that a tile needs for seamless tiling. The
# receptive field grows by 15 px per RRDB (hundreds of pixels in all) but the influence of far pixels
# decays fast: on the real x4plus weights, tiles of 128 px with 16 px of context differ from untiled
# inference by 49.8 dB PSNR (max 31 grey levels), with 32 px by 57.3 dB (max 11).
EFFECTIVE_CONTEXT = 32


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; the output is scaled by 0.2 and added to the input."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In-place activations are safe: each one acts on a fresh conv output.
        x1 = F.leaky_relu(self.conv1(x), 0.2, inplace=True)
        x2 = F.leaky_relu(self.conv2(torch.cat((x, x1), 1)), 0.2, inplace=True)
        x3 = F.leaky_relu(self.conv3(torch.cat((x, x1, x2), 1)), 0.2, inplace=True)
        x4 = F.leaky_relu(self.conv4(torch.cat((x, x1, x2, x3), 1)), 0.2, inplace=True)
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs, the result scaled by 0.2 plus the input."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN / Real-ESRGAN generator. Input RGB in [0, 1], NCHW; output unbounded (clamp later)."""

    def __init__(
        self,
        num_in_ch: int,
        num_out_ch: int,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        if scale not in _UNSHUFFLE:
            raise ValueError(f"RRDBNet supports scale 1, 2 or 4, got {scale}")
        self.scale = scale
        self._unshuffle = _UNSHUFFLE[scale]
        self.conv_first = nn.Conv2d(num_in_ch * self._unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    @property
    def input_multiple(self) -> int:
        """Input H and W must be multiples of this (1 for scale 4, 2 for scale 2, 4 for scale 1)."""
        return self._unshuffle

    @property
    def tile_context(self) -> int:
        """Input pixels of context a tile needs: the receptive field radius, capped at EFFECTIVE_CONTEXT."""
        radius = 15 * len(self.body) + 3  # conv_first + 15 convs per RRDB + conv_body + the upsampling convs
        return min(radius, EFFECTIVE_CONTEXT) * self._unshuffle

    @staticmethod
    def config_from_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """Constructor kwargs that fit an official RRDBNet state_dict (read from tensor shapes).

        num_in_ch and scale cannot be told apart from conv_first alone (3 channels unshuffled by 2
        look like 12 plain channels); RGB in/out is assumed, as in every published checkpoint.
        """
        num_out_ch = state_dict["conv_last.weight"].shape[0]
        num_feat, first_in = state_dict["conv_first.weight"].shape[:2]
        factor_sq = first_in // num_out_ch
        scales = {f * f: s for s, f in _UNSHUFFLE.items()}
        if first_in % num_out_ch or factor_sq not in scales:
            raise ValueError(f"conv_first has {first_in} input channels: not 3 channels x 1, 4 or 16")
        blocks = {int(k.split(".")[1]) for k in state_dict if k.startswith("body.")}
        return {
            "num_in_ch": num_out_ch,
            "num_out_ch": num_out_ch,
            "scale": scales[factor_sq],
            "num_feat": int(num_feat),
            "num_block": len(blocks),
            "num_grow_ch": int(state_dict["body.0.rdb1.conv1.weight"].shape[0]),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self._unshuffle
        if f > 1:
            h, w = x.shape[-2:]
            if h % f or w % f:
                raise ValueError(
                    f"RRDBNet x{self.scale} needs input H and W divisible by {f}, got {h}x{w}; "
                    "pad the image first (reflect) and crop the output"
                )
            # torch's channel order (c, i, j) matches BasicSR's view/permute pixel_unshuffle.
            x = F.pixel_unshuffle(x, f)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.interpolate(feat, scale_factor=2.0, mode="nearest")
        feat = F.leaky_relu(self.conv_up1(feat), 0.2, inplace=True)
        feat = F.interpolate(feat, scale_factor=2.0, mode="nearest")
        feat = F.leaky_relu(self.conv_up2(feat), 0.2, inplace=True)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2, inplace=True))
