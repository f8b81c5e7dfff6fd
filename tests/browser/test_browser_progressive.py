"""Results as they come, in headless Chromium: the first model's column is on the page while a slower model
still runs, and the line under the button gives the estimate for the photo before the click."""
from __future__ import annotations

import pytest

from conftest import require_shared
from test_browser import browser, load_photo, page, wait_for_results  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

# Every change of the gallery's image count, with the time and the status line at that moment.
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
    # realesr-general-x4v3's own architecture (32 convs, x4) with random weights: seconds on a 512 px photo,
    # where Lanczos takes milliseconds. Uploaded as your own checkpoint, it runs after the ticked models.
    path = tmp_path / "slow_x4.pth"
    torch.save({"params": SRVGGNetCompact(num_feat=64, num_conv=32, upscale=4).state_dict()}, path)
    photo = require_shared("faces", "gfpgan-cropped", "Adele_crop.png")
    load_photo(page, photo, ["Lanczos (baseline)"])
    page.wait_for_function("document.querySelector('#restore-estimate').innerText.includes('for this photo')")
    assert "Lanczos (baseline) under 1 s" in page.inner_text("#restore-estimate")

    page.get_by_text("Your own checkpoint").click()
    page.set_input_files("#restore-checkpoint input[type=file]", str(path))
    page.wait_for_function("document.querySelector('#restore-checkpoint').innerText.includes('slow_x4')")
    page.evaluate(WATCH_GALLERY)
    page.click("#restore-run")
    wait_for_results(page, 2)
    page.wait_for_function("document.querySelector('#restore-status').innerText.includes('All 2 models ran')")

    seen = page.evaluate("window.__gallery")
    counts = [entry["count"] for entry in seen if entry["count"]]
    steps = [c for i, c in enumerate(counts) if i == 0 or c != counts[i - 1]]  # a re-render may repeat a count
    assert steps[:2] == [1, 2], seen  # one column, then both: not both at once at the end
    first, both = (next(e for e in seen if e["count"] == n) for n in (1, 2))
    assert "1 of 2 models done" in first["status"], seen
    assert both["t"] - first["t"] > 200, seen  # the slow model was still running when the first column showed
    text = page.inner_text("#restore-gallery")
    assert "Lanczos (baseline)" in text and "slow_x4 (SRVGGNetCompact x4, your checkpoint)" in text
