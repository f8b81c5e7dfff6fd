"""Interpolate tab: StyleGAN2-ADA seeds -> latent walk -> MP4 and GIF, plus the keyframe faces, which can
be sent to the Restore and Degrade & Measure tabs as clean, synthetic inputs."""
from __future__ import annotations

import gradio as gr

from restorers.media import contact_sheet
from restorers.media import write_gif, write_mp4
from restorers.analysis import check_walk, latent_walk, load_generator, parse_seeds
from restorers.guards import MAX_FPS, MIN_FPS
from restorers.guards import check_int, check_number

from . import costs
from .common import USER_ERRORS, model_choices, plain_message, request_dir, runnable, save_result_png, status_html
from .jobs import job

INTERPOLATION_CHOICES = [("w cubic (smooth)", "w-cubic"), ("w linear", "w-linear"),
                         ("z spherical (slerp)", "z-slerp"), ("z linear", "z-linear")]
SIZE_CHOICES = [("128 px", 128), ("256 px", 256), ("512 px", 512), ("model size", 0)]


@job(costs.interpolate)
def run_interpolation(model: str | None, custom_pickle: str | None = None, seeds: str = "1,2,3",
                      frames_between: float = 24, interpolation: str = "w-cubic", psi: float = 0.7,
                      loop: bool = True, fps: float = 24, size: float = 256,
                      progress: gr.Progress = gr.Progress()):
    """Render a StyleGAN2-ADA latent walk through the faces of several seeds, as MP4 and GIF.

    Args:
        model: the registered generator, 'stylegan2-ada-ffhq'.
        custom_pickle: optional StyleGAN2-ADA network pickle (.pkl URL or data: URI) to use instead; loaded safely, no code in it runs.
        seeds: keyframe seeds, e.g. '1,2,3' or '1-4'.
        frames_between: frames between two keyframes.
        interpolation: 'w-cubic', 'w-linear', 'z-slerp' or 'z-linear'.
        psi: truncation psi (lower = closer to the average face, less variety).
        loop: return to the first keyframe seamlessly.
        fps: frames per second.
        size: output side in pixels (0 = the model's own).
    Returns:
        the walk as MP4 and GIF, the GIF file, a contact sheet of the keyframes, the keyframe PNGs.
    """
    try:
        seed_list = parse_seeds(seeds)
        check_number("fps", fps, MIN_FPS, MAX_FPS)
        size = check_int("output size", size, 0, 4096) if size not in (None, "") else 0
        frames_between, interpolation, psi, loop, size = check_walk(len(seed_list), frames_between, interpolation,
                                                                    psi, loop, size)
        progress(0.0, desc="loading the generator")
        generator = load_generator(custom_pickle or model or "stylegan2-ada-ffhq")
        walk = latent_walk(generator, seed_list, frames_between, interpolation, psi, loop,
                           size, progress=lambda f, d: progress(f, desc=d))
    except USER_ERRORS + (RuntimeError,) as exc:
        raise gr.Error(plain_message(str(exc), custom_pickle), duration=None) from exc
    folder = request_dir("walk")
    progress(1.0, desc="writing GIF and MP4")
    gif = write_gif(walk.frames, folder / "walk.gif", fps, loop=walk.loop)
    mp4 = write_mp4(walk.frames, folder / "walk.mp4", fps)
    sheet = contact_sheet(walk.keyframes, [f"seed {s}" for s in walk.seeds])
    keyframes = [save_result_png(folder, f"seed{s}", face) for s, face in zip(walk.seeds, walk.keyframes)]
    gr.Info(f"{len(walk.frames)} frames in {walk.seconds:.1f} s")
    return str(mp4), str(gif), str(gif), sheet, keyframes


def run_interpolation_in_page(*args, progress: gr.Progress = gr.Progress()):
    """run_interpolation for the page: a walk that fails clears the old one and says why in the status line,
    instead of an "Error" badge on every panel (the /interpolate API endpoint raises as before)."""
    try:
        outputs = run_interpolation(*args, progress=progress)
    except gr.Error as exc:
        return None, None, None, None, None, status_html(str(exc.message), kind="error")
    return (*outputs, status_html(f"The walk through {len(outputs[4])} keyframes is ready."))


def build_interpolate_tab(send_to_restore: gr.components.Component | None = None,
                          send_to_measure: gr.components.Component | None = None,
                          tabs: gr.Tabs | None = None) -> dict:
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            model = gr.Dropdown(model_choices("generator"), value="stylegan2-ada-ffhq", label="Generator")
            examples_slot = gr.Column()
            custom = gr.File(label="...or your own StyleGAN2-ADA .pkl (loaded safely: no code in it runs)",
                             file_types=[".pkl"], elem_id="walk-pickle")
            seeds = gr.Textbox("1,2,3", label="Seeds (keyframes)", info="e.g. 1,2,3 or 10-14", elem_id="walk-seeds")
            frames_between = gr.Slider(0, 120, value=24, step=1, label="Frames between keyframes")
            interpolation = gr.Dropdown(INTERPOLATION_CHOICES, value="w-cubic", label="Space and method")
            psi = gr.Slider(0.0, 1.2, value=0.7, step=0.05, label="Truncation psi")
            loop = gr.Checkbox(True, label="Loop back to the first keyframe seamlessly")
            fps = gr.Slider(1, 60, value=24, step=1, label="Frames per second")
            size = gr.Dropdown(SIZE_CHOICES, value=256, label="Output size")
            run = gr.Button("Render walk", variant="primary", elem_id="walk-run")
            api_run = gr.Button(visible=False)  # the /interpolate API endpoint (raises instead of writing the status)
            # The endpoint's size is an integer (0 = the model's own): the dropdown's API type said "string" with
            # integer choices, so a client sending "256" as the page told it was refused.
            api_size = gr.Number(256, precision=0, minimum=0, maximum=4096, visible=False, label="Output size (px)")
        with gr.Column(scale=2, min_width=300):
            status = gr.HTML(elem_id="walk-status")
            video = gr.Video(label="Walk (MP4)", autoplay=True, loop=True, height=360)
            gif = gr.Image(label="Walk (GIF)", type="filepath", elem_id="walk-gif")
            download = gr.File(label="Download GIF")
            sheet = gr.Image(label="Keyframes", type="numpy")
            keyframes = gr.File(label="Keyframe faces (PNG)", file_count="multiple")
            with gr.Row():
                to_restore = gr.Button("Send the first face to Restore")
                to_measure = gr.Button("Send the faces to Degrade & Measure")
    inputs = [model, custom, seeds, frames_between, interpolation, psi, loop, fps, size]
    outputs = [video, gif, download, sheet, keyframes]
    run.click(run_interpolation_in_page, inputs, [*outputs, status], api_visibility="private", scroll_to_output=True)
    api_run.click(run_interpolation, [*inputs[:-1], api_size], outputs, api_name="interpolate")
    # The examples use the FFHQ generator: say plainly when its weights are missing here.
    ready = bool(runnable("stylegan2-ada-ffhq"))
    with examples_slot:
        gr.Examples(
            [["1,2,3", 24, "w-cubic", 0.7, True], ["10-14", 12, "z-slerp", 0.5, True],
             ["42,7", 30, "w-linear", 1.0, False]],
            inputs=[seeds, frames_between, interpolation, psi, loop],
            label=("Examples (StyleGAN2-ADA FFHQ; click to run)" if ready else
                   "Examples (they need the StyleGAN2-ADA FFHQ weights, which are missing here: "
                   "they will fail; upload your own .pkl instead)"),
            fn=lambda sd, fb, it, p, lp: run_interpolation_in_page("stylegan2-ada-ffhq", None, sd, fb, it, p, lp, 24, 256),
            outputs=[*outputs, status], run_on_click=True, cache_examples=False,
            visible_columns=[0, 1, 2],  # seeds, frames, interpolation; five columns do not fit a phone
        )

    def first(files):
        if not files:
            raise gr.Error("Render a walk first.")
        return files[0], gr.Tabs(selected="restore")

    def every(files):
        if not files:
            raise gr.Error("Render a walk first.")
        return files, gr.Tabs(selected="measure")

    if send_to_restore is not None and tabs is not None:
        to_restore.click(first, keyframes, [send_to_restore, tabs], api_visibility="private")
    if send_to_measure is not None and tabs is not None:
        to_measure.click(every, keyframes, [send_to_measure, tabs], api_visibility="private")
    return {}
