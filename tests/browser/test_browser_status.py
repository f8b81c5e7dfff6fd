"""In Chromium: a failed Repeated Run or Video run says why in the tab's status line without "Error" badges
on the outputs; a Degrade & Measure example fills the clean / degraded preview (as tests/test_browser.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from test_browser import TIMEOUT, browser, open_tab, page  # noqa: F401 - fixtures shared with test_browser

pytestmark = pytest.mark.browser
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _status_says(page, selector: str, words: str) -> str:
    page.wait_for_function(f"(document.querySelector('{selector}') || {{}}).innerText?.includes({words!r})",
                           timeout=TIMEOUT)
    return page.inner_text(selector)


def test_a_photo_given_to_video_says_why_in_the_status(page):
    open_tab(page, "Video")
    # The browser refuses the file itself (a toast names the allowed types); Restore video then said
    # "Error" on every output panel.
    page.set_input_files("#video-input input[type=file]", str(EXAMPLES / "astronaut_face_low.png"))
    page.get_by_text("Only .mp4", exact=False).first.wait_for(timeout=TIMEOUT)
    page.click("#video-run")
    status = _status_says(page, "#video-status", "upload a video")
    assert "Please upload a video first." in status
    assert page.locator("#video-output .error:visible, #video-strip .error:visible").count() == 0


def test_a_failed_repeated_run_says_why_in_the_status(page):
    open_tab(page, "Repeated Run")
    page.set_input_files("#loop-input input[type=file]", str(EXAMPLES / "astronaut_face_low.png"))
    page.wait_for_selector("#loop-input img")
    page.locator("#loop-model input").click()
    page.get_by_role("option", name="Real-ESRGAN x4plus", exact=False).first.click()
    page.click("#loop-run")
    status = _status_says(page, "#loop-status", "RealESRGAN_x4plus.pth")
    assert "**" not in status
    assert page.locator("#loop-gif .error:visible").count() == 0


def test_a_measure_example_fills_the_preview(page):
    open_tab(page, "Degrade & Measure")
    page.locator("#measure-examples").get_by_text("Two faces, downscale x4").click()
    page.wait_for_function("document.querySelectorAll('#measure-preview img').length >= 2", timeout=TIMEOUT)
