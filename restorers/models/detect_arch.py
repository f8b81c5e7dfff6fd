"""Recognise a checkpoint's architecture and configuration from its state_dict alone.

Each detector is a small pure function: it reads key names and tensor shapes and returns
``(arch, config)`` (constructor keyword arguments) or None when the state_dict is not its kind. They
are tried in one explicit order (DETECTORS); the file name never matters. Key layouts that predate
the current one are first rewritten by a converter (CONVERTERS), e.g. the original ESRGAN's
``model.1.sub.N.RDB1.conv1.0.weight``. Nothing here builds a network or reads a file.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

import torch

from ..guards.validate import shorten

StateDict = Mapping[str, torch.Tensor]
Detection = tuple[str, dict[str, Any]]

# Per architecture: the family the engine runs it as, the output/input size ratio or the face size.
ARCH_FAMILY = {"rrdbnet": "sr", "srvgg": "sr", "gpen": "face", "gfpgan": "face", "codeformer": "face"}


class UnrecognisedCheckpointError(ValueError):
    """The state_dict matches none of the known architectures (or is inconsistent with the one it resembles)."""


class _TooFewDimensions(UnrecognisedCheckpointError):
    """A detector's key holds a tensor of fewer dimensions than the weight it stands for (said per arch)."""


def _shape(sd: StateDict, key: str, dims: int = 0) -> tuple[int, ...]:
    """The shape of ``sd[key]``, which must have at least ``dims`` dimensions (the ones a detector reads);
    a scalar or a vector where a weight matrix or convolution belongs is refused in words."""
    shape = tuple(sd[key].shape)
    if len(shape) < dims:
        raise _TooFewDimensions(
            f"'{shorten(key)}' is a {len(shape)}-D tensor of shape {shape}, where a weight of at least {dims} "
            "dimensions belongs")
    return shape


def _indices(sd: StateDict, prefix: str) -> list[int]:
    """Sorted distinct integers N of keys 'prefix.N....'."""
    found = set()
    for key in sd:
        if key.startswith(prefix + "."):
            head = key[len(prefix) + 1 :].split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


# ----------------------------------------------------------------------------------------------------
# Converters: older key layouts -> the current one (applied before detection)


_OLD_RDB = re.compile(r"^model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)$")


def convert_old_esrgan(sd: StateDict) -> dict[str, torch.Tensor] | None:
    """The original ESRGAN (xinntao/ESRGAN, 'RRDB_ESRGAN_x4.pth') layout -> BasicSR RRDBNet keys, or None.

    Old: model.0 = conv_first; model.1.sub.N.RDB{1,2,3}.conv{1..5}.0 = the RRDB blocks; model.1.sub.<last>
    = conv_body; then the numbered convs after it are the two x2 upsampling convs, conv_hr and conv_last.
    Only the x4 layout (two upsampling convs) maps onto RRDBNet; others are refused by returning None.
    """
    if "model.0.weight" not in sd or not any(_OLD_RDB.match(k) for k in sd):
        return None
    blocks = sorted({int(m.group(1)) for k in sd if (m := _OLD_RDB.match(k))})
    body = max(_indices(sd, "model.1.sub"))
    tail = [i for i in _indices(sd, "model") if i > 1]
    if body != len(blocks) or len(tail) != 4:
        return None
    names = dict(zip(tail, ("conv_up1", "conv_up2", "conv_hr", "conv_last")))
    out: dict[str, torch.Tensor] = {}
    for key, tensor in sd.items():
        if m := _OLD_RDB.match(key):
            block, rdb, conv, kind = m.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = tensor
        elif key.startswith("model.0."):
            out["conv_first." + key.rsplit(".", 1)[1]] = tensor
        elif key.startswith(f"model.1.sub.{body}."):
            out["conv_body." + key.rsplit(".", 1)[1]] = tensor
        else:
            index = key.split(".")[1]
            if not index.isdigit() or int(index) not in names:
                return None
            out[f"{names[int(index)]}.{key.rsplit('.', 1)[1]}"] = tensor
    return out


CONVERTERS: tuple[Callable[[StateDict], dict[str, torch.Tensor] | None], ...] = (convert_old_esrgan,)


# ----------------------------------------------------------------------------------------------------
# Detectors


def detect_rrdbnet(sd: StateDict) -> Detection | None:
    """RRDBNet (ESRGAN / Real-ESRGAN) at scale 4, 2 or 1, any block count, width and growth."""
    needed = ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight", "conv_up1.weight",
              "conv_up2.weight", "conv_hr.weight", "conv_last.weight")
    if not all(k in sd for k in needed):
        return None
    num_out = _shape(sd, "conv_last.weight", 4)[0]
    num_feat, first_in = _shape(sd, "conv_first.weight", 4)[:2]
    # conv_first sees the input pixel-unshuffled by 1, 2 or 4 (x4, x2, x1), so it has 3, 12 or 48 channels.
    scales = {1: 4, 4: 2, 16: 1}
    if not num_out or first_in % num_out or first_in // num_out not in scales:
        raise UnrecognisedCheckpointError(
            f"RRDBNet-like, but conv_first has {first_in} input channels for {num_out} output channels "
            "(expected 1, 4 or 16 times as many: scale 4, 2 or 1)")
    return "rrdbnet", {
        "num_in_ch": num_out,
        "num_out_ch": num_out,
        "scale": scales[first_in // num_out],
        "num_feat": num_feat,
        "num_block": len(_indices(sd, "body")),
        "num_grow_ch": _shape(sd, "body.0.rdb1.conv1.weight", 4)[0],
    }


def detect_srvgg(sd: StateDict) -> Detection | None:
    """SRVGGNetCompact (realesr-general-x4v3, animevideov3, ...): any depth, width and scale, PReLU."""
    if not sd or not all(k.startswith("body.") for k in sd) or "body.0.weight" not in sd:
        return None
    convs = [i for i in _indices(sd, "body") if f"body.{i}.weight" in sd and len(_shape(sd, f"body.{i}.weight")) == 4]
    if convs != list(range(0, 2 * len(convs), 2)) or len(convs) < 2:
        return None
    num_feat, num_in = _shape(sd, "body.0.weight", 4)[:2]
    if "body.1.weight" not in sd:
        raise UnrecognisedCheckpointError(
            "SRVGGNetCompact-like, but without PReLU weights: its activation (ReLU or LeakyReLU) cannot be "
            "told from the file, and only PReLU checkpoints are published")
    out = _shape(sd, f"body.{convs[-1]}.weight")[0]
    upscale = math.isqrt(out // num_in) if num_in else 0
    if upscale < 1 or upscale * upscale * num_in != out:
        raise UnrecognisedCheckpointError(f"SRVGGNetCompact-like, but its last conv has {out} outputs for "
                                          f"{num_in} input channels (not channels x scale^2)")
    return "srvgg", {"num_in_ch": num_in, "num_out_ch": num_in, "num_feat": num_feat,
                     "num_conv": len(convs) - 2, "upscale": upscale, "act_type": "prelu"}


def detect_gpen(sd: StateDict) -> Detection | None:
    """GPEN-BFR FullGenerator: size from the encoder depth, narrow and channel_multiplier from widths."""
    if not all(k in sd for k in ("ecd0.0.0.weight", "final_linear.0.weight", "generator.conv1.conv.weight")):
        return None
    encoders = {m.group(1) for k in sd if (m := re.match(r"^ecd(\d+)\.", k))}  # ecd0 .. ecd{log2(size) - 2}
    size = 2 ** (len(encoders) + 1)
    ch4 = _shape(sd, "generator.conv1.conv.weight", 3)[2]  # [1, out, in, 3, 3]; in = channels[4] = 512 * narrow
    narrow = ch4 / 512
    # The first conv at 64 px (convs.6) has channels[64] = 256 * channel_multiplier * narrow outputs.
    key = "generator.convs.6.conv.weight"
    multiplier = round(_shape(sd, key, 2)[1] / (256 * narrow)) if key in sd and narrow else 2
    mlp = _indices(sd, "generator.style")
    return "gpen", {"size": size, "style_dim": _shape(sd, "generator.style.1.weight", 1)[0], "n_mlp": len(mlp),
                    "channel_multiplier": multiplier, "narrow": narrow}


def detect_gfpgan(sd: StateDict) -> Detection | None:
    """GFPGANv1Clean (GFPGAN v1.2-v1.4): out_size, widths, MLP depth, different_w and sft_half from shapes."""
    if not all(k in sd for k in ("conv_body_first.weight", "final_conv.weight", "final_linear.weight",
                                 "stylegan_decoder.style_mlp.1.weight", "condition_scale.0.0.weight")):
        return None
    out_size = 2 ** (len(_indices(sd, "conv_body_down")) + 2)
    log_size = int(math.log2(out_size))
    narrow = _shape(sd, "final_conv.weight", 1)[0] * 2 / 512  # U-Net channels[4] = 512 * narrow * 0.5
    key = "toRGB.3.weight"  # the U-Net head at 64 px: 256 * channel_multiplier * narrow * 0.5 inputs
    multiplier = round(_shape(sd, key, 2)[1] / (128 * narrow)) if key in sd and narrow else 1
    style = _shape(sd, "stylegan_decoder.style_mlp.1.weight", 1)[0]
    linear_out = _shape(sd, "final_linear.weight", 1)[0]
    c8 = _shape(sd, "condition_scale.0.0.weight", 2)[1]
    return "gfpgan", {
        "out_size": out_size, "num_style_feat": style, "channel_multiplier": multiplier,
        "decoder_load_path": None, "fix_decoder": False,
        "num_mlp": len(_indices(sd, "stylegan_decoder.style_mlp")),
        # Not stored in the weights; every published clean GFPGAN takes the latent directly.
        "input_is_latent": True,
        "different_w": linear_out == (log_size * 2 - 2) * style, "narrow": narrow,
        "sft_half": "condition_scale.0.2.weight" in sd and _shape(sd, "condition_scale.0.2.weight", 1)[0] == c8,
    }


def detect_codeformer(sd: StateDict) -> Detection | None:
    """CodeFormer: transformer width and depth, codebook size and the fused resolutions from shapes.

    The number of attention heads is not in the weights (the projections are 3 * dim either way); the
    published 8 is assumed."""
    if not all(k in sd for k in ("position_emb", "quantize.embedding.weight", "feat_emb.weight",
                                 "encoder.blocks.0.weight")):
        return None
    latent, dim = _shape(sd, "position_emb", 2)[:2]
    connect = sorted({k.split(".")[1] for k in sd if k.startswith("fuse_convs_dict.")}, key=int)
    config: dict[str, Any] = {"dim_embd": dim, "n_head": 8, "n_layers": len(_indices(sd, "ft_layers")),
                              "codebook_size": _shape(sd, "quantize.embedding.weight", 2)[0], "connect_list": connect}
    if latent != 256:
        config["latent_size"] = latent
    emb = _shape(sd, "quantize.embedding.weight", 2)[1]
    if emb != 256:
        config["vq_emb_dim"] = emb
    nf = _shape(sd, "encoder.blocks.0.weight", 1)[0]
    if nf != 64:
        config["vq_nf"] = nf
    return "codeformer", config


def codeformer_task(config: Mapping[str, Any]) -> str:
    """What a detected CodeFormer was trained for, from its configuration (the official v0.1.0 files):
    'inpaint' for the 512-code codebook (codeformer_inpainting.pth), 'colorize' for 1024 codes fused at
    32/64/128 px only (codeformer_colorization.pth), else 'restore' (codeformer.pth: fused at 32-256 px)."""
    if config.get("codebook_size") == 512:
        return "inpaint"
    if config.get("codebook_size") == 1024 and list(config.get("connect_list", ())) == ["32", "64", "128"]:
        return "colorize"
    return "restore"


# Most specific first; each detector only looks at keys its architecture must have.
DETECTORS: tuple[Callable[[StateDict], Detection | None], ...] = (
    detect_rrdbnet, detect_gfpgan, detect_gpen, detect_codeformer, detect_srvgg,
)
_ARCH_NAMES = {detect_rrdbnet: "RRDBNet", detect_gfpgan: "GFPGAN", detect_gpen: "GPEN",
               detect_codeformer: "CodeFormer", detect_srvgg: "SRVGGNetCompact"}


def detect(state_dict: StateDict) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """(arch, config, state_dict in the current key layout) for a state_dict, or UnrecognisedCheckpointError."""
    sd = dict(state_dict)
    bad = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if bad or not sd:
        raise UnrecognisedCheckpointError("not a state_dict of tensors" + (
            f": '{shorten(bad[0])}' holds a {type(sd[bad[0]]).__name__}" if bad else ": it is empty"))
    for convert in CONVERTERS:
        converted = convert(sd)
        if converted is not None:
            sd = converted
            break
    for detector in DETECTORS:
        try:
            found = detector(sd)
        except _TooFewDimensions as exc:
            raise UnrecognisedCheckpointError(f"{_ARCH_NAMES[detector]}-like, but {exc}") from None
        except UnrecognisedCheckpointError:
            raise
        except (ArithmeticError, IndexError, KeyError, TypeError, ValueError):
            # Shapes no real checkpoint has (zero channels, a scalar where a matrix belongs): one sentence,
            # not the arithmetic that tripped over them.
            raise UnrecognisedCheckpointError(f"{_ARCH_NAMES[detector]}-like key names, but tensor shapes no "
                                              f"{_ARCH_NAMES[detector]} has") from None
        if found is not None:
            arch, config = found
            return arch, {k: (int(v) if isinstance(v, int) else v) for k, v in config.items()}, sd
    keys = list(sd)
    raise UnrecognisedCheckpointError(
        f"unrecognised checkpoint: {len(keys)} tensors, first keys {', '.join(shorten(k, 60) for k in keys[:5])}. "
        "Known architectures: "
        "RRDBNet (ESRGAN / Real-ESRGAN, new or original key layout), SRVGGNetCompact, GPEN, GFPGANv1Clean, CodeFormer")
