"""Regressions found by clicking through the app as a new user (headless Chromium, as tests/test_browser.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from test_browser import TIMEOUT, browser, page, set_models  # noqa: F401 - fixtures shared with test_browser

pytestmark = pytest.mark.browser
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def boxes(page, *selectors: str) -> list[dict]:
    """Bounding boxes measured in one go (the page may scroll to the results between two calls)."""
    return page.evaluate("(sels) => sels.map(s => { const r = document.querySelector(s).getBoundingClientRect();"
                         " return {top: r.top, bottom: r.bottom}; })", list(selectors))


def test_a_single_result_fits_the_gallery_instead_of_being_cut_off(page):
    # One model ran: Gradio gave the lone item the full width and a square box taller than the gallery,
    # so the picture showed zoomed in, its bottom cut off.
    page.set_input_files("#restore-input input[type=file]", str(EXAMPLES / "astronaut_face_low.png"))
    page.wait_for_selector("#restore-input img")
    set_models(page, "#restore-models", ["Lanczos (baseline)"])
    page.click("#restore-run")
    page.wait_for_function("document.querySelectorAll('#restore-gallery .grid-container img').length == 1",
                           timeout=TIMEOUT)
    page.wait_for_function("document.querySelector('#restore-gallery .grid-container img').naturalWidth > 0")
    picture, frame = boxes(page, "#restore-gallery .grid-container img", "#restore-gallery .grid-wrap")
    assert picture["bottom"] - picture["top"] > 100
    assert picture["top"] >= frame["top"] - 1 and picture["bottom"] <= frame["bottom"] + 1, (picture, frame)


def test_an_unreadable_upload_says_why_in_the_status_without_error_badges(page, tmp_path):
    # A file named .png that is not an image: Restore used to stop in the input's preprocessing, before the
    # handler, so every output panel showed a bare "Error" badge and the status said nothing.
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    page.set_input_files("#restore-input input[type=file]", str(text))
    page.click("#restore-run")
    page.wait_for_function("document.querySelector('#restore-status').innerText.includes('not a readable image')",
                           timeout=TIMEOUT)
    status = page.inner_text("#restore-status")
    assert "notes.png" in status and str(tmp_path) not in status
    assert page.locator("#restore-gallery .error:visible").count() == 0
