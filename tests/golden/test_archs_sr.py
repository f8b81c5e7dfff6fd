"""Golden tests for the Real-ESRGAN super-resolution archs (RRDBNet, SRVGGNetCompact).

Each golden case holds the official state_dict, input and output (fp32, CPU); the manifests hold
the key/shape layout of the real published checkpoints. See ../shared/golden/README.md.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from conftest import SHARED, require_shared
from restorers.models.archs.rrdbnet import RRDBNet
from restorers.models.archs.srvgg import SRVGGNetCompact

ARCHS: dict[str, type[nn.Module]] = {"rrdbnet": RRDBNet, "srvgg": SRVGGNetCompact}
FIXTURE = ("weights", "fixtures", "realesr-animevideov3-unverified.pth")


def _discover(pattern: str) -> list[Path]:
    """Golden files matching `pattern` in every arch folder.

    When ../shared is absent the pattern itself is returned, so the test calls require_shared on
    a missing path and skips (or fails under CI) instead of silently collecting nothing.
    """
    golden = SHARED / "golden"
    found = sorted(p for arch in ARCHS for p in (golden / arch).glob(pattern))
    return found or [golden / "rrdbnet" / pattern]


def _require(path: Path) -> Path:
    return require_shared(*path.relative_to(SHARED).parts)


def _build(path: Path, config: dict) -> nn.Module:
    return ARCHS[path.parent.name](**config).eval()


def _load_case(path: Path) -> tuple[nn.Module, dict]:
    case = torch.load(_require(path))
    model = _build(path, case["config"])
    model.load_state_dict(case["state_dict"], strict=True)
    return model, case


@pytest.mark.parametrize("path", _discover("case_*.pt"), ids=lambda p: p.stem)
def test_golden_case_fp32(path: Path) -> None:
    model, case = _load_case(path)
    with torch.inference_mode():
        out = model(case["input"])
    assert out.shape == case["output"].shape
    assert out.dtype == torch.float32
    assert (out - case["output"]).abs().max().item() <= 1e-5


@pytest.mark.parametrize("path", _discover("manifest_*.json"), ids=lambda p: p.stem)
def test_manifest_layout(path: Path) -> None:
    manifest = json.loads(_require(path).read_text())
    model = _build(path, manifest["config"])
    state = model.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == manifest["keys"]
    assert list(state) == list(manifest["keys"])  # same order as the official module
    assert len(state) == manifest["num_keys"]
    assert sum(p.numel() for p in model.parameters()) == manifest["num_params"]
    assert sum(v.numel() for v in state.values()) == manifest["num_state_dict_elements"]
    # The engine builds models from checkpoint shapes: that must give back the real config.
    assert type(model).config_from_state_dict(state) == manifest["config"]


# (case, max relative error, min PSNR in dB over the reference's value range). Observed on this
# CPU (avx512_bf16): rrdb_x4 rel 1.4e-2 / 54.6 dB; srvgg_x4 rel 5.1e-4 / 80.2 dB. RRDBNet's error
# is larger because its 23-block (here 2-block) residual trunk accumulates in bf16.
BF16_CASES = [("rrdbnet/case_rrdb_x4.pt", 3e-2, 48.0), ("srvgg/case_srvgg_x4_prelu.pt", 2e-3, 70.0)]


@pytest.mark.parametrize("rel_path, max_rel, min_psnr", BF16_CASES, ids=lambda v: str(v))
def test_bf16_channels_last_close_to_fp32(rel_path: str, max_rel: float, min_psnr: float) -> None:
    model, case = _load_case(SHARED / "golden" / rel_path)
    ref = case["output"]
    model = model.to(memory_format=torch.channels_last)
    x = case["input"].contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x).float()
    assert out.shape == ref.shape and torch.isfinite(out).all()
    err = out - ref
    rel = err.abs().max() / ref.abs().max()
    psnr = 10 * torch.log10((ref.max() - ref.min()) ** 2 / err.pow(2).mean())
    assert rel.item() <= max_rel
    assert psnr.item() >= min_psnr


@pytest.mark.parametrize("scale, multiple", [(4, 1), (2, 2), (1, 4)])
def test_rrdbnet_input_multiple_and_size_check(scale: int, multiple: int) -> None:
    model = RRDBNet(3, 3, scale=scale, num_feat=8, num_block=1, num_grow_ch=4).eval()
    assert model.input_multiple == multiple
    with torch.inference_mode():
        out = model(torch.rand(1, 3, 4 * multiple, 2 * multiple))
    assert out.shape == (1, 3, 4 * multiple * scale, 2 * multiple * scale)
    if multiple > 1:
        with pytest.raises(ValueError, match=f"divisible by {multiple}"):
            model(torch.rand(1, 3, 4 * multiple + 1, 2 * multiple))


def test_rrdbnet_rejects_unknown_scale() -> None:
    with pytest.raises(ValueError, match="scale 1, 2 or 4"):
        RRDBNet(3, 3, scale=3)


def test_srvgg_any_size_and_act_types() -> None:
    assert SRVGGNetCompact.input_multiple == 1
    for act in ("relu", "prelu", "leakyrelu"):
        model = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2, act_type=act).eval()
        assert model.scale == 2
        with torch.inference_mode():
            assert model(torch.rand(1, 3, 7, 5)).shape == (1, 3, 14, 10)
    with pytest.raises(ValueError, match="act_type"):
        SRVGGNetCompact(act_type="gelu")
    relu_state = SRVGGNetCompact(num_feat=8, num_conv=2, act_type="relu").state_dict()
    with pytest.raises(ValueError, match="pass act_type"):
        SRVGGNetCompact.config_from_state_dict(relu_state)
    assert SRVGGNetCompact.config_from_state_dict(relu_state, act_type="relu")["num_conv"] == 2


def test_trained_animevideov3_fixture_loads_strict(faces_dir: Path) -> None:
    checkpoint = torch.load(require_shared(*FIXTURE), map_location="cpu", weights_only=True)
    state = checkpoint["params"]
    assert len(state) == 53
    config = SRVGGNetCompact.config_from_state_dict(state)
    assert config == {
        "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_conv": 16, "upscale": 4, "act_type": "prelu",
    }
    model = SRVGGNetCompact(**config).eval()
    model.load_state_dict(state, strict=True)

    # Real photo, 4x area-downscaled. A trained upscaler's residual over nearest upsampling points
    # towards the true detail (cosine 0.51 seen here; bicubic gives 0.68); with random weights, or
    # weights loaded into the wrong slots, it is noise (|cosine| < 0.005 seen).
    img = Image.open(faces_dir / "ffhq-gt" / "00000.png").convert("RGB").resize((256, 256), Image.BICUBIC)
    gt = torch.from_numpy(np.array(img)).permute(2, 0, 1).unsqueeze(0).float() / 255
    low = F.avg_pool2d(gt, 4)
    with torch.inference_mode():
        out = model(low)
    assert out.shape == gt.shape
    nearest = F.interpolate(low, scale_factor=4.0, mode="nearest")
    cosine = F.cosine_similarity((out - nearest).flatten(), (gt - nearest).flatten(), dim=0)
    assert cosine.item() > 0.35
