"""GAN face restoration studio: the Gradio app (`python app.py`, `gradio app.py`, or a Hugging Face Space).

Wiring only: each tab lives in webui/, and all the work is done by the `restorers` package.
"""
from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from webui.tmpdirs import use_for_gradio

# One temp root for the app (webui/tmpdirs.py): gradio's cache goes into this process's folder, so its
# delete_cache never removes another app's files. Before gradio is imported: it reads the variable then.
use_for_gradio()

from restorers.models import probe_hub  # noqa: E402

# Without HF_HUB_OFFLINE: one probe of the Hub (its short timeout, in a background thread, so start-up never
# waits on the network) while gradio imports, so the pickers and examples built below already know whether
# "downloads on first use" can work; a page opened later drops what the probe ruled out (refresh_pickers_on_load).
probe_hub()

import gradio as gr  # noqa: E402

import restorers
from restorers.models import set_default_download_progress
from restorers.guards import max_upload_bytes
from restorers.models import describe, pick_device, resolve_precision
from webui import jobs, warmup, zerogpu
from webui.common import refresh_pickers_on_load, report_download
from webui.dcgan_tab import build_dcgan_tab
from webui.tmpdirs import sweep_outputs, tmp_max_age_s
from webui.interpolate_tab import build_interpolate_tab
from webui.loop_tab import build_loop_tab
from webui.measure_tab import build_measure_tab
from webui.models_tab import build_models_tab, refresh_models_on_load
from webui.inpaint_section import refresh_inpaint_on_load
from webui.restore_tab import build_restore_tab, refresh_background_on_load, refresh_mask_on_load
from webui.video_tab import build_video_tab
from webui.mcp_support import mcp_launch_option
from webui.serving import mcp_enabled, server_name

TITLE = "GAN face restoration studio"
ASSETS = Path(__file__).resolve().parent / "assets"
LOGO = ASSETS / "logo.svg"
STYLE = ASSETS / "style.css"


def header() -> str:
    """The page header as HTML: logo, title, one line of text and the device/precision line."""
    device = pick_device()
    # Inlined as a data URI so the logo needs no allowed_paths and survives any proxy in front of the app.
    logo = base64.b64encode(LOGO.read_bytes()).decode("ascii")
    running = html.escape(describe(device, resolve_precision(device)))
    return (
        '<div class="app-header">'
        f'<img class="app-logo" src="data:image/svg+xml;base64,{logo}" alt="" width="56" height="56">'
        f"<div><h1>{TITLE}</h1>"
        "<p>Restore faces with GPEN, GFPGAN, CodeFormer and Real-ESRGAN side by side, measure them, watch them drift.</p>"
        f'<p class="app-device">Running on <strong>{running}</strong> · restorers {restorers.__version__}</p>'
        "</div></div>"
    )


def launch_options() -> dict:
    """Keyword arguments for ``demo.launch`` that style the page (in Gradio 6 these belong to launch())."""
    return {
        "theme": gr.themes.Default(primary_hue="indigo", secondary_hue="violet"),
        "css_paths": [STYLE],
        "favicon_path": LOGO,
        # Refused by the server before the upload is written anywhere (restorers/limits.py).
        "max_file_size": max_upload_bytes(),
    }


def create_demo() -> gr.Blocks:
    # First-use weight downloads show "Downloading X: 120/284 MB, 12 MB/s" in the running request's progress bar.
    set_default_download_progress(report_download)
    jobs.quiet_user_errors()  # a visitor's mistake is one line in the server log, not a traceback
    sweep_outputs(force=True)  # leftovers of earlier runs (a crash, a restart)
    # Gradio's own copies of uploads and results: swept every 10 minutes, deleted when older than the max age.
    with gr.Blocks(title=TITLE, delete_cache=(600, int(tmp_max_age_s()))) as demo:
        gr.HTML(header(), elem_id="app-header", js_on_load=None)
        with gr.Tabs() as tabs:
            with gr.Tab("Restore", id="restore"):
                restore = build_restore_tab()
            with gr.Tab("Degrade & Measure", id="measure"):
                measure = build_measure_tab()
            with gr.Tab("Repeated Run", id="loop"):
                loop = build_loop_tab()
            with gr.Tab("Video", id="video"):
                video = build_video_tab()
            with gr.Tab("Interpolate", id="interpolate"):
                build_interpolate_tab(restore["image"], measure["files"], tabs)
            with gr.Tab("DCGAN", id="dcgan"):
                build_dcgan_tab()
            with gr.Tab("Models", id="models"):
                models = build_models_tab()
        refresh_pickers_on_load(demo, [restore["models"], measure["models"], loop["model"], video["model"]])
        refresh_models_on_load(demo, models)
        refresh_mask_on_load(demo, restore["mask"])
        refresh_background_on_load(demo, restore["background"])
        refresh_inpaint_on_load(demo, restore["inpaint_model"])
    # A 2-vCPU Space runs one job at a time; a bounded queue says "busy" instead of piling up requests.
    demo.queue(default_concurrency_limit=jobs.concurrency(), max_size=16)
    # One lane for every event that does real work (Examples and previews included): see webui/jobs.py.
    jobs.share_lane(demo)
    demo.warmup_models = [*(restore["models"].value or []), restore["background"].value]  # type: ignore[attr-defined]
    return demo


if zerogpu.enabled():
    zerogpu.preload(zerogpu.preload_names())  # weights load here, outside any GPU call, as ZeroGPU expects
demo = create_demo()
if not zerogpu.enabled():
    # The preselected models and background load and run once in a background thread now, so the first
    # click costs what the second does; the server starts without waiting (webui/warmup.py).
    warmup.start(demo.warmup_models)

if __name__ == "__main__":
    demo.launch(**launch_options(), server_name=server_name(), mcp_server=mcp_launch_option(mcp_enabled()))
