"""End to end in a real browser: headless Debian Chromium driven by Playwright against the app on a
local port. Each test clicks through a tab as a user would."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import require_shared

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
TIMEOUT = 120_000


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def open_app(browser, app_url: str, viewport: dict):
    """A new page on the app at ``viewport``, loaded (the Restore button is there)."""
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(TIMEOUT)
    page.goto(app_url)
    page.wait_for_selector("#restore-run")
    return page


@pytest.fixture()
def page(browser, app_url):
    page = open_app(browser, app_url, {"width": 1400, "height": 1000})
    yield page
    page.close()


def open_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:  # a narrow screen moves the tabs that do not fit into the "More tabs" menu
        page.get_by_label("More tabs").click()
        page.locator(".overflow-dropdown button", has_text=name).click()


def set_models(page, container: str, wanted: list[str]) -> None:
    boxes = page.locator(f"{container} label")
    for i in range(boxes.count()):
        label = boxes.nth(i)
        checkbox = label.locator("input[type=checkbox]")
        # Labels carry the model's state after a dot ("Lanczos (baseline) · ready").
        should = label.inner_text().strip().split(" · ")[0] in wanted
        if checkbox.is_checked() != should:
            checkbox.click()


def load_photo(page, photo, models: list[str]) -> None:
    """Put ``photo`` in the Restore input and tick exactly ``models``."""
    page.set_input_files("#restore-input input[type=file]", str(photo))
    page.wait_for_selector("#restore-input img")
    set_models(page, "#restore-models", models)


def wait_for_results(page, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('#restore-gallery img').length >= {count}", timeout=TIMEOUT)


def test_restore_two_models_with_slider(page):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    load_photo(page, photo, ["Bicubic (baseline)", "Lanczos (baseline)"])
    page.click("#restore-run")
    wait_for_results(page, 2)
    text = page.inner_text("#restore-gallery")
    assert "Bicubic (baseline)" in text and "Lanczos (baseline)" in text and "1024x1024" in text
    assert page.locator("#restore-slider img").count() >= 1
    assert "Lanczos (baseline)" in page.inner_text("#restore-timings")


def test_missing_weights_model_shows_error_in_page(page):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    page.set_input_files("#restore-input input[type=file]", str(photo))
    set_models(page, "#restore-models", ["Real-ESRGAN x4plus"])
    page.click("#restore-run")
    page.get_by_text("RealESRGAN_x4plus.pth", exact=False).first.wait_for(timeout=TIMEOUT)


def test_non_image_upload_shows_error_in_page(page, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    page.set_input_files("#restore-input input[type=file]", str(text))
    message = page.get_by_text("not a readable image", exact=False).first
    message.wait_for(timeout=TIMEOUT)
    shown = message.inner_text()
    assert "notes.png" in shown and "/tmp" not in shown and str(tmp_path) not in shown and "object at 0x" not in shown


def test_degrade_and_measure_two_images(page, tmp_path):
    paths = []
    for name in ["00000.png", "00001.png"]:
        with Image.open(require_shared("faces", "ffhq-gt", name)) as img:
            img.resize((128, 128)).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    open_tab(page, "Degrade & Measure")
    page.set_input_files("#measure-input input[type=file]", paths)
    set_models(page, "#measure-models", ["Bicubic (baseline)", "Lanczos (baseline)"])
    page.click("#measure-run")
    page.locator("#measure-table").get_by_text("PSNR (dB)").first.wait_for(timeout=TIMEOUT)
    table = page.inner_text("#measure-table")
    assert "degraded" in table and "bicubic" in table and "PSNR (dB)" in table and "±" in table


def test_repeated_run_three_runs_gives_a_gif(page):
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    open_tab(page, "Repeated Run")
    page.set_input_files("#loop-input input[type=file]", str(photo))
    page.locator("#loop-runs input[type=number]").fill("3")
    page.locator("#loop-runs input[type=number]").press("Enter")
    page.click("#loop-run")
    page.wait_for_selector("#loop-gif img[src*='.gif']", timeout=TIMEOUT)


def test_models_tab_lists_every_model(page):
    open_tab(page, "Models")
    table = page.inner_text("#models-table")
    for title in ["Real-ESRGAN x4plus", "GPEN-BFR-512", "GFPGAN v1.4", "RetinaFace (MobileNet-0.25)"]:
        assert title in table
    assert "cached" in table and "MISSING" in table


def test_interpolate_with_uploaded_pickle_and_send_face_to_restore(page):
    pickle = require_shared("golden", "stylegan2_ada", "case_ada_small.pkl")
    open_tab(page, "Interpolate")
    page.set_input_files("#walk-pickle input[type=file]", str(pickle))
    page.locator("#walk-seeds textarea").fill("1,2")
    page.click("#walk-run")
    page.wait_for_selector("#walk-gif img[src*='.gif']", timeout=TIMEOUT)
    page.get_by_role("button", name="Send the first face to Restore").click()
    page.wait_for_selector("#restore-input img[src*='seed1']", timeout=TIMEOUT)


PHONE = {"width": 390, "height": 844}
TABS = ["Restore", "Degrade & Measure", "Repeated Run", "Video", "Interpolate", "Models"]


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_phone_layout_fits_every_tab_and_shows_restore_results(browser, app_url):
    """At 390 px nothing may push the page wider than the screen, and the results must be on screen."""
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(app_url)
        page.wait_for_selector("#restore-run")
        # The phone-only CSS applies (gradio rewrites rules inside @media: see assets/style.css): 6 px around
        # the page instead of gradio's 32 px, and the input column takes the full width.
        padding = page.evaluate("getComputedStyle(document.querySelector('.gradio-container > .app')).paddingLeft")
        column = page.locator("#restore-input").locator("xpath=ancestor::div[contains(@class, 'column')][1]")
        assert padding == "6px" and column.evaluate("c => getComputedStyle(c).flexBasis") == "100%"
        assert column.bounding_box()["width"] >= PHONE["width"] - 2 * 6 - 1
        # Every tab the app has (new ones included): gradio keeps all their names in a hidden list.
        names = page.locator(".tab-container.visually-hidden button").all_inner_texts() or TABS
        assert set(TABS) <= set(names)
        for tab in names:
            open_tab(page, tab)
            page.wait_for_timeout(300)
            assert page_width(page) <= PHONE["width"] + 4, f"{tab} is {page_width(page)} px wide on a phone"
        open_tab(page, "Restore")
        photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
        load_photo(page, photo, ["Lanczos (baseline)"])
        page.click("#restore-run")
        wait_for_results(page, 1)
        page.wait_for_timeout(1000)  # the page scrolls to the results by itself
        box = page.locator("#restore-gallery img").first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 4
        assert box["y"] < PHONE["height"] and box["y"] + box["height"] > 0, "results are not on screen"
        assert box["width"] > 100  # a visible picture, not a sliver
        assert page_width(page) <= PHONE["width"] + 4
    finally:
        page.close()


def test_failed_run_clears_old_results_and_says_why(page):
    """After a good run, a run where no model can work must not leave the old results and "all ran" up."""
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    load_photo(page, photo, ["Lanczos (baseline)"])
    page.click("#restore-run")
    wait_for_results(page, 1)
    assert "ran" in page.inner_text("#restore-status")
    set_models(page, "#restore-models", ["Real-ESRGAN x4plus"])
    page.click("#restore-run")
    page.locator("#restore-status .studio-error").wait_for(timeout=TIMEOUT)
    status = page.inner_text("#restore-status")
    assert "No model could run" in status and "RealESRGAN_x4plus.pth" in status and "**" not in status
    assert page.locator("#restore-gallery img").count() == 0
    assert page.locator("#restore-timings").get_by_text("Lanczos (baseline)").count() == 0


def test_video_tab_restores_the_example_clip_into_a_playable_video(page):
    clip = str(Path(__file__).resolve().parents[2] / "examples" / "portraits_pan.mp4")
    open_tab(page, "Video")
    page.set_input_files("#video-input input[type=file]", clip)
    page.locator("#video-model input").click()
    page.get_by_role("option", name="Lanczos (baseline)", exact=False).first.click()
    page.click("#video-run")
    playable = """() => { const v = document.querySelector('#video-output video');
                          return v !== null && v.readyState >= 1 && v.duration > 0; }"""
    page.wait_for_function(playable, timeout=TIMEOUT)
    duration = page.evaluate("document.querySelector('#video-output video').duration")
    assert 2.5 < duration < 3.5  # the example is 3 s long
    assert "36 frames" in page.inner_text("#video-status") and "sound copied" in page.inner_text("#video-status")


def test_restore_with_your_own_checkpoint_beside_a_builtin_model(page, tmp_path):
    import torch

    from restorers.models.archs.srvgg import SRVGGNetCompact

    torch.manual_seed(0)
    path = tmp_path / "tiny_x2.pth"  # a tiny SRVGG x2: recognised from its tensors, not its name
    torch.save({"params": SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict()}, path)
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    load_photo(page, photo, ["Lanczos (baseline)"])
    page.get_by_text("Your own checkpoint").click()
    page.set_input_files("#restore-checkpoint input[type=file]", str(path))
    page.wait_for_function("document.querySelector('#restore-checkpoint').innerText.includes('tiny_x2')")
    page.click("#restore-run")
    wait_for_results(page, 2)
    text = page.inner_text("#restore-gallery")
    assert "Lanczos (baseline)" in text and "tiny_x2 (SRVGGNetCompact x2, your checkpoint)" in text
    assert "1024x1024" in text
    assert "your checkpoint" in page.inner_text("#restore-timings")
