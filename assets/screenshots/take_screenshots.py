"""Take the README screenshots from the real app: one per tab, each after a real run.

Starts the app in-process on a free local port, drives headless Chromium through Playwright, and for
every tab uploads an example, runs it, waits for the outputs and saves a PNG next to this script:

    python assets/screenshots/take_screenshots.py            # all five tabs
    python assets/screenshots/take_screenshots.py loop models  # only some

Needs Chromium (Debian: /usr/bin/chromium, or CHROMIUM_PATH) and ../shared for the offline hub cache
and the tiny StyleGAN2-ADA pickle used on the Interpolate tab.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO.parent / "shared"))
EXAMPLES = REPO / "examples"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
WIDTH = 1400
TIMEOUT_MS = int(os.environ.get("SCREENSHOT_TIMEOUT_MS", 300_000))
MAX_BYTES = 400_000

# Offline and quiet, like the tests; set before gradio or huggingface_hub are imported (they read these once).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = str(SHARED / "weights" / "hf-cache")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app() -> tuple[object, str]:
    """Import app.py and launch its demo in this process; returns (module, url)."""
    sys.path.insert(0, str(REPO))
    import app as app_module

    port = free_port()
    app_module.demo.launch(**app_module.launch_options(), server_name="127.0.0.1", server_port=port,
                           prevent_thread_lock=True, quiet=True)
    return app_module, f"http://127.0.0.1:{port}/"


# ---- page helpers -------------------------------------------------------------------------------------

def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def upload(page: Page, elem_id: str, *paths: Path) -> None:
    page.set_input_files(f"#{elem_id} input[type=file]", [str(p) for p in paths])


def block(page: Page, label: str) -> Locator:
    """The visible component with this label (for components that have no elem_id)."""
    # Match the component's own label element, not an Examples table header with the same words.
    title = page.locator('[data-testid="block-label"], [data-testid="block-info"], .table-container .label').filter(
        has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    return page.locator("div.block:visible", has=title).last


def upload_by_label(page: Page, label: str, path: Path) -> None:
    block(page, label).locator("input[type=file]").set_input_files(str(path))


def set_models(page: Page, container: str, wanted: list[str]) -> None:
    boxes = page.locator(f"{container} label")
    for i in range(boxes.count()):
        label = boxes.nth(i)
        checkbox = label.locator("input[type=checkbox]")
        # Labels carry the model's state after a dot ("Lanczos (baseline) · ready").
        if checkbox.is_checked() != (label.inner_text().strip().split(" · ")[0] in wanted):
            checkbox.click()


def set_number(page: Page, selector: str, value: str) -> None:
    field = page.locator(selector)
    field.fill(value)
    field.press("Enter")


def pick_dropdown(page: Page, elem_id: str, option: str) -> None:
    page.click(f"#{elem_id} input")
    page.get_by_role("option", name=option, exact=True).click()


def settle(page) -> None:
    """Wait until no component shows a progress bar or spinner, then close any toasts."""
    page.wait_for_function(
        "[...document.querySelectorAll('.progress-text, .eta-bar, .progress-level, .loader')]"
        ".every(e => e.getClientRects().length === 0)"
    )
    for button in page.locator(".toast-close").all():
        if button.is_visible():
            button.click()
    page.mouse.move(0, 0)  # no hover effects in the picture
    time.sleep(1.0)  # let images finish decoding and plots finish their transition


def shoot(page: Page, path: Path, until: Locator) -> None:
    """Full-page screenshot from the top down to the bottom of the element ``until`` (a locator).

    Quantised to 256 colours only if the PNG is too big for the README.
    """
    page.evaluate("window.scrollTo(0, 0)")  # bounding boxes are relative to the viewport
    box = until.bounding_box()
    height = int(box["y"] + box["height"]) + 12
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
    if path.stat().st_size > MAX_BYTES:
        from PIL import Image

        with Image.open(path) as img:
            small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.FLOYDSTEINBERG)
        small.save(path, optimize=True)
    print(f"{path.name}: {WIDTH}x{height}, {path.stat().st_size / 1000:.0f} kB")


# ---- one function per tab -----------------------------------------------------------------------------

def restore(page: Page, out: Path) -> None:
    upload(page, "restore-input", EXAMPLES / "astronaut_face_low.png")
    page.wait_for_selector("#restore-input img")
    set_models(page, "#restore-models", ["Bicubic (baseline)", "Lanczos (baseline)"])
    page.click("#restore-run")
    page.wait_for_function("document.querySelectorAll('#restore-gallery img').length >= 2")
    pick_dropdown(page, "restore-compare", "Bicubic (baseline)")
    page.wait_for_selector("#restore-slider img[src*='bicubic']")
    settle(page)
    shoot(page, out / "restore.png", page.locator("#restore-timings"))


def measure(page: Page, out: Path) -> None:
    open_tab(page, "Degrade & Measure")
    upload(page, "measure-input", EXAMPLES / "astronaut_face.png", EXAMPLES / "grace_hopper_face.png")
    # The tab's default, downscale x4, gives the two resizers work to do (a same-size blur would not).
    page.wait_for_function("document.querySelector('#measure-spec textarea, #measure-spec input').value === 'downscale:4'")
    page.get_by_role("button", name="Preview degradation").click()
    block(page, "Clean / degraded (first image)").locator("img").first.wait_for()
    set_models(page, "#measure-models", ["Bicubic (baseline)", "Lanczos (baseline)"])
    page.click("#measure-run")
    page.locator("#measure-table").get_by_text("PSNR (dB)").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_selector("#measure-chart img")
    page.wait_for_selector("#measure-gallery img")
    settle(page)
    shoot(page, out / "measure.png", page.locator("#measure-gallery"))


def loop(page: Page, out: Path) -> None:
    open_tab(page, "Repeated Run")
    upload(page, "loop-input", EXAMPLES / "grace_hopper_face_blurred.png")
    upload(page, "loop-truth", EXAMPLES / "grace_hopper_face.png")
    set_number(page, "#loop-runs input[type=number]", "5")
    page.click("#loop-run")
    page.wait_for_selector("#loop-gif img[src*='.gif']")
    block(page, "Metrics per run (PSNR in the table)").locator(".vega-embed svg").wait_for()
    settle(page)
    shoot(page, out / "loop.png", block(page, "Per run"))


def interpolate(page: Page, out: Path) -> None:
    pickle = SHARED / "golden" / "stylegan2_ada" / "case_ada_small.pkl"
    if not pickle.is_file():
        raise SystemExit(f"missing {pickle}: the Interpolate screenshot uses that tiny random generator")
    open_tab(page, "Interpolate")
    upload(page, "walk-pickle", pickle)
    page.locator("#walk-pickle").get_by_text("case_ada_small.pkl").first.wait_for(timeout=TIMEOUT_MS)
    page.locator("#walk-seeds textarea, #walk-seeds input").first.fill("1,2,3,4")
    page.click("#walk-run")
    page.wait_for_selector("#walk-gif img[src*='.gif']")
    settle(page)
    shoot(page, out / "interpolate.png", block(page, "Keyframes"))


def dcgan(page: Page, out: Path) -> None:
    open_tab(page, "DCGAN")
    set_number(page, "#dcgan-epochs input[type=number]", "12")
    set_number(page, "#dcgan-batch input[type=number]", "16")
    page.click("#dcgan-train")
    page.wait_for_function("document.querySelector('#dcgan-status').innerText.includes('done after')",
                           timeout=TIMEOUT_MS)
    page.wait_for_selector("#dcgan-gif img[src*='.gif']")
    settle(page)
    shoot(page, out / "dcgan.png", page.locator("#dcgan-checkpoint"))


def models(page: Page, out: Path) -> None:
    open_tab(page, "Models")
    page.locator("#models-table").get_by_text("GPEN-BFR-512").first.wait_for()
    settle(page)
    shoot(page, out / "models.png", block(page, "Model"))


SHOTS: dict[str, Callable] = {"restore": restore, "measure": measure, "loop": loop,
                              "interpolate": interpolate, "dcgan": dcgan, "models": models}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shots", nargs="*", metavar="TAB", help=f"tabs to shoot: {', '.join(SHOTS)} (default: all)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the PNGs")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.shots) - set(SHOTS))
    if unknown:
        parser.error(f"unknown tab(s): {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    app_module, url = start_app()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            for name in args.shots or list(SHOTS):
                # A fresh page per tab, so each screenshot shows only its own run.
                page = browser.new_page(viewport={"width": WIDTH, "height": 1100}, device_scale_factor=1)
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(url)
                page.wait_for_selector("#restore-run")
                SHOTS[name](page, args.out)
                page.close()
            browser.close()
    finally:
        app_module.demo.close()


if __name__ == "__main__":
    main()
