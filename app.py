"""GAN face restoration studio: the Gradio app (`python app.py`, `gradio app.py`, or a Hugging Face Space).

Wiring only: each tab lives in webui/, and all the work is done by the `restorers` package.
"""
from __future__ import annotations

import os

import gradio as gr

import restorers
from restorers.runtime import describe, pick_device, resolve_precision
from webui.interpolate_tab import build_interpolate_tab
from webui.loop_tab import build_loop_tab
from webui.measure_tab import build_measure_tab
from webui.models_tab import build_models_tab
from webui.restore_tab import build_restore_tab

TITLE = "GAN face restoration studio"


def header() -> str:
    device = pick_device()
    return (
        f"# {TITLE}\n"
        f"Restore faces with GPEN, GFPGAN and Real-ESRGAN side by side, measure them, watch them drift. "
        f"Running on **{describe(device, resolve_precision(device))}** · restorers {restorers.__version__}"
    )


def create_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(header())
        with gr.Tabs() as tabs:
            with gr.Tab("Restore", id="restore"):
                restore = build_restore_tab()
            with gr.Tab("Degrade & Measure", id="measure"):
                measure = build_measure_tab()
            with gr.Tab("Repeated Run", id="loop"):
                build_loop_tab()
            with gr.Tab("Interpolate", id="interpolate"):
                build_interpolate_tab(restore["image"], measure["files"], tabs)
            with gr.Tab("Models", id="models"):
                build_models_tab()
    # A 2-vCPU Space runs one job at a time; a bounded queue says "busy" instead of piling up requests.
    demo.queue(default_concurrency_limit=int(os.environ.get("RESTORERS_CONCURRENCY", 1)), max_size=16)
    return demo


demo = create_demo()

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"))
