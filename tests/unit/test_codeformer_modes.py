"""CodeFormer colourisation and inpainting: the architecture at their configurations, the registry pins, the
colouriser through a tiny checkpoint in a temporary hub cache, inpainting as a bring-your-own file (in
$RESTORERS_WEIGHTS_DIR), the compositing rule (pixels outside the mask unchanged, bit for bit), and the API."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import restorers
from conftest import require_shared
from hubcache import add_file, checkpoint_bytes
from restorers.guards.validate import ParameterError
from restorers.media import images
from restorers.models import hub
from restorers.models.registry import CODEFORMER_COLORIZATION, CODEFORMER_INPAINTING, ModelSpec, get_spec
from restorers.models.archs.codeformer import CodeFormer

CONNECT3 = ["32", "64", "128"]
TINY = dict(dim_embd=32, n_head=4, n_layers=2, connect_list=CONNECT3, vq_nf=32, vq_ch_mult=(1, 1, 1, 1, 1, 1),
            vq_emb_dim=32)


# What detect_arch can read back from a file: the official channel multipliers and 8 heads, smaller widths.
OWN = dict(dim_embd=32, n_head=8, n_layers=2, connect_list=CONNECT3, vq_nf=32, vq_emb_dim=32)


def tiny_state_dict(codebook_size: int, config: dict = TINY) -> dict:
    torch.manual_seed(0)
    net = CodeFormer(codebook_size=codebook_size, **config)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
        net.position_emb.normal_(0, 0.5)
    return net.state_dict()


def tiny_spec(base: ModelSpec, weights: hub.WeightsFile, codebook_size: int) -> ModelSpec:
    from dataclasses import replace

    return replace(base, name=f"tiny-{base.name}", config=dict(TINY, codebook_size=codebook_size), weights=weights)


@pytest.fixture()
def tiny_colorizer(hub_cache) -> ModelSpec:
    weights = add_file(hub_cache, "tiny/colorizer", CODEFORMER_COLORIZATION.weights.filename,
                       checkpoint_bytes(tiny_state_dict(1024), wrap="params_ema"))
    return tiny_spec(CODEFORMER_COLORIZATION, weights, 1024)


@pytest.fixture()
def tiny_inpainter(hub_cache, tmp_path, monkeypatch) -> ModelSpec:
    # Bring your own: the file sits in $RESTORERS_WEIGHTS_DIR under the registry's file name.
    folder = tmp_path / "own-weights"
    folder.mkdir()
    (folder / CODEFORMER_INPAINTING.weights.basename).write_bytes(checkpoint_bytes(tiny_state_dict(512)))
    monkeypatch.setenv(hub.WEIGHTS_DIR_ENV, str(folder))
    return tiny_spec(CODEFORMER_INPAINTING, CODEFORMER_INPAINTING.weights, 512)


@pytest.fixture(scope="module")
def aligned_face() -> np.ndarray:
    return images.load_image(require_shared("faces", "gfpgan-cropped", "Adele_crop.png")).rgb


def test_real_configs_have_fusion_only_at_32_64_128() -> None:
    for spec, codes in ((CODEFORMER_COLORIZATION, 1024), (CODEFORMER_INPAINTING, 512)):
        with torch.device("meta"):
            sd = CodeFormer(**spec.config).state_dict()
        fused = sorted({k.split(".")[1] for k in sd if k.startswith("fuse_convs_dict.")}, key=int)
        assert fused == CONNECT3
        assert tuple(sd["quantize.embedding.weight"].shape) == (codes, 256)
        assert tuple(sd["idx_pred_layer.1.weight"].shape) == (codes, 512)
        # The official channel map: 32 px -> 256, 128 px -> 128.
        assert tuple(sd["fuse_convs_dict.32.scale.2.weight"].shape) == (256, 256, 3, 3)
        assert tuple(sd["fuse_convs_dict.128.scale.2.weight"].shape) == (128, 128, 3, 3)


def test_three_connection_layout_loads_strictly_and_runs() -> None:
    sd = tiny_state_dict(1024)
    assert not any(k.startswith("fuse_convs_dict.256.") for k in sd)
    net = CodeFormer(codebook_size=1024, **TINY).eval()
    net.load_state_dict(sd, strict=True)
    with torch.no_grad():
        x = torch.rand(1, 3, 512, 512) * 2 - 1
        out0 = net(x, w=0.0, adain=True)[0]
        out1 = net(x, w=1.0, adain=False)[0]
    assert out0.shape == (1, 3, 512, 512) and torch.isfinite(out0).all()
    assert not torch.equal(out0, out1)
    # A four-connection state_dict (the restoration model's layout) does not load into it.
    four = CodeFormer(codebook_size=1024, **{**TINY, "connect_list": ["32", "64", "128", "256"]}).state_dict()
    with pytest.raises(RuntimeError, match="fuse_convs_dict.256"):
        net.load_state_dict(four, strict=True)


def test_registry_pins_and_licences() -> None:
    color = get_spec("codeformer-colorization")
    assert (color.weights.repo_id, color.weights.filename, color.weights.size) == \
        ("rippertnt/upscale", "codeformer_colorization.pth", 372_359_475)
    assert color.weights.sha256 == "4f041f194fe17cc128d7c76526fe45689079ce5f5811e1441ccfd3d5aec4693d"
    assert color.config["codebook_size"] == 1024 and color.config["connect_list"] == CONNECT3
    inpaint = get_spec("codeformer-inpainting")
    assert inpaint.config["codebook_size"] == 512 and inpaint.config["connect_list"] == CONNECT3
    assert inpaint.weights.local_only.endswith("/v0.1.0/codeformer_inpainting.pth")
    for spec in (color, inpaint):
        assert spec.licence == get_spec("codeformer").licence and "non-commercial" in spec.licence
        assert not spec.fidelity


def test_missing_inpainting_file_says_where_it_is_published(hub_cache) -> None:
    status = restorers.weights_check("codeformer-inpainting")
    assert status.state == "missing" and "RESTORERS_WEIGHTS_DIR" in status.reason
    with pytest.raises(restorers.WeightsNotFoundError) as caught:
        restorers.restore(np.full((64, 64, 3), 255, np.uint8), "codeformer-inpainting", device="cpu", mode="aligned")
    message = str(caught.value)
    assert "codeformer_inpainting.pth" in message and "github.com/sczhou/CodeFormer/releases" in message
    assert "RESTORERS_WEIGHTS_DIR" in message


def test_missing_colorizer_names_its_file(hub_cache) -> None:
    with pytest.raises(restorers.WeightsNotFoundError, match="rippertnt/upscale/codeformer_colorization.pth"):
        restorers.restore(np.zeros((64, 64, 3), np.uint8), "codeformer-colorization", device="cpu", mode="aligned")


def test_colorize_aligned_gray_face(tiny_colorizer, aligned_face, tmp_path) -> None:
    gray = Image.fromarray(aligned_face).convert("L")
    path = tmp_path / "gray.png"
    gray.save(path)
    result = restorers.restore(path, tiny_colorizer, device="cpu", precision="fp32", mode="aligned")
    assert result.image.shape == (512, 512, 3) and result.colorized and not result.grayscale
    assert any("only the faces are coloured" in w or "colours faces only" in w for w in result.warnings)
    # The network sees the face in grey: a colour input and its grey version give the same output.
    from_colour = restorers.restore(aligned_face, tiny_colorizer, device="cpu", precision="fp32", mode="aligned")
    luma_in = np.asarray(gray)
    assert np.abs(from_colour.image.astype(int) - result.image.astype(int)).max() <= 2 or \
        np.array_equal(np.asarray(Image.fromarray(aligned_face).convert("L")), luma_in)
    # The bare network with w=0, adain=True on the grey crop gives the same image.
    net = restorers.load(tiny_colorizer, device="cpu", precision="fp32").network
    x = images.to_tensor(np.repeat(luma_in[None, :, :, None], 3, axis=3), (-1.0, 1.0))
    with torch.no_grad():
        expected = images.from_tensor(net(x, w=0.0, adain=True)[0], (-1.0, 1.0))[0]
    assert np.abs(expected.astype(int) - result.image.astype(int)).max() <= 1


def test_colorize_whole_photo_notes_that_only_faces_are_coloured(tiny_colorizer) -> None:
    photo = images.load_image(require_shared("faces", "gfpgan-whole", "10045.png")).rgb
    photo = images.resize(photo, (photo.shape[1] // 2, photo.shape[0] // 2), "area")
    gray = np.repeat(np.asarray(Image.fromarray(photo).convert("L"))[:, :, None], 3, axis=2)
    result = restorers.restore(gray, tiny_colorizer, device="cpu", mode="whole", only_center_face=True,
                               background="none", mask="square")
    assert len(result.faces) == 1 and result.colorized
    assert any("only the faces are coloured" in w and "stays grey" in w for w in result.warnings)
    assert result.image.shape == gray.shape


def _mask(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    top, left, bottom, right = box
    mask[top:bottom, left:right] = True
    return mask


def test_inpaint_aligned_keeps_every_pixel_outside_the_mask(tiny_inpainter, aligned_face, tmp_path) -> None:
    mask = _mask(aligned_face.shape[:2], (200, 150, 300, 360))
    result = restorers.restore(aligned_face, tiny_inpainter, device="cpu", precision="fp32", mode="aligned",
                               inpaint_mask=mask)
    assert result.image.shape == aligned_face.shape
    assert np.array_equal(result.image[~mask], aligned_face[~mask])
    assert not np.array_equal(result.image[mask], aligned_face[mask])
    # Inside: the bare network (w=1, no AdaIN) on the face painted white there.
    net = restorers.load(tiny_inpainter, device="cpu", precision="fp32").network  # the same (channels_last) network
    painted = aligned_face.copy()
    painted[mask] = 255
    with torch.no_grad():
        expected = images.from_tensor(net(images.to_tensor(painted[None], (-1.0, 1.0)), w=1.0, adain=False)[0],
                                      (-1.0, 1.0))[0]
    assert np.abs(expected[mask].astype(int) - result.image[mask].astype(int)).max() <= 1
    # The same mask as a PNG file (white = damaged), as the CLI takes it.
    path = tmp_path / "mask.png"
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    from_file = restorers.restore(aligned_face, tiny_inpainter, device="cpu", precision="fp32", mode="aligned",
                                  inpaint_mask=str(path))
    assert np.array_equal(from_file.image, result.image)


def test_inpaint_without_mask_uses_the_white_pixels(tiny_inpainter, aligned_face) -> None:
    mask = _mask(aligned_face.shape[:2], (250, 100, 290, 400))
    painted = aligned_face.copy()
    painted[mask] = 255
    result = restorers.restore(painted, tiny_inpainter, device="cpu", precision="fp32", mode="aligned")
    white = np.all(painted == 255, axis=2)  # the painted box, and any pure white highlight of the photo
    assert white[mask].all() and white.sum() < mask.sum() + 2000
    assert np.array_equal(result.image[~white], painted[~white])
    assert not np.array_equal(result.image[mask], painted[mask])


def test_inpaint_whole_photo_warps_the_mask_into_the_face(tiny_inpainter) -> None:
    photo = images.load_image(require_shared("faces", "gfpgan-whole", "10045.png")).rgb
    photo = images.resize(photo, (photo.shape[1] // 2, photo.shape[0] // 2), "area")
    from restorers.pipelines import face

    height, width = photo.shape[:2]
    centre = face.center_face(face.default_detector().detect(photo), height, width)
    assert centre is not None
    cx, cy = (int(v) for v in centre.landmarks[2])  # the nose
    mask = _mask(photo.shape[:2], (cy - 10, cx - 20, cy + 10, cx + 20))
    result = restorers.restore(photo, tiny_inpainter, device="cpu", precision="fp32", mode="whole",
                               mask="square", only_center_face=True, inpaint_mask=mask)
    assert result.image.shape == photo.shape and len(result.faces) == 1
    assert np.array_equal(result.image[~mask], photo[~mask])
    assert not np.array_equal(result.image[mask], photo[mask])


def test_inpaint_mask_errors(tiny_inpainter, aligned_face) -> None:
    with pytest.raises(ParameterError, match="nothing to inpaint"):
        restorers.restore(aligned_face, tiny_inpainter, device="cpu", mode="aligned",
                          inpaint_mask=np.zeros(aligned_face.shape[:2], bool))
    with pytest.raises(ParameterError, match="the inpaint mask is 10x10 but the image is 512x512"):
        restorers.restore(aligned_face, tiny_inpainter, device="cpu", mode="aligned",
                          inpaint_mask=np.ones((10, 10), bool))
    with pytest.raises(ParameterError, match="inpaint_mask is for an inpainting model"):
        restorers.restore(aligned_face, "lanczos", inpaint_mask=np.ones(aligned_face.shape[:2], bool))
    with pytest.raises(ParameterError, match="inpaint mask"):
        restorers.restore(aligned_face, tiny_inpainter, device="cpu", mode="aligned", inpaint_mask=3.5)


# --- Your own checkpoint: the variant is recognised from its tensors -------------------------------------------


@pytest.mark.parametrize("codes, connect, task", [
    (512, CONNECT3, "inpaint"), (1024, CONNECT3, "colorize"), (1024, ["32", "64", "128", "256"], "restore"),
])
def test_detect_arch_tells_the_variants_apart_at_the_real_configs(codes, connect, task) -> None:
    from restorers.models.detect_arch import codeformer_task, detect

    with torch.device("meta"):
        sd = CodeFormer(codebook_size=codes, connect_list=connect).state_dict()
    arch, config, _ = detect(sd)
    assert arch == "codeformer"
    assert config == {"dim_embd": 512, "n_head": 8, "n_layers": 9, "codebook_size": codes, "connect_list": connect}
    assert codeformer_task(config) == task


def test_own_inpainting_checkpoint_runs_as_inpainting(tmp_path, aligned_face) -> None:
    from restorers.models.checkpoint import checkpoint_spec

    path = tmp_path / "my_inpainter.pth"
    path.write_bytes(checkpoint_bytes(tiny_state_dict(512, OWN)))
    spec = checkpoint_spec(path)
    assert spec.face_task == "inpaint" and not spec.fidelity and "inpainting" in spec.title
    mask = _mask(aligned_face.shape[:2], (220, 180, 280, 330))
    result = restorers.load_checkpoint(path, device="cpu", precision="fp32").restore(
        aligned_face, mode="aligned", inpaint_mask=mask)
    assert np.array_equal(result.image[~mask], aligned_face[~mask])
    assert not np.array_equal(result.image[mask], aligned_face[mask])


def test_own_colorization_checkpoint_runs_as_colourisation(tmp_path) -> None:
    from restorers.models.checkpoint import checkpoint_spec

    path = tmp_path / "my_colorizer.pth"
    path.write_bytes(checkpoint_bytes(tiny_state_dict(1024, OWN)))
    spec = checkpoint_spec(path)
    assert spec.face_task == "colorize" and not spec.fidelity and "colourisation" in spec.title


# --- Command line ----------------------------------------------------------------------------------------------


def test_cli_inpaint_mask(tiny_inpainter, aligned_face, tmp_path, monkeypatch, capsys) -> None:
    from restorers.cli.commands import main
    from restorers.models import registry

    # The CLI names registry models: put the tiny spec in the registry's place for this test.
    monkeypatch.setattr(registry, "MODELS", tuple(tiny_inpainter if s.name == "codeformer-inpainting" else s
                                                  for s in registry.MODELS))
    face_path, mask_path = tmp_path / "face.png", tmp_path / "mask.png"
    Image.fromarray(aligned_face).save(face_path)
    mask = _mask(aligned_face.shape[:2], (200, 150, 300, 360))
    Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
    out = tmp_path / "out"
    assert main(["restore", str(face_path), "--model", "tiny-codeformer-inpainting", "--mode", "aligned",
                 "--inpaint-mask", str(mask_path), "--device", "cpu", "--precision", "fp32", "--out", str(out)]) == 0
    written = np.asarray(Image.open(next(out.glob("*.png"))).convert("RGB"))
    assert np.array_equal(written[~mask], aligned_face[~mask])
    assert not np.array_equal(written[mask], aligned_face[mask])
    # A mask for a model that does not inpaint is refused up front.
    assert main(["restore", str(face_path), "--model", "lanczos", "--inpaint-mask", str(mask_path),
                 "--out", str(out)]) == 2
    assert "--inpaint-mask is for an inpainting model" in capsys.readouterr().err


def test_cli_missing_inpainting_file_says_where_to_get_it(hub_cache, tmp_path, capsys) -> None:
    from restorers.cli.commands import main

    face_path = tmp_path / "face.png"
    Image.fromarray(np.full((64, 64, 3), 255, np.uint8)).save(face_path)
    assert main(["restore", str(face_path), "--model", "codeformer-inpainting", "--mode", "aligned",
                 "--device", "cpu", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "codeformer_inpainting.pth" in err and "github.com/sczhou/CodeFormer/releases" in err
