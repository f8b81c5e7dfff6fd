"""The paste-back mask choice: the inverse warp of a face's own mask, the default and its note, the pinned
ParseNet file beside the detector, and 'parse' vs 'square' end to end with tiny networks (offline)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

import restorers
from hubcache import add_file, checkpoint_bytes
from restorers.models import hub, registry
from restorers.models.archs.parsenet import ParseNet
from restorers.pipelines import face, face_mask
from restorers.pipelines.restorer import check_restore_options


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([[scale * math.cos(a), -scale * math.sin(a), tx], [scale * math.sin(a), scale * math.cos(a), ty]])


def _textured(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([(xx * 7 + yy * 3) % 256, (xx * 2 + yy * 5) % 256, (xx * yy) % 256], -1).astype(np.uint8)


def test_a_faces_own_mask_is_warped_back_with_the_inverse_affine():
    """A red 64 px crop whose mask keeps only its left half: photo pixels that map to the left half turn
    red, those that map to the right half keep the photo, wherever the rotated, scaled face lands."""
    size = 64
    crop_to_photo = _similarity(25, 1.7, 60, 40)  # a tilted face, 1.7x the crop size
    landmarks = face.face_template(size) @ crop_to_photo[:, :2].T + crop_to_photo[:, 2]
    photo = _textured(200, 240)
    aligned = face.align_face(photo, landmarks, size)
    red = np.zeros((size, size, 3), np.uint8)
    red[..., 0] = 255
    mask = np.zeros((size, size), np.float32)
    mask[:, :32] = 1
    out = face.paste_faces(photo, [(red, aligned.affine)], 1.0, masks=[mask])
    for (cx, cy), restored in [((16, 20), True), ((16, 44), True), ((48, 20), False), ((48, 44), False)]:
        px, py = crop_to_photo @ np.array([cx, cy, 1.0])
        x, y = round(px), round(py)
        if restored:
            assert out[y, x, 0] >= 250 and out[y, x, 1:].max() <= 5, (cx, cy)
        else:
            assert np.abs(out[y, x].astype(int) - photo[y, x].astype(int)).max() <= 1, (cx, cy)
    # None (the square mask) for a face is the same as no masks at all; a mask of the wrong size is refused.
    plain = face.paste_faces(photo, [(red, aligned.affine)], 1.0)
    assert np.array_equal(plain, face.paste_faces(photo, [(red, aligned.affine)], 1.0, masks=[None]))
    with pytest.raises(ValueError, match="64x64"):
        face.paste_faces(photo, [(red, aligned.affine)], 1.0, masks=[np.ones((32, 32), np.float32)])
    with pytest.raises(ValueError, match="1 faces"):
        face.paste_faces(photo, [(red, aligned.affine)], 1.0, masks=[])


def test_the_mask_option_is_checked():
    assert check_restore_options({"mask": "parse"})["mask"] == "parse"
    assert check_restore_options({"mask": None})["mask"] is None
    with pytest.raises(ValueError, match="mask"):
        check_restore_options({"mask": "oval"})
    with pytest.raises(ValueError, match="mask"):
        face_mask.resolve_mask("oval")
    assert face_mask.resolve_mask("square") == ("square", None)


def test_parsenet_is_pinned_beside_the_detector():
    spec = registry.get_spec("parsenet")
    assert spec is registry.PARSENET and spec.family == "parser" and spec.licence == "MIT"
    assert spec.weights.repo_id == registry.RETINAFACE.weights.repo_id == "fofr/comfyui"
    assert spec.weights.filename == "facedetection/parsing_parsenet.pth"
    assert spec.weights.size == 85_331_193
    assert spec.weights.sha256 == "3d558d8d0e42c20224f13cf5a29c79eba2d59913419f945545d8cf7b72920de2"
    assert spec.config == {"in_size": 512, "out_size": 512, "parsing_ch": 19} and spec.state_keys == ()
    assert registry.MASK_CHOICES == ("parse", "square")


def test_without_the_parsenet_file_the_default_is_square_with_a_note(hub_cache):
    mask, note = face_mask.resolve_mask(None)
    assert mask == "square" and not face_mask.parser_ready()
    assert "parsing_parsenet.pth" in note and "RESTORERS_WEIGHTS_DIR" in note and "fofr/comfyui" in note
    assert "not here" in note
    # Asking for 'parse' explicitly gives the usual missing-weights error, naming the file.
    with pytest.raises(hub.WeightsNotFoundError, match="parsing_parsenet.pth"):
        face_mask.load_parser("cpu")


@pytest.fixture()
def comfy_cache(hub_cache):
    """The temporary hub cache with a writable fofr/comfyui repo holding the real detector (copied)."""
    detector = hub.cached_path(registry.RETINAFACE.weights)
    if detector is None:
        pytest.skip("the real detector is not in ../shared")
    data = detector.read_bytes()
    (hub_cache / "models--fofr--comfyui").unlink()  # the fixture's read-only link to ../shared
    add_file(hub_cache, "fofr/comfyui", registry.RETINAFACE.weights.filename, data)
    return hub_cache


def test_a_wrong_file_at_the_pinned_path_is_refused_and_the_default_falls_back(comfy_cache):
    torch.manual_seed(0)
    tiny = ParseNet(in_size=32, out_size=32, min_feat_size=16, res_depth=1)
    add_file(comfy_cache, "fofr/comfyui", registry.PARSENET.weights.filename, checkpoint_bytes(tiny.state_dict(), None))
    assert hub.check(registry.RETINAFACE.weights).state == "cached"  # the detector beside it still loads
    assert hub.check(registry.PARSENET.weights).state == "cached-bad"
    mask, note = face_mask.resolve_mask(None)
    assert mask == "square" and "cannot be used" in note and "85331193" in note
    with pytest.raises(hub.WeightsCorruptError, match="parsing_parsenet.pth"):
        face_mask.load_parser("cpu")


@pytest.fixture()
def tiny_parser(comfy_cache, monkeypatch) -> registry.ModelSpec:
    """A random 64 px ParseNet in the real repo and path, pinned by its own hash, as the registry's parser."""
    torch.manual_seed(0)
    config = dict(in_size=64, out_size=64, parsing_ch=19, min_feat_size=16, res_depth=1)
    net = ParseNet(**config)
    # Make "skin" win in the middle of the face and "hair" elsewhere, whatever the input: a bias per class.
    with torch.no_grad():
        net.out_mask_conv.conv2d.weight.zero_()
        net.out_mask_conv.conv2d.bias.zero_()
        net.out_mask_conv.conv2d.bias[17] = 1.0
    weights = add_file(comfy_cache, "fofr/comfyui", registry.PARSENET.weights.filename,
                       checkpoint_bytes(net.state_dict(), None))
    spec = dataclasses.replace(registry.PARSENET, name="tiny-parsenet", config=config, weights=weights, input_size=64)
    monkeypatch.setattr(registry, "PARSENET", spec)
    return spec


def test_a_verified_parser_file_makes_parse_the_default(tiny_parser):
    assert face_mask.parser_ready() and face_mask.resolve_mask(None) == ("parse", None)
    parser = face_mask.load_parser("cpu")
    crops = np.full((1, 128, 128, 3), 128, np.uint8)
    labels = parser.labels(crops)
    assert labels.shape == (1, 64, 64) and set(labels.unique().tolist()) == {17}  # all hair
    assert parser.weights(crops).max() == 0  # hair everywhere: nothing of the restored face is pasted


@pytest.fixture()
def tiny_gpen(comfy_cache):
    from test_restore_faces import tiny_spec

    return tiny_spec(comfy_cache, "gpen/case_gpen_128.pt", registry.GPEN_BFR_512, 128, wrap=None)


@pytest.fixture(scope="module")
def small_photo() -> np.ndarray:
    from conftest import require_shared
    from restorers.media import images

    rgb = images.load_image(require_shared("faces", "gfpgan-whole", "10045.png")).rgb
    return images.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), "area")


def test_parse_and_square_end_to_end(tiny_parser, tiny_gpen, small_photo):
    """The tiny parser calls everything hair: with 'parse' the photo comes back untouched (every restored
    pixel is masked out), with 'square' the faces change; the default is 'parse' since the file verifies."""
    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    parse = restorer.restore(small_photo, background="none")
    square = restorer.restore(small_photo, background="none", mask="square")
    assert parse.mask == "parse" and square.mask == "square"
    assert len(parse.faces) >= 1 and len(parse.masks) == len(parse.faces) == len(square.masks)
    assert not any("square mask" in w for w in parse.warnings)
    assert max(m.max() for m in parse.masks) == 0
    assert np.array_equal(parse.image, small_photo)
    assert np.abs(square.image.astype(int) - small_photo.astype(int)).mean() > 0.5
    centre = square.masks[0][64, 64]
    assert square.masks[0].shape == (128, 128) and centre == pytest.approx(1.0, abs=1e-3)
    # The same through the one-call API.
    again = restorers.restore(small_photo, tiny_gpen, device="cpu", precision="fp32", background="none",
                              mask="parse")
    assert np.array_equal(again.image, parse.image)


def test_no_parser_file_whole_photo_falls_back_with_a_note(tiny_gpen, small_photo):
    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    result = restorer.restore(small_photo, background="none")
    assert result.mask == "square" and result.faces
    assert any("parsing_parsenet.pth" in w and "RESTORERS_WEIGHTS_DIR" in w for w in result.warnings)
    with pytest.raises(hub.WeightsNotFoundError, match="parsing_parsenet.pth"):
        restorer.restore(small_photo, background="none", mask="parse")
    # Aligned crops are not pasted anywhere: no mask, no note.
    aligned = restorer.restore(small_photo[:200, :200], mode="aligned")
    assert aligned.mask is None and not aligned.warnings


def test_cli_mask_option_reaches_the_paste_and_saves_the_mask(tiny_parser, tmp_path, small_photo, capsys):
    from conftest import require_shared
    from restorers.cli.commands import build_parser, main
    from restorers.media import images

    data = torch.load(require_shared("golden", "gpen", "case_gpen_128.pt"), weights_only=True)
    weights = tmp_path / "my_face_model.pth"
    torch.save(data["state_dict"], weights)
    photo = tmp_path / "photo.png"
    images.save_png(photo, small_photo)
    outputs = {}
    for mask in ("parse", "square"):
        out = tmp_path / mask
        code = main(["restore", str(photo), "--weights", str(weights), "--mask", mask, "--bg-upsampler", "none",
                     "--save-faces", "--out", str(out), "--device", "cpu", "--precision", "fp32"])
        assert code == 0, capsys.readouterr().err
        outputs[mask] = images.load_image(next(out.glob("photo_*.png"))).rgb
        saved_masks = sorted((out / "faces").glob("*_mask.png"))
        assert bool(saved_masks) == (mask == "parse")
    assert np.array_equal(outputs["parse"], small_photo)  # the tiny parser calls everything hair
    assert not np.array_equal(outputs["square"], small_photo)
    # The default background ("auto": general-x4v3 when it can run, else Lanczos) is accepted by the CLI.
    code = main(["restore", str(photo), "--weights", str(weights), "--mask", "square", "--out", str(tmp_path / "auto"),
                 "--device", "cpu", "--precision", "fp32"])
    assert code == 0, capsys.readouterr().err
    # The option is offered wherever faces are pasted back, and only with its two values.
    parser = build_parser()
    for command in (["restore", "x.png", "-m", "gpen-bfr-512"], ["video", "x.mp4", "-m", "gpen-bfr-512", "-o", "y.mp4"],
                    ["evaluate", "gt", "--degrade", "stackblur:4"]):
        assert parser.parse_args([*command, "--mask", "square"]).mask == "square"
        assert parser.parse_args(command).mask is None
    with pytest.raises(SystemExit):
        parser.parse_args(["restore", "x.png", "--mask", "oval"])


def test_video_decides_the_mask_once_per_clip(tiny_gpen, tmp_path):
    from test_video import EXAMPLE_CLIP

    from restorers.guards.validate import ParameterError
    from restorers.pipelines.video import restore_video

    restorer = restorers.load(tiny_gpen, device="cpu", precision="fp32")
    result = restore_video(EXAMPLE_CLIP, tmp_path / "default.mp4", restorer, scale=1, max_frames=2, audio=False)
    notes = [w for w in result.warnings if "parsing_parsenet.pth" in w]
    assert result.faces >= 2 and len(notes) == 1  # one note for the clip, not one per frame
    result = restore_video(EXAMPLE_CLIP, tmp_path / "square.mp4", restorer, scale=1, max_frames=1, audio=False,
                           mask="square")
    assert not [w for w in result.warnings if "parsing_parsenet.pth" in w]
    with pytest.raises(ParameterError, match="mask"):
        restore_video(EXAMPLE_CLIP, tmp_path / "bad.mp4", restorer, scale=1, max_frames=1, mask="oval")


def test_evaluate_checks_the_mask():
    from restorers.analysis.evaluate import evaluate

    gt = [("a.png", np.zeros((64, 64, 3), np.uint8))]
    with pytest.raises(ValueError, match="mask"):
        evaluate(gt, "downscale:2", ["bicubic"], mask="oval")
    assert evaluate(gt, "downscale:2", ["bicubic"], mask="square", face_mode="whole").columns
