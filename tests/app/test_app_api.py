"""The app's named API endpoints, called as a user would with gradio_client."""
from __future__ import annotations

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from conftest import require_shared

FACE_DEFAULTS = ["whole", "lanczos", False, 0, 0.97, 1.0]


def test_app_exposes_demo_with_named_endpoints(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert "/restore" in api["named_endpoints"]


def test_restore_endpoint_returns_images_and_timings(client):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    gallery, slider, compare, timings, faces, status, files = client.predict(
        handle_file(str(photo)), ["bicubic", "lanczos"], 1.5, *FACE_DEFAULTS, api_name="/restore"
    )
    assert len(gallery) == 2
    for item in gallery:
        with Image.open(item["image"]) as img:
            assert img.size == (768, 768)
    assert "768x768" in gallery[0]["caption"] and " s" in gallery[0]["caption"]
    assert [row[0] for row in timings["data"]] == ["Bicubic (baseline)", "Lanczos (baseline)"]
    assert len(slider) == 2 and len(files) == 2


def test_missing_weights_model_reports_and_others_still_run(client):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    gallery, *_, status, files = client.predict(
        handle_file(str(photo)), ["lanczos", "realesrgan-x4plus"], 1.0, *FACE_DEFAULTS, api_name="/restore"
    )
    assert len(gallery) == 1
    assert "RealESRGAN_x4plus.pth" in status and "RESTORERS_WEIGHTS_DIR" in status


def test_only_missing_weights_is_an_error(client):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    with pytest.raises(AppError, match="LykosAI/Upscalers"):
        client.predict(handle_file(str(photo)), ["realesrgan-x4plus"], 1.0, *FACE_DEFAULTS, api_name="/restore")


def test_bad_inputs_come_back_as_errors(client, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(AppError, match="(?i)invalid file type|not a readable image"):
        client.predict(handle_file(str(text)), ["bicubic"], 1.0, *FACE_DEFAULTS, api_name="/restore")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(AppError, match="not a readable image"):
        client.predict(handle_file(str(broken)), ["bicubic"], 1.0, *FACE_DEFAULTS, api_name="/restore")
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    with pytest.raises(AppError, match="at least one model"):
        client.predict(handle_file(str(photo)), [], 1.0, *FACE_DEFAULTS, api_name="/restore")


def test_degrade_preview_endpoint(client):
    photo = require_shared("faces", "ffhq-gt", "00000.png")
    clean, degraded = client.predict([handle_file(str(photo))], "stackblur:6", 0, api_name="/degrade")
    with Image.open(clean) as a, Image.open(degraded) as b:
        assert a.size == b.size == (1024, 1024)


def test_evaluate_endpoint_returns_table_chart_and_csv(client, tmp_path):
    paths = []
    for name in ["00000.png", "00001.png"]:
        with Image.open(require_shared("faces", "ffhq-gt", name)) as img:
            small = tmp_path / name
            img.resize((128, 128)).save(small)
            paths.append(handle_file(str(small)))
    table, chart, per_image, gallery, csv_path, note = client.predict(
        paths, "downscale:2", 0, ["bicubic", "lanczos"], ["psnr", "ssim", "uqi"], "aligned", api_name="/evaluate"
    )
    assert table["headers"] == ["metric", "degraded", "bicubic", "lanczos"]
    assert [row[0] for row in table["data"]] == ["PSNR (dB)", "SSIM (11x11 uniform, sewar)", "UQI (Wang & Bovik)"]
    assert "±" in table["data"][0][1]
    assert len(per_image["data"]) == 6 and len(gallery) == 6
    with Image.open(chart) as img:  # the per-metric score chart (webui/charts.py)
        assert img.width >= 600
    with open(csv_path) as handle:
        assert handle.readline().startswith("image,column,metric,value")


def test_loop_endpoint_returns_gif_mp4_and_series(client):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    gif, video, strip, chart, table, download = client.predict(
        handle_file(str(photo)), "lanczos", 3, 1.1, None, 2, api_name="/loop"
    )
    with Image.open(gif) as img:
        assert img.n_frames == 4
    assert (video if isinstance(video, str) else video["video"]).endswith(".mp4")
    assert len(table["data"]) == 4


def test_interpolate_endpoint_with_an_uploaded_pickle(client):
    pickle = require_shared("golden", "stylegan2_ada", "case_ada_small.pkl")
    video, gif, download, sheet, keyframes = client.predict(
        None, handle_file(str(pickle)), "1,2,3", 4, "w-cubic", 0.7, True, 12, 128, api_name="/interpolate"
    )
    with Image.open(gif) as img:
        assert img.n_frames == 15 and img.size == (128, 128)
        assert img.info["duration"] in (80, 90)  # 12 fps in 10 ms GIF ticks
    assert len(keyframes) == 3
    assert (video if isinstance(video, str) else video["video"]).endswith(".mp4")


def test_interpolate_missing_weights_and_bad_seeds_are_errors(client):
    with pytest.raises(AppError, match="ZeqiangLai/StyleGAN2-pkl"):
        client.predict("stylegan2-ada-ffhq", None, "1,2", 2, "w-cubic", 0.7, True, 12, 128, api_name="/interpolate")
    pickle = require_shared("golden", "stylegan2_ada", "case_ada_small.pkl")
    with pytest.raises(AppError, match="seeds must be integers"):
        client.predict(None, handle_file(str(pickle)), "1,two", 2, "w-cubic", 0.7, True, 12, 128, api_name="/interpolate")


def test_every_named_endpoint_is_documented(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert {"/restore", "/degrade", "/evaluate", "/loop", "/interpolate"} <= set(api["named_endpoints"])


def test_evaluate_accepts_a_zip_of_images(client, tmp_path):
    import zipfile

    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name in ["00002.png", "00003.png"]:
            with Image.open(require_shared("faces", "ffhq-gt", name)) as img:
                img.resize((96, 96)).save(tmp_path / name)
            bundle.write(tmp_path / name, f"set/{name}")
        bundle.writestr("set/readme.txt", "not an image")
    table, chart, per_image, gallery, csv_path, note = client.predict(
        [handle_file(str(archive))], "jpeg:30", 0, ["bicubic"], ["psnr"], "aligned", api_name="/evaluate"
    )
    assert {row[0] for row in per_image["data"]} == {"00002.png", "00003.png"}
    assert "2 image(s)" in note


def test_restore_slider_shows_the_input_nearest_neighbour_enlarged(client):
    """The default comparison must show a difference: the input's own pixels, enlarged, against the result."""
    import numpy as np

    from pathlib import Path

    photo = Path(__file__).resolve().parents[2] / "examples" / "astronaut_face_low.png"
    gallery, slider, *_ = client.predict(handle_file(str(photo)), ["lanczos"], 4.0, *FACE_DEFAULTS, api_name="/restore")
    before, after = (np.asarray(Image.open(p if isinstance(p, str) else p["path"]).convert("RGB"), dtype=np.int16)
                     for p in slider)
    with Image.open(photo) as img:
        expected = np.asarray(img.convert("RGB").resize((before.shape[1], before.shape[0]), Image.NEAREST))
    assert np.array_equal(before, expected)
    # Visibly different, not the same picture twice (the old default compared Lanczos with Lanczos).
    assert (np.abs(before - after).max(axis=2) > 4).mean() > 0.3


def test_restore_status_says_it_once_in_words_with_details(client):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    gallery, *_, status, files = client.predict(
        handle_file(str(photo)), ["lanczos", "realesrgan-x4plus"], 1.0, *FACE_DEFAULTS, api_name="/restore"
    )
    assert "1 of 2 models ran" in status and "<details>" in status
    assert status.count("are not cached") == 1 and "**" not in status


def test_non_image_upload_error_names_the_file_without_paths_or_reprs(client, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image")
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(fake)), ["bicubic"], 1.0, *FACE_DEFAULTS, api_name="/restore")
    message = str(info.value)
    assert "notes.png" in message and "not a readable image" in message
    assert str(tmp_path) not in message and "/tmp" not in message and "object at 0x" not in message


def test_output_limit_is_applied_and_noted(client, monkeypatch):
    monkeypatch.setenv("RESTORERS_MAX_OUTPUT_PIXELS", str(300 * 300))
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    gallery, *_, status, files = client.predict(handle_file(str(photo)), ["lanczos"], 4.0, *FACE_DEFAULTS,
                                                api_name="/restore")
    with Image.open(gallery[0]["image"]) as img:
        assert img.size[0] * img.size[1] <= 300 * 300 and img.size[0] >= 290
    assert "output scale lowered from x4" in status and "RESTORERS_MAX_OUTPUT_PIXELS" in status


def test_evaluate_reports_a_failed_model_once_in_the_note(client, tmp_path):
    with Image.open(require_shared("faces", "ffhq-gt", "00000.png")) as img:
        img.resize((64, 64)).save(tmp_path / "a.png")
    table, chart, per_image, gallery, csv_path, note = client.predict(
        [handle_file(str(tmp_path / "a.png"))], "downscale:4", 0, ["lanczos", "realesrgan-x4plus"], ["psnr"],
        "aligned", api_name="/evaluate")
    assert table["headers"] == ["metric", "degraded", "lanczos"]
    assert "1 model(s) could not run" in note and "<details>" in note and note.count("RealESRGAN_x4plus.pth") >= 1
    assert "**" not in note
