"""Results as they come, in headless Chromium: the first model's column is on the page while a slower model
still runs, and the line under the button gives the estimate for the photo before the click."""
from __future__ import annotations

import pytest
from PIL import Image

from conftest import require_shared
from test_browser import browser, load_photo, page, wait_for_results  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
SLOW_TIMEOUT = 600_000

# Every change of the gallery's image count, with the time and the status line at that moment (for the message).
WATCH_GALLERY = """() => {
  window.__gallery = [];
  const gallery = document.querySelector('#restore-gallery');
  let last = -1;
  new MutationObserver(() => {
    const count = gallery.querySelectorAll('img').length;
    if (count !== last) {
      last = count;
      const status = document.querySelector('#restore-status');
      window.__gallery.push({count, t: performance.now(), status: status ? status.innerText : ''});
    }
  }).observe(gallery, {childList: true, subtree: true, attributes: true});
}"""


def test_the_first_column_shows_before_the_last_model_finishes(page, tmp_path):
    import torch

    from restorers.models.archs.srvgg import SRVGGNetCompact

    torch.manual_seed(0)
    # realesr-general-x4v3's own architecture (32 convs, x4) with random weights: about half a second on a
    # 192 px photo on a quiet 2-core CPU, where Lanczos takes milliseconds. Uploaded as your own checkpoint,
    # it runs after the ticked models.
    path = tmp_path / "slow_x4.pth"
    torch.save({"params": SRVGGNetCompact(num_feat=64, num_conv=32, upscale=4).state_dict()}, path)
    photo = tmp_path / "face192.png"
    Image.open(require_shared("faces", "gfpgan-cropped", "Adele_crop.png")).resize((192, 192)).save(photo)
    load_photo(page, photo, ["Lanczos (baseline)"])
    page.wait_for_function("document.querySelector('#restore-estimate').innerText.includes('for this photo')")
    assert "Lanczos (baseline) under 1 s" in page.inner_text("#restore-estimate")

    page.get_by_text("Your own checkpoint").click()
    page.set_input_files("#restore-checkpoint input[type=file]", str(path))
    page.wait_for_function("document.querySelector('#restore-checkpoint').innerText.includes('slow_x4')")
    page.evaluate(WATCH_GALLERY)
    page.click("#restore-run")
    page.wait_for_function("document.querySelector('#restore-status').innerText.includes('All 2 models ran')",
                           timeout=SLOW_TIMEOUT)  # a shared, loaded machine can take minutes
    wait_for_results(page, 2)

    seen = page.evaluate("window.__gallery")
    counts = [entry["count"] for entry in seen if entry["count"]]
    steps = [c for i, c in enumerate(counts) if i == 0 or c != counts[i - 1]]  # a re-render may repeat a count
    assert steps[:2] == [1, 2], seen  # one column, then both: not both at once at the end
    first, both = (next(e for e in seen if e["count"] == n) for n in (1, 2))
    # The slow model was still running when the first column showed (the status line itself may lag behind
    # the gallery by a render, so it is not what is checked here).
    assert both["t"] - first["t"] > 200, seen
    text = page.inner_text("#restore-gallery")
    assert "Lanczos (baseline)" in text and "slow_x4 (SRVGGNetCompact x4, your checkpoint)" in text
    assert "384x384" in text
