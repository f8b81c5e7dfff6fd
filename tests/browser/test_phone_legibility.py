"""At a phone's 390 px the page must be readable, not only free of sideways scrolling: no text below 11 px,
tables inside their blocks, block labels neither cut nor under the icon buttons, chart lettering at least
9 px as shown, and legends that list every series."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_browser import PHONE, TIMEOUT, browser, open_app, open_tab  # noqa: F401 - the shared Chromium fixture

from webui.charts import FONT_PX

pytestmark = pytest.mark.browser
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TABS = ["Restore", "Degrade & Measure", "Repeated Run", "Interpolate", "Video", "DCGAN", "Models"]

# What a person reads: every visible text node's font size, every table against its block, every block label
# against its block's width and its icon buttons.
READABILITY = """() => {
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0
                       && getComputedStyle(e).visibility !== 'hidden'; };
  const small = [], cut = [], covered = [], wide = [];
  const walk = document.createTreeWalker(document.querySelector('.gradio-container'), NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const el = walk.currentNode.parentElement;
    if (!walk.currentNode.textContent.trim() || !shown(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 11) small.push(walk.currentNode.textContent.trim().slice(0, 40) + ' @' + size);
  }
  for (const label of document.querySelectorAll('label[data-testid=block-label]')) {
    if (!shown(label)) continue;
    const box = label.getBoundingClientRect();
    if (label.scrollWidth > label.clientWidth + 1) cut.push(label.innerText);
    const block = label.closest('.block');
    for (const button of (block ? block.querySelectorAll('button') : [])) {
      const b = button.getBoundingClientRect();
      // icon buttons only: the drop zone of an empty input is a button as large as the block
      if (!shown(button) || b.width > 60 || b.height > 60 || label.contains(button)) continue;
      if (b.left < box.right - 1 && b.right > box.left + 1 && b.top < box.bottom - 1 && b.bottom > box.top + 1)
        covered.push(label.innerText);
    }
  }
  for (const table of document.querySelectorAll('table')) {
    if (!shown(table)) continue;
    const block = table.closest('.block') || table.parentElement;
    if (table.getBoundingClientRect().width > block.getBoundingClientRect().width + 1)
      wide.push((block.id || '?') + ' ' + Math.round(table.getBoundingClientRect().width));
  }
  return {small, cut, covered, wide, page: document.documentElement.scrollWidth};
}"""


@pytest.fixture()
def phone(browser, app_url):  # noqa: F811 - the fixture imported above
    page = open_app(browser, app_url, PHONE)
    yield page
    page.close()


def check(page, where: str) -> None:
    found = page.evaluate(READABILITY)
    assert found["page"] <= PHONE["width"], f"{where}: the page scrolls sideways ({found['page']} px)"
    assert found["small"] == [], f"{where}: text below 11 px: {found['small']}"
    assert found["wide"] == [], f"{where}: tables wider than their block: {found['wide']}"
    assert found["cut"] == [], f"{where}: block labels cut off: {found['cut']}"
    assert found["covered"] == [], f"{where}: block labels under buttons: {found['covered']}"


def test_every_tab_is_readable_at_390_px(phone):
    for tab in TABS:
        open_tab(phone, tab)
        phone.wait_for_timeout(600)
        check(phone, tab)
    open_tab(phone, "Restore")  # with a photo in, the input shows its clear / download buttons beside the label
    phone.set_input_files("#restore-input input[type=file]", str(EXAMPLES / "grace_hopper_face.png"))
    phone.wait_for_selector("#restore-input img")
    check(phone, "Restore with a photo")


def test_measure_results_are_readable_at_390_px(phone):
    open_tab(phone, "Degrade & Measure")
    phone.locator("#measure-examples").get_by_text("Two faces, downscale x4").click()
    phone.wait_for_function("document.querySelectorAll('#measure-preview img').length >= 2", timeout=TIMEOUT)
    phone.click("#measure-run")
    phone.locator("#measure-table").get_by_text("PSNR (dB)").first.wait_for(timeout=TIMEOUT)
    phone.wait_for_selector("#measure-chart img", timeout=TIMEOUT)
    phone.wait_for_timeout(1000)
    check(phone, "Degrade & Measure results")
    shown, natural = phone.evaluate("() => { const i = document.querySelector('#measure-chart img');"
                                    " return [i.getBoundingClientRect().width, i.naturalWidth]; }")
    smallest = min(FONT_PX.values()) * shown / natural
    assert smallest >= 9, f"chart lettering shows at {smallest:.1f} px ({natural} px image in {shown:.0f} px)"


def test_repeated_run_legend_lists_every_series_at_390_px(phone):
    open_tab(phone, "Repeated Run")
    phone.set_input_files("#loop-input input[type=file]", str(EXAMPLES / "grace_hopper_face_blurred.png"))
    phone.locator("#loop-truth input[type=file]").set_input_files(str(EXAMPLES / "grace_hopper_face.png"))
    phone.locator("#loop-runs input[type=number]").fill("2")
    phone.locator("#loop-runs input[type=number]").press("Enter")
    phone.click("#loop-run")
    phone.wait_for_selector("#loop-legend .studio-legend span", timeout=TIMEOUT)
    items = phone.evaluate("() => [...document.querySelectorAll('#loop-legend .studio-legend span')].map(s => {"
                           " const r = s.getBoundingClientRect(); return [s.innerText, r.left, r.right]; })")
    names = [name for name, _, _ in items]
    assert any(n.endswith("vs first input") for n in names) and any(n.endswith("vs ground truth") for n in names)
    assert all(0 <= left and right <= PHONE["width"] for _, left, right in items), json.dumps(items)
    check(phone, "Repeated Run results")
