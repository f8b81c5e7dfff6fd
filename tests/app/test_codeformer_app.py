"""CodeFormer's fidelity weight through the CLI, gradio_client and the browser, with a tiny CodeFormer standing
in for the registry's 'codeformer' (its checkpoint in a temporary hub cache, loaded through the real hub path)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from conftest import require_shared
from hubcache import add_file, checkpoint_bytes
from restorers.cli import commands as cli
from restorers.media import images
from restorers.models import networks, registry
from test_browser import browser, load_photo, page, wait_for_results  # noqa: F401 - the shared browser fixtures
from test_restore_codeformer import TINY, tiny_state_dict

# /restore arguments after (image, models, outscale): mode, background, only_center_face, min_face, threshold, blend.
ALIGNED = ["aligned", "lanczos", False, 0, 0.9, 1.0]


@pytest.fixture()
def tiny_registry(hub_cache, monkeypatch):
    """The registry with 'codeformer' pointing at a tiny checkpoint (same name, so every list and picker has it)."""
    weights = add_file(hub_cache, "tiny/codeformer", registry.CODEFORMER.weights.filename,
                       checkpoint_bytes(tiny_state_dict(), wrap="params_ema"))
    tiny = dataclasses.replace(registry.CODEFORMER, config=TINY, weights=weights)
    monkeypatch.setattr(registry, "MODELS", tuple(tiny if s.name == "codeformer" else s for s in registry.MODELS))
    networks.clear_cache()
    yield tiny
    networks.clear_cache()  # never leave the tiny network cached under the real name


@pytest.fixture(scope="module")
def face_path():
    return require_shared("faces", "gfpgan-cropped", "Adele_crop.png")


def test_cli_restore_sweep_writes_one_file_per_weight(tiny_registry, face_path, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["restore", str(face_path), "-m", "codeformer", "--mode", "aligned", "--fidelity", "0", "1",
                     "-o", str(out)])
    assert code == 0
    w0, w1 = (images.load_image(out / f"Adele_crop_codeformer_w{w}.png").rgb for w in ("0", "1"))
    assert w0.shape == w1.shape == (512, 512, 3) and not np.array_equal(w0, w1)
    assert cli.main(["restore", str(face_path), "-m", "codeformer", "--mode", "aligned", "-w", "0.7",
                     "-o", str(out)]) == 0
    assert (out / "Adele_crop_codeformer.png").exists()  # one weight: the usual name


def test_cli_fidelity_outside_0_1_is_a_clear_error(face_path, tmp_path, capsys):
    code = cli.main(["restore", str(face_path), "-m", "lanczos", "--fidelity", "1.5", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--fidelity: fidelity must be between 0 and 1" in err and "Traceback" not in err


def test_cli_evaluate_gives_one_column_per_weight(tiny_registry, tmp_path, capsys):
    with Image.open(require_shared("faces", "ffhq-gt", "00000.png")) as img:
        img.resize((128, 128)).save(tmp_path / "gt.png")
    code = cli.main(["evaluate", str(tmp_path / "gt.png"), "--degrade", "downscale:2", "--models", "bicubic",
                     "codeformer", "--metrics", "psnr", "--fidelity", "0", "0.5"])
    out = capsys.readouterr().out
    assert code == 0 and "codeformer (w=0)" in out and "codeformer (w=0.5)" in out


def test_restore_endpoint_fidelity_sweep_and_old_clients(tiny_registry, client, face_path):
    gallery, _slider, _compare, timings, *_rest = client.predict(
        handle_file(str(face_path)), ["codeformer"], 1.0, *ALIGNED, "0, 1", api_name="/restore")
    assert [item["caption"].split(" · ")[0] for item in gallery] == ["CodeFormer (w=0)", "CodeFormer (w=1)"]
    assert [row[0] for row in timings["data"]] == ["CodeFormer (w=0)", "CodeFormer (w=1)"]
    # A client that predates the argument (no fidelity) still works: one result at the default 0.5.
    gallery, *_ = client.predict(handle_file(str(face_path)), ["codeformer"], 1.0, *ALIGNED, api_name="/restore")
    assert len(gallery) == 1 and gallery[0]["caption"].startswith("CodeFormer · 512x512")
    with pytest.raises(AppError, match="fidelity must be between 0 and 1"):
        client.predict(handle_file(str(face_path)), ["codeformer"], 1.0, *ALIGNED, "0.5, 2", api_name="/restore")


def test_evaluate_endpoint_one_column_per_weight(tiny_registry, client, tmp_path):
    with Image.open(require_shared("faces", "ffhq-gt", "00000.png")) as img:
        img.resize((128, 128)).save(tmp_path / "gt.png")
    table, *_ = client.predict([handle_file(str(tmp_path / "gt.png"))], "downscale:2", 0, ["codeformer"], ["psnr"],
                               "aligned", "0, 1", api_name="/evaluate")
    assert table["headers"] == ["metric", "degraded", "codeformer (w=0)", "codeformer (w=1)"]


@pytest.mark.browser
def test_browser_restore_sweep_of_two_weights(tiny_registry, page, face_path):
    # tiny_registry comes first: it is in place before the page is opened.
    assert not page.locator("#restore-fidelity").is_visible()  # hidden until CodeFormer is ticked
    load_photo(page, face_path, ["CodeFormer"])
    page.get_by_text("Face options", exact=False).first.click()
    page.get_by_label("Aligned face crop").check()
    page.locator("#restore-fidelity textarea").fill("0, 1")
    page.click("#restore-run")
    wait_for_results(page, 2)
    text = page.inner_text("#restore-gallery")
    assert "CodeFormer (w=0)" in text and "CodeFormer (w=1)" in text
    assert "CodeFormer (w=1)" in page.inner_text("#restore-timings")
