"""Repeated Run tab: feed a model's output back to it N times and animate the drift."""
from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from restorers.analysis import (METRICS, MAX_RUNS, MIN_SCORED_SIDE, frame_strip, loop_metrics, run_loop,
                                 timeline_frames)
from restorers.guards import MAX_FPS, MIN_FPS, check_number
from restorers.media import write_gif, write_mp4

from . import costs
from .charts import PALETTE
from .common import (USER_ERRORS, ImageInput, example, load_input, model_choices, request_dir, runnable, status_html,
                     too_small)
from .fidelity import DEFAULT_TEXT, fidelity_box, parse_fidelity, show_fidelity
from .jobs import job, ui

TIMELINE_SIDE = 512  # frames are shown at one size so the GIF does not grow with the image


@job(costs.loop)
def run_repeated(image: str | None, model: str | None, runs: float, scale: float, ground_truth: str | None = None,
                 fps: float = 2.0, fidelity: str | float = DEFAULT_TEXT, progress: gr.Progress = gr.Progress()):
    """Feed a model's output back to it several times and measure how the image drifts from run to run.

    Args:
        image: the start image: an http(s) URL or a data:image/png;base64,... URI.
        model: the model to repeat, e.g. 'lanczos' or 'gpen-bfr-256'.
        runs: how many times to run it (1 to 30).
        scale: output scale of each run, e.g. 1.1 (1 keeps the size).
        ground_truth: optional clean image to score every run against (URL or data: URI).
        fps: frames per second of the timeline GIF and MP4.
        fidelity: CodeFormer only: its fidelity weight w in [0, 1] (0 = strongest restoration, 1 = most faithful; default 0.5), one value used for every run.
    Returns:
        the timeline as GIF and MP4, a strip of frames, metric series per run, a per-run table (with ArcFace identity
        against the input when its weights are available, and NIQE, a no-reference score of each frame, lower is
        better, when the image holds two 96x96 blocks), the GIF file.
    """
    source = load_input(image)
    truth = load_input(ground_truth, "a ground truth").rgb if ground_truth else None
    if not model:
        raise gr.Error("Pick a model.")
    weight = parse_fidelity(fidelity)
    metrics = loop_metrics(source.rgb.shape[:2])
    try:
        check_number("fps", fps, MIN_FPS, MAX_FPS)  # before the runs, not after them
        result = run_loop(model, source.rgb, runs, scale, ground_truth=truth, metrics=metrics,
                          progress=lambda f, d: progress(f, desc=d), fidelity=weight)
    except USER_ERRORS + (RuntimeError,) as exc:
        raise gr.Error(str(exc), duration=None) from exc
    frames = timeline_frames(result.frames, size=TIMELINE_SIDE)
    folder = request_dir("loop")
    gif = write_gif(frames, folder / "timeline.gif", fps)
    mp4 = write_mp4(frames, folder / "timeline.mp4", fps)
    strip = frame_strip(result.frames, max_frames=11, height=128)
    series = [{"run": k, "metric": m, "value": v, "against": "first input"}
              for k, scores in enumerate(result.scores_vs_input) for m, v in scores.items() if m != "psnr"]
    if result.scores_vs_gt is not None:
        series += [{"run": k, "metric": m, "value": v, "against": "ground truth"}
                   for k, scores in enumerate(result.scores_vs_gt) for m, v in scores.items() if m != "psnr"]
    table = pd.DataFrame(
        [{"run": k, "size": f"{w}x{h}", "seconds": round(result.seconds[k], 3),
          **{f"{m} vs input": round(v, 4) for m, v in result.scores_vs_input[k].items()},
          **{m: round(v, 4) for m, v in result.scores_of_frame[k].items()},  # NIQE: the frame alone
          **({f"{m} vs truth": round(v, 4) for m, v in result.scores_vs_gt[k].items()} if result.scores_vs_gt else {})}
         for k, (h, w) in enumerate(result.sizes)]
    )
    chart_data = pd.DataFrame(series)
    chart_data["series"] = chart_data["metric"] + " vs " + chart_data["against"]
    return str(gif), str(mp4), strip, chart_data, table, str(gif)


AGAINST = ("first input", "ground truth")
# Fixed colours, so the page can draw the legend itself: the plot's own legend is one row that a phone cuts
# off after two or three of the up to 2 x metrics series.
SERIES_COLOURS = {f"{metric} vs {against}": PALETTE[(2 * i + j) % len(PALETTE)]
                  for i, metric in enumerate(m for m in METRICS if m != "psnr") for j, against in enumerate(AGAINST)}


def series_legend(series: list[str]) -> str:
    """An HTML legend (wraps on a narrow screen) for the series a run drew, in the plot's colours."""
    items = "".join(f'<span><i style="background:{SERIES_COLOURS.get(name, "#6b7280")}"></i>{html.escape(name)}</span>'
                    for name in series)
    return f'<div class="studio-legend">{items}</div>' if items else ""


def run_repeated_in_page(*args, progress: gr.Progress = gr.Progress()):
    """run_repeated for the page: a run that fails clears the old timeline and says why in the status line,
    instead of an "Error" badge on every panel (the /loop API endpoint raises as before)."""
    try:
        outputs = run_repeated(*args, progress=progress)
    except gr.Error as exc:
        return None, None, None, None, None, None, status_html(str(exc.message), kind="error"), ""
    runs = len(outputs[4]) - 1  # the table has the start image as run 0
    legend = series_legend(list(dict.fromkeys(outputs[3]["series"])))
    return (*outputs, status_html(f"{runs} run{'s' if runs != 1 else ''} of {args[1]} done."), legend)


@ui
def check_start_image(path: str | None) -> str:
    """A start image too small to score is said when it arrives (file header only), not after the runs."""
    return too_small(path, MIN_SCORED_SIDE, "Repeated Run's scores")


def build_loop_tab() -> dict:
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = ImageInput("Start image: upload, paste or webcam", height=240, elem_id="loop-input")
            examples_slot = gr.Column()
            model = gr.Dropdown(model_choices("baseline", "sr", "face"), value="lanczos", label="Model",
                                elem_id="loop-model")
            fidelity = fidelity_box("loop-fidelity", sweep=False)
            runs = gr.Slider(1, MAX_RUNS, value=10, step=1, label="Runs", elem_id="loop-runs")
            scale = gr.Number(1.1, label="Output scale per run", info="e.g. 1.1 as in the original study")
            truth = ImageInput("Ground truth (optional)", height=160, elem_id="loop-truth")
            fps = gr.Slider(1, 12, value=2, step=1, label="Frames per second")
            run = gr.Button("Run repeatedly", variant="primary", elem_id="loop-run")
            api_run = gr.Button(visible=False)  # the /loop API endpoint (raises instead of writing the status)
        with gr.Column(scale=2, min_width=300):
            status = gr.HTML(elem_id="loop-status")
            gif = gr.Image(label="Timeline (GIF)", type="filepath", elem_id="loop-gif")
            video = gr.Video(label="Timeline (MP4)", height=360)
            strip = gr.Image(label="Frame strip", type="numpy")
            chart = gr.LinePlot(x="run", y="value", color="series", label="Metrics per run (PSNR and NIQE in the table)",
                                color_map=SERIES_COLOURS, colors_in_legend=[], elem_id="loop-chart")
            legend = gr.HTML(elem_id="loop-legend")
            table = gr.Dataframe(label="Per run", interactive=False, wrap=True)
            download = gr.File(label="Download GIF")
    outputs = [gif, video, strip, chart, table, download]
    inputs = [image, model, runs, scale, truth, fps, fidelity]
    run.click(run_repeated_in_page, inputs, [*outputs, status, legend], api_visibility="private",
              scroll_to_output=True)
    api_run.click(run_repeated, inputs, outputs, api_name="loop")
    model.change(show_fidelity, model, fidelity, api_visibility="private", queue=False)
    # Said when the file arrives (the scores need SSIM's window), not after the runs.
    image.upload(check_start_image, image, status, api_visibility="private", queue=False)
    rows = [[example("grace_hopper_face_blurred.png"), "lanczos", 10, 1.1, example("grace_hopper_face.png")]]
    rows += [[example("grace_hopper_face_blurred.png"), m, 10, 1.0, example("grace_hopper_face.png")]
             for m in runnable("gpen-bfr-256")]
    rows += [[example("astronaut_face_low.png"), m, 10, 1.1, None] for m in runnable("realesr-general-x4v3")]
    with examples_slot:
        gr.Examples(
            rows, inputs=[image, model, runs, scale, truth],
            label="Examples (click to run; models without weights here are left out)",
            fn=lambda *a: run_repeated_in_page(*a, 2.0), outputs=[*outputs, status, legend], run_on_click=True,
            cache_examples=False,
            visible_columns=[0],
        )
    return {"image": image, "model": model}
