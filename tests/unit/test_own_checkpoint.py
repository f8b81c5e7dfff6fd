"""Your own checkpoint: architecture and configuration recognised from the state_dict alone."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import restorers
from conftest import require_shared
from restorers.media import images
from restorers.models.archs.rrdbnet import RRDBNet
from restorers.models.archs.srvgg import SRVGGNetCompact
from restorers.models.checkpoint import CheckpointError, checkpoint_spec, inspect_state_dict
from restorers.models.detect_arch import UnrecognisedCheckpointError, detect

MANIFESTS = [
    ("rrdbnet", "manifest_RealESRGAN_x4plus.json", "rrdbnet"),
    ("rrdbnet", "manifest_RealESRGAN_x2plus.json", "rrdbnet"),
    ("srvgg", "manifest_realesr-general-x4v3.json", "srvgg"),
    ("gpen", "manifest_GPEN-BFR-256.json", "gpen"),
    ("gpen", "manifest_GPEN-BFR-512.json", "gpen"),
    ("gfpgan", "manifest_GFPGANv1.3.json", "gfpgan"),
    ("gfpgan", "manifest_GFPGANv1.4.json", "gfpgan"),
    ("codeformer", "manifest_codeformer.json", "codeformer"),
]


def meta_state(manifest: dict) -> dict[str, torch.Tensor]:
    # Meta tensors: the real checkpoints' names and shapes, without their bytes.
    return {name: torch.empty(shape, device="meta") for name, shape in manifest["keys"].items()}


@pytest.mark.parametrize(("folder", "name", "arch"), MANIFESTS)
def test_real_checkpoint_layouts_are_recognised(folder: str, name: str, arch: str):
    manifest = json.loads(require_shared("golden", folder, name).read_text())
    found, config, _ = detect(meta_state(manifest))
    assert found == arch
    expected = {k: v for k, v in manifest["config"].items() if k != "device"}  # GPEN's device is not a config
    assert {k: config.get(k) for k in expected} == expected
    # Every tensor is accounted for by the network that config builds (checked on the meta device).
    inspect_state_dict(meta_state(manifest), name)


@pytest.mark.parametrize("name", ["manifest_ffhq256-paper256.json", "manifest_ffhq1024-stylegan2.json"])
def test_other_networks_are_refused_with_what_was_seen(name: str):
    manifest = json.loads(require_shared("golden", "stylegan2_ada", name).read_text())
    with pytest.raises(UnrecognisedCheckpointError, match=rf"{len(manifest['keys'])} tensors, first keys synthesis\.b4"):
        detect(meta_state(manifest))


def tiny_rrdbnet(scale: int = 4) -> RRDBNet:
    torch.manual_seed(0)
    return RRDBNet(3, 3, scale=scale, num_feat=8, num_block=2, num_grow_ch=4).eval()


def to_old_esrgan_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The original ESRGAN repository's layout of the same network (what 'RRDB_ESRGAN_x4.pth' uses)."""
    blocks = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("body."))
    tail = {"conv_first": "model.0", "conv_body": f"model.1.sub.{blocks}", "conv_up1": "model.3",
            "conv_up2": "model.6", "conv_hr": "model.8", "conv_last": "model.10"}
    old = {}
    for key, tensor in state.items():
        head, kind = key.rsplit(".", 1)
        if key.startswith("body."):
            _, block, rdb, conv = head.split(".")
            old[f"model.1.sub.{block}.{rdb.upper()}.{conv}.0.{kind}"] = tensor
        else:
            old[f"{tail[head]}.{kind}"] = tensor
    return old


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_rrdbnet_any_scale_and_size(scale: int):
    net = tiny_rrdbnet(scale)
    arch, config, _ = detect(net.state_dict())
    assert arch == "rrdbnet" and config == dict(num_in_ch=3, num_out_ch=3, scale=scale, num_feat=8, num_block=2,
                                                num_grow_ch=4)


def test_old_esrgan_layout_loads_and_matches(tmp_path):
    net = tiny_rrdbnet(4)
    old = to_old_esrgan_keys(net.state_dict())
    assert "model.1.sub.0.RDB1.conv1.0.weight" in old and "model.1.sub.2.weight" in old
    path = tmp_path / "4x_old_layout.pth"
    torch.save(old, path)
    restorer = restorers.load_checkpoint(path, device="cpu", precision="fp32")
    assert restorer.spec.family == "sr" and restorer.spec.scale == 4 and "RRDBNet" in restorer.spec.title
    x = torch.rand(1, 3, 12, 10)
    with torch.inference_mode():
        assert torch.allclose(restorer.network(x), net(x), atol=1e-5)  # channels_last: rounding only


def test_srvgg_any_depth_width_and_scale(tmp_path):
    torch.manual_seed(0)
    net = SRVGGNetCompact(num_feat=8, num_conv=3, upscale=3).eval()
    assert detect(net.state_dict())[:2] == ("srvgg", dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=3,
                                                          upscale=3, act_type="prelu"))
    path = tmp_path / "model.pth"  # any name: only the tensors count
    torch.save({"params": net.state_dict()}, path)
    out = restorers.load_checkpoint(path, device="cpu").restore(np.zeros((5, 7, 3), np.uint8))
    assert out.image.shape == (15, 21, 3)


def test_unusable_files_get_clear_errors(tmp_path, monkeypatch):
    junk = tmp_path / "junk.pth"
    torch.save({"layer.weight": torch.zeros(2, 2), "layer.bias": torch.zeros(2)}, junk)
    with pytest.raises(CheckpointError, match=r"unrecognised checkpoint: 2 tensors, first keys layer\.weight"):
        restorers.load_checkpoint(junk)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a checkpoint file"):
        checkpoint_spec(text)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        checkpoint_spec(broken)
    state = tiny_rrdbnet().state_dict()
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match=r"1 unexpected \(e\.g\. extra\.weight\)"):
        checkpoint_spec(tmp_path / "extra.pth")
    torch.save(tiny_rrdbnet().state_dict(), tmp_path / "ok.pth")
    monkeypatch.setenv("RESTORERS_MAX_CHECKPOINT_MB", "0.001")
    with pytest.raises(CheckpointError, match="RESTORERS_MAX_CHECKPOINT_MB"):
        checkpoint_spec(tmp_path / "ok.pth")
    monkeypatch.delenv("RESTORERS_MAX_CHECKPOINT_MB")
    monkeypatch.setenv("RESTORERS_MAX_CHECKPOINT_PARAMS", "1000")
    with pytest.raises(CheckpointError, match="RESTORERS_MAX_CHECKPOINT_PARAMS"):
        checkpoint_spec(tmp_path / "ok.pth")


def test_shapes_that_describe_a_huge_network_are_refused_before_allocating(tmp_path):
    # A zero-stride view stores 8 bytes but declares a 4096-wide RRDBNet (billions of parameters).
    state = {k: torch.zeros(1).expand(*v.shape) for k, v in tiny_rrdbnet().state_dict().items()}
    state["conv_first.weight"] = torch.zeros(1).expand(4096, 3, 3, 3)
    torch.save(state, tmp_path / "bomb.pth")
    assert (tmp_path / "bomb.pth").stat().st_size < 200_000
    with pytest.raises(CheckpointError, match="parameters|do not fit|num_feat = 4096; at most 256"):
        checkpoint_spec(tmp_path / "bomb.pth")


def test_safetensors_checkpoint_gives_the_same_result_as_the_pth(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = SRVGGNetCompact(num_feat=8, num_conv=3, upscale=2).eval()
    torch.save({"params": net.state_dict()}, tmp_path / "a.pth")
    save_file(net.state_dict(), str(tmp_path / "B.SafeTensors"))  # any case of the suffix
    photo = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    from_pth = restorers.load_checkpoint(tmp_path / "a.pth", device="cpu").restore(photo).image
    from_st = restorers.load_checkpoint(tmp_path / "B.SafeTensors", device="cpu").restore(photo).image
    assert from_st.shape == (18, 22, 3)
    np.testing.assert_array_equal(from_st, from_pth)


def test_a_broken_safetensors_file_is_a_clear_error(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x00" * 16)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        checkpoint_spec(path)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def gradient_energy(rgb: np.ndarray) -> float:
    gray = rgb.astype(np.float64).mean(axis=2)
    return float(np.mean(np.abs(np.diff(gray, axis=0))) + np.mean(np.abs(np.diff(gray, axis=1))))


def test_real_anime_srvgg_fixture_is_the_bare_network_and_sharper():
    """A 16-conv SRVGG (a layout the registry does not ship): the engine's output equals the bare network's
    away from the padded border, and is sharper than bicubic (on clean downscaled FFHQ it is 2-3 dB below
    bicubic in PSNR, an anime model on photos, so PSNR is not the check here)."""
    path = require_shared("weights", "fixtures", "realesr-animevideov3-unverified.pth")
    restorer = restorers.load_checkpoint(path, device="cpu", precision="fp32")
    assert restorer.spec.config == dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4,
                                        act_type="prelu")
    gt = images.resize(images.load_image(require_shared("faces", "ffhq-gt", "00004.png")).rgb, (384, 384), "lanczos")
    low = images.resize(gt, (96, 96), "bicubic")
    ours = restorer.restore(low).image
    with torch.inference_mode():
        bare = images.from_tensor(restorer.network(images.to_tensor(low)))[0]
    assert np.abs(ours.astype(int) - bare.astype(int))[:-72, :-72].max() <= 1
    base = restorers.load("bicubic").restore(low, outscale=4).image
    assert gradient_energy(ours) > 1.1 * gradient_energy(base)
    assert psnr(ours, gt) > psnr(base, gt) - 3.5


def test_real_x4plus_fixture_beats_bicubic_on_a_realistic_degradation():
    """The fp16-rounded real Real-ESRGAN x4plus (sha256 722e7d8a...), loaded as a user's checkpoint, on a real
    FFHQ face degraded by the Real-ESRGAN second-order chain (blur, resize, noise, JPEG, x4 down): closer to
    the ground truth than bicubic in SSIM (0.60 vs 0.56 measured) and far sharper."""
    from restorers.analysis.degrade import realesrgan_chain
    from restorers.models.hub import sha256_of
    from restorers.analysis.metrics import ssim

    path = require_shared("weights", "fixtures", "realesrgan-x4plus-from-ncnn.pth")
    assert sha256_of(path) == "722e7d8a8f39cd90965bcd5861e376b350977851b8910668e06983002e16d447"
    restorer = restorers.load_checkpoint(path, device="cpu", precision="fp32")
    assert restorer.spec.config["num_block"] == 23 and restorer.spec.scale == 4
    gt = images.resize(images.load_image(require_shared("faces", "ffhq-gt", "00000.png")).rgb, (384, 384), "lanczos")
    low = realesrgan_chain(gt, seed=0, scale=4)
    ours = restorer.restore(low).image
    base = restorers.load("bicubic").restore(low, outscale=4).image
    assert ours.shape == base.shape == gt.shape
    assert ssim(ours, gt) > ssim(base, gt) + 0.02
    assert gradient_energy(ours) > 1.5 * gradient_energy(base)


GOLDEN_CASES = ["rrdbnet/case_rrdb_x1.pt", "rrdbnet/case_rrdb_x2.pt", "rrdbnet/case_rrdb_x4.pt",
                "srvgg/case_srvgg_x2_prelu.pt", "gpen/case_gpen_128.pt", "gfpgan/case_gfpgan_64.pt"]
# (CodeFormer's golden case stores a procedure, not a state_dict; its real layout is checked from the manifest.)


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_small_golden_networks_are_recognised_with_their_configs(case: str):
    """The golden cases are small, unusual configurations (GPEN 128 px at narrow 1/16, GFPGAN 64 px, ...)."""
    data = torch.load(require_shared("golden", case), weights_only=True)
    _, config, _ = inspect_state_dict(data["state_dict"], case)
    expected = {k: v for k, v in data["config"].items() if k != "device"}
    assert {k: config.get(k) for k in expected} == expected


def test_own_face_checkpoint_runs_the_face_pipeline(tmp_path):
    data = torch.load(require_shared("golden", "gpen", "case_gpen_128.pt"), weights_only=True)
    path = tmp_path / "my_face_model.pth"
    torch.save(data["state_dict"], path)
    restorer = restorers.load_checkpoint(path, device="cpu", precision="fp32")
    assert restorer.spec.family == "face" and restorer.spec.input_size == 128
    photo = images.load_image(require_shared("faces", "gfpgan-whole", "Blake_Lively.jpg")).rgb
    result = restorer.restore(photo, mode="whole", outscale=1, background="none")
    assert len(result.faces) >= 1 and result.image.shape == photo.shape
    assert result.crops_after[0].shape == (128, 128, 3)
