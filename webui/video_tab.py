"""Video tab: restore a clip frame by frame with one model, keep its sound, compare before | after."""
from __future__ import annotations

import math
import re
import time
from pathlib import Path

import gradio as gr

from restorers.analysis import budget
from restorers.media import video_io as media
from restorers.models import DEFAULT_THRESHOLD
from restorers.guards import check_number
from restorers.pipelines import process_video

from . import costs
from .common import (background_choices, example, model_choices, plain_message, request_dir, runnable, save_result_png,
                     status_html)
from .fidelity import DEFAULT_TEXT, fidelity_box, parse_fidelity, show_fidelity
from .jobs import job, ui

VIDEO_TYPES = list(media.VIDEO_SUFFIXES)
# Every registered SR model but x4plus, the slowest (budget.SR_S_PER_MP): its background would cost every frame.
BACKGROUNDS_LEFT_OUT = ("realesrgan-x4plus",)
EXAMPLE_CLIP = "portraits_pan.mp4"
FACES_PER_FRAME = 2  # what a cost estimate assumes per frame (the frames are not decoded before the run)
UPDATE_EVERY_S = 0.5  # how often the page's status line is refreshed while frames are restored
SOUND = {"copied": "sound copied", "aac": "sound re-encoded to AAC", "none": "the clip has no sound",
         "dropped": "sound left out", "failed": "sound could not be kept (see the note)"}


def _number(name: str, value, default=None, lo: float | None = None, hi: float | None = None, integer: bool = False):
    """An empty box gives ``default``; anything else must be a number in range (NaN or Infinity sent by an
    API client is an error that names the parameter, never a silent default or an OverflowError)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return check_number(name, value, lo, hi, integer=integer)


def _estimate_number(value, default=None):
    """Lenient reading for the cost estimate, which runs before the checks: a bad value counts as the default."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def estimate(video: str | None, model: str | None, scale=2.0, background: str = "lanczos",
             only_center_face: bool = False, *_, start=None, end=None, max_frames=None, **__) -> budget.Estimate:
    """Seconds of work: one frame's cost (as Restore estimates it, without reloading the model) x frames."""
    if not video or not model:
        return budget.Estimate()
    try:
        info = media.probe(video)
    except media.MediaError:
        return budget.Estimate()  # the handler says what is wrong with the file
    start_s = _estimate_number(start, 0.0) or 0.0
    stop = min(_estimate_number(end, info.duration) or info.duration, info.duration)
    frames = max(1, round(max(stop - start_s, 0.0) * info.fps))
    if _estimate_number(max_frames):
        frames = min(frames, int(_estimate_number(max_frames)))
    outscale = _estimate_number(scale, 2.0) or 2.0
    one = budget.model_cost(model, info.width, info.height, outscale, mode="whole", background=background,
                            faces=1 if only_center_face else FACES_PER_FRAME)
    load = budget.MODEL_LOAD_S * sum(1 for what, _ in one.parts if what != "lanczos" and what != "bicubic")
    out_mp = info.width * info.height * outscale**2 / 1e6
    work = budget.part(f"{model} on {frames} frames", (one.seconds - load) * frames + load)
    work = work + budget.part("video encoding", budget.WRITE_S_PER_FRAME_MP * out_mp * frames * 2)
    return work.scaled(costs.factor())


def _cost(video, model, scale=2.0, background="lanczos", only_center_face=False, min_face=0, threshold=DEFAULT_THRESHOLD,
          blend=1.0, smooth=True, start=None, end=None, max_frames=None, *_, **__) -> budget.Estimate:
    return estimate(video, model, scale, background, only_center_face, start=start, end=end, max_frames=max_frames)


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left"
    return f"about {seconds:.0f} s left" if seconds < 120 else f"about {seconds / 60:.1f} min left"


@job(_cost, what="video")
def run_video(video: str | None, model: str | None, scale: float = 2.0, background: str = "lanczos",
              only_center_face: bool = False, min_face: float = 0, threshold: float = DEFAULT_THRESHOLD, blend: float = 1.0,
              smooth: bool = True, start: float | None = None, end: float | None = None,
              max_frames: float | None = None, fidelity: str | float = DEFAULT_TEXT,
              progress: gr.Progress = gr.Progress()):
    """Restore a video clip frame by frame with one model, keeping its sound and frame rate.

    Args:
        video: the clip (mp4, mov, webm, mkv, avi or an animated GIF).
        model: one model, e.g. 'lanczos', 'realesr-general-x4v3' or 'gfpgan-v1.4' (face models work on
            whole frames: detect, align, restore, paste back).
        scale: output scale, e.g. 2.
        background: face models: how the frame around the faces is upscaled ('lanczos', 'none', an SR model).
        only_center_face: face models: restore only the face nearest the centre.
        min_face: face models: ignore faces smaller than this many pixels.
        threshold: face models: detection score threshold.
        blend: face models: 1 = fully restored face, 0 = the original.
        smooth: face models: track faces and smooth their landmarks over time (steadier faces).
        start: first second of the clip to restore (empty: the beginning).
        end: last second (empty: the end).
        max_frames: stop after this many frames (empty or 0: all).
        fidelity: CodeFormer only: its fidelity weight w in [0, 1] (0 = strongest restoration, 1 = most faithful; default 0.5), one value used for every frame.
    Returns:
        the restored video, the side-by-side video (before | after), a strip of before/after frames, a
        status line, and the two videos as downloads.
    """
    if not video:
        raise gr.Error("Please upload a video first.")
    if not model:
        raise gr.Error("Pick a model.")
    name = Path(video).name
    folder = request_dir("video")
    stem = Path(name).stem or "video"
    out, side = folder / f"{stem}_{model}.mp4", folder / f"{stem}_{model}_side-by-side.mp4"
    try:
        options = dict(scale=_number("scale", scale, 2.0), side_by_side=side, background=background,
                       only_center_face=bool(only_center_face),
                       min_face=_number("min_face", min_face, 0, 0, 1 << 16, integer=True),
                       threshold=_number("threshold", threshold, DEFAULT_THRESHOLD, 0.0, 1.0),
                       blend=_number("blend", blend, 1.0, 0.0, 1.0), smooth=bool(smooth),
                       start=_number("start", start, None, 0.0) or None, end=_number("end", end, None, 0.0) or None,
                       max_frames=_number("max_frames", max_frames, 0, 0, None, integer=True) or None,
                       fidelity=parse_fidelity(fidelity))
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    keep = gr.update()
    shown = 0.0
    try:
        for event in process_video(video, out, model, **options):
            if event.stage == "start":
                progress(0.0, desc=event.message)
            elif event.stage == "frame":
                progress(event.fraction, desc=f"frame {event.done}/{event.total} · {event.fps:.1f} fps · "
                                              f"{_when(event.eta)}")
                if time.monotonic() - shown >= UPDATE_EVERY_S:
                    # A yield per step also lets a Stop click end the job between frames.
                    shown = time.monotonic()
                    yield keep, keep, keep, status_html(f"Restoring: frame {event.done} of {event.total} at "
                                                        f"{event.fps:.1f} fps, {_when(event.eta)}."), keep
            elif event.stage == "audio":
                progress(1.0, desc=event.message)
            result = event.result
    except (media.MediaError, ValueError) as exc:
        raise gr.Error(plain_message(str(exc), video), duration=None) from exc
    strip = save_result_png(folder, f"{stem}_{model}_strip", result.strip)
    summary = (f"{result.frames} frames, {result.size[0]}x{result.size[1]} at {result.fps:g} fps "
               f"({result.duration:.1f} s), {SOUND[result.audio]}; {result.seconds:.1f} s of work "
               f"({result.frames / max(result.seconds, 1e-9):.2f} frames/s).")
    details = list(result.warnings)
    if result.faces:
        details.append(f"{result.faces} face detections over the frames; landmark smoothing "
                       f"{'on' if smooth else 'off'}; {result.cuts} shot cut(s) seen")
    kind = "warn" if result.warnings else "info"
    yield str(result.path), str(result.side_by_side), strip, status_html(summary, details, kind), \
        [str(result.path), str(result.side_by_side)]


@ui
def stopped_status(shown: str | None) -> str:
    """What Stop leaves in the status line: where the work ended, not the last progress line ('frame 67 of
    1000 ... about 2.3 min left') as if it were still running."""
    found = re.search(r"frame (\d+) of (\d+)", shown or "")
    where = f" at frame {found[1]} of {found[2]}" if found else ""
    return status_html(f"Stopped{where}. A partial video is not kept; to restore part of a clip, set Start and End.",
                       kind="warn")


def run_video_in_page(*args, progress: gr.Progress = gr.Progress()):
    """run_video for the page: a run that fails clears the old results and says why in the status line,
    instead of an "Error" badge on every panel (the /video API endpoint raises as before)."""
    try:
        yield from run_video(*args, progress=progress)
    except gr.Error as exc:
        yield None, None, None, status_html(str(exc.message), kind="error"), None


def _any_file_to_handler(component: gr.File) -> gr.File:
    """Hand a file of another type (a .png) to the handler, which says in words what it is, instead of
    gradio's "Invalid file type" raised before the handler (an "Error" badge on every output)."""
    original = component.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except gr.Error:
            path = getattr(payload, "path", None)
            if path:
                return str(path)
            raise

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


def build_video_tab() -> dict:
    default = (runnable("gfpgan-v1.4", "gpen-bfr-512", "realesr-general-x4v3") or ["lanczos"])[0]
    with gr.Row():
        with gr.Column(scale=1):
            video = gr.File(label="Video clip (mp4, mov, webm, mkv, avi, animated GIF)", file_types=VIDEO_TYPES,
                            type="filepath", elem_id="video-input")
            _any_file_to_handler(video)
            examples_slot = gr.Column()
            model = gr.Dropdown(model_choices("baseline", "sr", "face"), value=default, label="Model",
                                elem_id="video-model")
            fidelity = fidelity_box("video-fidelity", sweep=False)
            scale = gr.Slider(1.0, 4.0, value=2.0, step=0.5, label="Output scale", elem_id="video-scale")
            with gr.Accordion("Face options (GPEN / GFPGAN / CodeFormer)", open=False):
                smooth = gr.Checkbox(True, label="Steady faces: track faces and smooth their landmarks over time",
                                     elem_id="video-smooth")
                background = gr.Dropdown(background_choices(*BACKGROUNDS_LEFT_OUT), value="lanczos",
                                         label="Background upsampler")
                only_center = gr.Checkbox(False, label="Only the centre face")
                min_face = gr.Slider(0, 256, value=0, step=8, label="Minimum face size (px)")
                threshold = gr.Slider(0.5, 0.99, value=DEFAULT_THRESHOLD, step=0.01, label="Detection threshold")
                blend = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Blend strength (1 = fully restored)")
            with gr.Accordion("Part of the clip", open=False):
                with gr.Row():
                    start = gr.Number(None, label="Start (s)", minimum=0)
                    end = gr.Number(None, label="End (s)", minimum=0)
                max_frames = gr.Number(None, label="At most this many frames", minimum=0, precision=0)
            with gr.Row():
                run = gr.Button("Restore video", variant="primary", elem_id="video-run")
                stop = gr.Button("Stop", variant="stop", elem_id="video-stop")
            api_run = gr.Button(visible=False)  # the /video API endpoint (raises instead of writing the status)
        with gr.Column(scale=2):
            restored = gr.Video(label="Restored (with the original sound)", elem_id="video-output", height=360)
            compare = gr.Video(label="Before | after", elem_id="video-compare", height=240)
            strip = gr.Image(label="Frames: before (top) and after", type="filepath", elem_id="video-strip")
            status = gr.HTML(elem_id="video-status")
            files = gr.File(label="Download", file_count="multiple")
    inputs = [video, model, scale, background, only_center, min_face, threshold, blend, smooth, start, end, max_frames,
              fidelity]
    outputs = [restored, compare, strip, status, files]
    event = run.click(run_video_in_page, inputs, outputs, api_visibility="private", scroll_to_output=True)
    api_run.click(run_video, inputs, outputs, api_name="video")
    stop.click(stopped_status, status, status, cancels=[event], api_visibility="private", queue=False)
    model.change(show_fidelity, model, fidelity, api_visibility="private", queue=False)
    with examples_slot:  # under the input, as on every other tab (not below all the players)
        gr.Examples(
            [[example(EXAMPLE_CLIP), name, 2.0] for name in dict.fromkeys([default, "lanczos"])],
            inputs=[video, model, scale], label="Example (public-domain portraits, a slow pan and zoom with a tone)",
            fn=run_video_in_page, outputs=outputs, run_on_click=True, cache_examples=False, elem_id="video-examples",
        )
    return {"video": video, "model": model}
