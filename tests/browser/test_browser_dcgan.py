"""The DCGAN tab in a real browser (headless Chromium, Playwright): train one short epoch on the bundled
example crops and see the loss chart and the samples update, then sample the checkpoint just trained."""
from __future__ import annotations

import pytest

from test_browser import TIMEOUT, browser, open_tab, page  # noqa: F401 - the fixtures, shared

pytestmark = pytest.mark.browser


def _fill(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(value)
    box.press("Enter")


def _start_training(page, epochs: int) -> None:
    """Open the DCGAN tab, train ``epochs`` epochs at batch 16 and wait for the first iteration."""
    open_tab(page, "DCGAN")
    page.wait_for_selector("#dcgan-train")
    _fill(page, "dcgan-epochs", str(epochs))
    _fill(page, "dcgan-batch", "16")
    page.click("#dcgan-train")
    page.wait_for_function("document.querySelector('#dcgan-status').innerText.includes('iteration')",
                           timeout=TIMEOUT)


def test_dcgan_one_epoch_updates_chart_and_samples(page):
    _start_training(page, epochs=2)  # live: the status line counts iterations before the run is over
    page.wait_for_function("document.querySelector('#dcgan-status').innerText.includes('done after 4 iterations')",
                           timeout=TIMEOUT)
    assert page.locator("#dcgan-losses canvas, #dcgan-losses svg").count() >= 1
    # The legend names every line (a fixed plot height cut it down to its title, "series").
    legend = page.evaluate("""() => { const box = document.querySelector('#dcgan-losses').getBoundingClientRect();
        return [...document.querySelectorAll('#dcgan-losses svg text')].filter(t => {
            const r = t.getBoundingClientRect(); return r.height > 0 && r.bottom <= box.bottom && r.top >= box.top;
        }).map(t => t.textContent).join(' '); }""")
    assert all(name in legend for name in ("D (smoothed)", "G (smoothed)")), legend
    assert page.locator("#dcgan-samples img").count() == 1
    page.wait_for_selector("#dcgan-gif img[src*='.gif']", timeout=TIMEOUT)
    assert "dcgan\n.pt" in page.inner_text("#dcgan-checkpoint")
    page.click("#dcgan-sample")
    page.wait_for_selector("#dcgan-grid img", timeout=TIMEOUT)


def test_dcgan_stop_button_keeps_the_results(page):
    _start_training(page, epochs=200)
    page.click("#dcgan-stop")
    page.wait_for_function("document.querySelector('#dcgan-status').innerText.includes('stopped after')",
                           timeout=TIMEOUT)
    assert "dcgan\n.pt" in page.inner_text("#dcgan-checkpoint")


def test_dcgan_data_source_switches_between_demo_and_study_defaults(page):
    # The page opens on the bundled crops with the demo's batch 8 and 50 epochs; the Hub source (flowers-102)
    # puts the study's batch 256 and 20 epochs back, and the crops bring the demo's back again.
    open_tab(page, "DCGAN")
    batch = page.locator("#dcgan-batch input[type=number]")
    epochs = page.locator("#dcgan-epochs input[type=number]")
    assert batch.input_value() == "8" and epochs.input_value() == "50"
    page.locator("#dcgan-source label", has_text="Hugging Face Hub dataset").click()
    page.wait_for_function("document.querySelector('#dcgan-batch input[type=number]').value === '256'",
                           timeout=TIMEOUT)
    assert epochs.input_value() == "20"
    page.locator("#dcgan-source label", has_text="Example photos").click()
    page.wait_for_function("document.querySelector('#dcgan-batch input[type=number]').value === '8'",
                           timeout=TIMEOUT)
