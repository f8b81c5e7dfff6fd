"""SRVGGNetCompact, Real-ESRGAN's small VGG-style upscaler (realesr-general-x4v3, animevideov3).

Re-implemented from the description of realesrgan/archs/srvgg_arch.py. `body` is a flat
ModuleList alternating conv and activation, so official keys are `body.{i}.weight/bias` with
convs at even indices and (for PReLU) the slopes at odd indices. The network predicts a residual
in pixel-shuffle layout and adds the nearest-upsampled input. Any input size works.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

_ACT_TYPES = ("relu", "prelu", "leakyrelu")


def _activation(act_type: str, num_feat: int) -> nn.Module:
    if act_type == "relu":
        return nn.ReLU(inplace=True)
    if act_type == "prelu":
        return nn.PReLU(num_parameters=num_feat)
    if act_type == "leakyrelu":
        return nn.LeakyReLU(negative_slope=0.1, inplace=True)
    raise ValueError(f"act_type must be one of {_ACT_TYPES}, got {act_type!r}")


class SRVGGNetCompact(nn.Module):
    """Compact SR net. Input RGB in [0, 1], NCHW; output `upscale` times larger, unbounded."""

    input_multiple = 1  # no size constraint; same attribute as RRDBNet for the engine

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
        act_type: str = "prelu",
    ) -> None:
        super().__init__()
        self.upscale = upscale
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(upscale)

    @property
    def tile_context(self) -> int:
        """Input pixels of context a tile needs to match untiled output: the exact receptive field radius
        (one pixel per 3x3 conv; the convs sit at even indices of body)."""
        return (len(self.body) + 1) // 2

    @property
    def scale(self) -> int:
        """Output/input size ratio (same name as RRDBNet.scale)."""
        return self.upscale

    @staticmethod
    def config_from_state_dict(
        state_dict: Mapping[str, torch.Tensor], act_type: str | None = None
    ) -> dict[str, Any]:
        """Constructor kwargs that fit an official state_dict (read from tensor shapes).

        PReLU is detected from its slope tensors; ReLU and LeakyReLU store nothing, so for those
        checkpoints `act_type` must be given. num_out_ch is taken equal to num_in_ch (the last conv
        only gives num_out_ch * upscale**2).
        """
        conv_ids = sorted(int(k.split(".")[1]) for k in state_dict if k.startswith("body.") and k.endswith(".bias"))
        if not conv_ids or conv_ids[0] != 0:
            raise ValueError("not an SRVGGNetCompact state_dict: no body.0.bias")
        num_feat, num_in_ch = state_dict["body.0.weight"].shape[:2]
        has_prelu = "body.1.weight" in state_dict
        if act_type is None:
            if not has_prelu:
                raise ValueError("activation is ReLU or LeakyReLU (no PReLU weights): pass act_type")
            act_type = "prelu"
        elif (act_type == "prelu") != has_prelu:
            raise ValueError(f"act_type={act_type!r} does not match the state_dict (PReLU weights: {has_prelu})")
        last = conv_ids[-1]
        out_ch = state_dict[f"body.{last}.weight"].shape[0]
        upscale = round((out_ch / num_in_ch) ** 0.5)
        if upscale * upscale * num_in_ch != out_ch:
            raise ValueError(f"last conv has {out_ch} outputs: not {num_in_ch} channels x upscale^2")
        return {
            "num_in_ch": int(num_in_ch),
            "num_out_ch": int(num_in_ch),
            "num_feat": int(num_feat),
            "num_conv": last // 2 - 1,
            "upscale": upscale,
            "act_type": act_type,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        base = F.interpolate(x, scale_factor=float(self.upscale), mode="nearest")
        # Out-of-place add: under autocast `out` is low precision and `base` float32, so the
        # sum is promoted to float32 and the skip path keeps full precision.
        return out + base
