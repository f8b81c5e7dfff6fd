"""'Inpaint a face' in Chromium, desktop and 390 px phone: upload a face into the image editor, paint a white
stroke with the brush, upload a tiny CodeFormer inpainting checkpoint as your own, run, and get a result that
differs from the input only in a small painted part."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import require_shared
from hubcache import checkpoint_bytes
from test_browser import PHONE, TIMEOUT, browser  # noqa: F401 - the shared browser fixture
from test_codeformer_modes import OWN, tiny_state_dict

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tiny_inpainter(tmp_path_factory):
    path = tmp_path_factory.mktemp("inpaint") / "my_inpainter.pth"
    path.write_bytes(checkpoint_bytes(tiny_state_dict(512, OWN)))
    return path


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 1000}, PHONE], ids=["desktop", "phone"])
def test_paint_a_mask_and_inpaint(browser, app_url, tiny_inpainter, viewport):  # noqa: F811
    face_path = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    face = np.asarray(Image.open(face_path).convert("RGB"))
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(TIMEOUT)
    page.goto(app_url)
    page.get_by_text("Inpaint a face (CodeFormer inpainting)").click()
    page.set_input_files("#inpaint-editor input[type=file]", str(face_path))
    canvas = page.locator("#inpaint-editor canvas").first
    canvas.wait_for()
    page.wait_for_timeout(3000)  # the background image is drawn on the canvas
    page.locator("#inpaint-editor button[aria-label='Brush']").click()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100
    # A short horizontal stroke across the middle of the face.
    y = box["y"] + box["height"] * 0.55
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.4 + 0.02 * step), y)
    page.mouse.up()
    page.wait_for_timeout(1500)  # the editor sends its new value (background + stroke layer) to the server
    page.set_input_files("#inpaint-checkpoint input[type=file]", str(tiny_inpainter))
    page.wait_for_timeout(500)
    # The editor keeps the photo and the strokes in the page until it has composited them; on a loaded machine
    # a click can come first, and the app then says so in words. A person presses again; so does the test.
    status = ""
    for _ in range(3):
        page.click("#inpaint-run")
        page.wait_for_timeout(1000)
        # Done: a result, or a sentence in the status and no progress timer ("0.8s") in front of it.
        page.wait_for_function("() => { const t = document.querySelector('#inpaint-status').innerText;"
                               " return document.querySelector('#inpaint-output img') || (!/^\\s*\\d+(\\.\\d+)?s/.test(t)"
                               " && /Inpainted|could not|missing|Upload|editor|error/i.test(t)); }", timeout=TIMEOUT)
        page.wait_for_timeout(500)
        status = page.inner_text("#inpaint-status")
        if "has not passed a photo on yet" not in status:
            break
        page.wait_for_timeout(3000)
    assert "Inpainted the face" in status, status
    # The page must not be wider than the screen (the editor fits a phone).
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
    src = page.get_attribute("#inpaint-output img", "src")
    result = np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"))
    assert result.shape == face.shape
    changed = np.any(result != face, axis=2)
    rows, cols = np.nonzero(changed)
    assert 0 < changed.sum() < 0.1 * changed.size  # only the painted stroke
    assert rows.min() > 0.35 * face.shape[0] and rows.max() < 0.75 * face.shape[0]
    page.close()
