"""The paste-back mask in a real browser: the radio's default follows the parser's weights, the choice
reaches the engine, the faces gallery shows the parse mask, and the option fits a phone screen."""
from __future__ import annotations

import pytest
import torch

from conftest import require_shared
from test_browser import PHONE, TIMEOUT, browser, load_photo, page_width, wait_for_results  # noqa: F401
from test_paste_mask import comfy_cache, tiny_parser  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture()
def tiny_face_model(tmp_path) -> str:
    data = torch.load(require_shared("golden", "gpen", "case_gpen_128.pt"), weights_only=True)
    path = tmp_path / "tiny_gpen.pth"
    torch.save(data["state_dict"], path)
    return str(path)


def _open(browser, app_url, viewport):  # noqa: F811
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(TIMEOUT)
    page.goto(app_url)
    page.wait_for_selector("#restore-run")
    page.get_by_text("Face options").first.click()
    page.wait_for_selector("#restore-mask")
    return page


def _checked(page) -> str:
    return page.locator("#restore-mask input[type=radio]:checked").get_attribute("value")


def test_square_is_preselected_without_the_parser_and_parse_names_the_file(browser, hub_cache, app_url,  # noqa: F811
                                                                          tiny_face_model):
    page = _open(browser, app_url, {"width": 1400, "height": 1000})
    try:
        assert _checked(page) == "square"
        assert "missing weights" in page.inner_text("#restore-mask")
        page.locator("#restore-mask label", has_text="Face parsing").click()
        photo = require_shared("faces", "gfpgan-whole", "Blake_Lively.jpg")
        load_photo(page, photo, ["Lanczos (baseline)"])
        page.get_by_text("Your own checkpoint").click()
        page.set_input_files("#restore-checkpoint input[type=file]", tiny_face_model)
        page.wait_for_function("document.querySelector('#restore-checkpoint').innerText.includes('tiny_gpen')")
        page.click("#restore-run")
        wait_for_results(page, 1)  # Lanczos runs; the face model says which file it misses
        page.wait_for_function("document.querySelector('#restore-status').innerText.includes('could not')")
        page.locator("#restore-status").get_by_text("Details").first.click()
        assert "parsing_parsenet.pth" in page.inner_text("#restore-status")
    finally:
        page.close()


def test_parse_is_preselected_with_its_weights_and_the_gallery_shows_the_mask(browser, tiny_parser,  # noqa: F811
                                                                             app_url, tiny_face_model):
    page = _open(browser, app_url, PHONE)
    try:
        assert _checked(page) == "parse" and "ready" in page.inner_text("#restore-mask")
        assert page_width(page) <= PHONE["width"] + 4  # the option fits a phone
        photo = require_shared("faces", "gfpgan-whole", "Blake_Lively.jpg")
        load_photo(page, photo, [])
        page.get_by_text("Your own checkpoint").click()
        page.set_input_files("#restore-checkpoint input[type=file]", tiny_face_model)
        page.wait_for_function("document.querySelector('#restore-checkpoint').innerText.includes('tiny_gpen')")
        page.click("#restore-run")
        wait_for_results(page, 1)
        page.wait_for_function("document.querySelector('#restore-faces').innerText.includes('paste mask')",
                               timeout=TIMEOUT)
        assert page_width(page) <= PHONE["width"] + 4
    finally:
        page.close()
