"""Repeated Run, Interpolate and Video in the page: a failed run clears the old outputs and says why in the
tab's status line (the API endpoints still raise); the Video example sits under its input; a Degrade &
Measure example fills the clean / degraded preview."""
from __future__ import annotations

import gradio as gr
import pytest
from gradio.data_classes import FileData

from webui import interpolate_tab, loop_tab, video_tab
from webui.common import example


def test_loop_failure_clears_the_outputs_and_says_why(hub_cache):
    args = (example("grace_hopper_face_blurred.png"), "gpen-bfr-256", 2, 1.0)
    *outputs, status, legend = loop_tab.run_repeated_in_page(*args)
    assert outputs == [None] * 6 and legend == ""
    assert "studio-error" in status and "not cached" in status and "**" not in status
    with pytest.raises(gr.Error, match="not cached"):  # the /loop endpoint still raises
        loop_tab.run_repeated(*args)


def test_loop_success_says_how_many_runs():
    *outputs, status, legend = loop_tab.run_repeated_in_page(example("astronaut_face_low.png"), "lanczos", 2, 1.0)
    assert outputs[0].endswith("timeline.gif") and len(outputs[4]) == 3
    assert "2 runs of lanczos done." in status and "studio-info" in status
    assert "ssim vs first input" in legend  # the page's own legend, in the plot's colours


def test_interpolate_failure_clears_the_outputs_and_says_why(hub_cache):
    args = ("stylegan2-ada-ffhq", None, "1,2", 2, "w-linear", 0.7, False, 12, 64)
    *outputs, status = interpolate_tab.run_interpolation_in_page(*args)
    assert outputs == [None] * 5
    assert "studio-error" in status and "not cached" in status
    with pytest.raises(gr.Error, match="not cached"):  # the /interpolate endpoint still raises
        interpolate_tab.run_interpolation(*args)


def test_video_failure_clears_the_outputs_and_says_why(hub_cache):
    steps = list(video_tab.run_video_in_page(example(video_tab.EXAMPLE_CLIP), "gfpgan-v1.4", 1.0))
    restored, compare, strip, status, files = steps[-1]
    assert restored is compare is strip is files is None
    assert "studio-error" in status and "GFPGANv1.4.pth" in status and "not cached" in status
    with pytest.raises(gr.Error, match="not cached"):  # the /video endpoint still raises
        list(video_tab.run_video(example(video_tab.EXAMPLE_CLIP), "gfpgan-v1.4", 1.0))


def test_a_png_given_to_video_reaches_the_handler_which_says_why():
    png = example("astronaut_face_low.png")
    component = video_tab._any_file_to_handler(
        gr.File(file_types=video_tab.VIDEO_TYPES, type="filepath", render=False))
    # gradio's own check raised "Invalid file type" before the handler: every output showed "Error".
    assert component.preprocess(FileData(path=png)) == png
    *_, (restored, _, _, status, _) = video_tab.run_video_in_page(png, "lanczos")
    assert restored is None and "astronaut_face_low.png: this is a still image, not a video" in status


def _find(node: dict, ids: dict) -> list:
    """Depth-first elem_ids of the components under a layout node."""
    found = [ids[node["id"]]] if ids.get(node["id"]) else []
    for child in node.get("children", []):
        found += _find(child, ids)
    return found


def test_video_example_sits_under_the_input_and_measure_example_fills_the_preview():
    import app as app_module

    demo = app_module.create_demo()
    config = demo.get_config_file()
    ids = {c["id"]: c["props"].get("elem_id") for c in config["components"]}
    order = _find(config["layout"], ids)
    assert order.index("video-input") < order.index("video-examples") < order.index("video-run")
    assert order.index("video-examples") < order.index("video-output")
    # The preview runs right after an example sets the files (before the evaluation).
    fns = list(demo.fns.values())
    preview = [fn for fn in fns if fn.name == "preview_degradation" and fn.api_visibility == "private"]
    assert len(preview) == 1 and preview[0].trigger_after is not None
    loader = fns[preview[0].trigger_after]
    assert loader.fn.__name__ == "load_example"
    after = [fn for fn in fns if fn.trigger_after == preview[0]._id]
    assert len(after) == 1 and after[0].name == "<lambda>"
