"""Restore tab: run several models side by side on one upload, with timings and a before/after slider.

The page shows results as they come: each model's column when that model finishes, and in whole-photo mode
with a learned background the restored faces first (on a Lanczos background), replaced by the final image
when the background upsampler is done. The /restore API endpoint returns the final outputs only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import gradio as gr

import restorers
from restorers.media import images
from restorers.models import DEFAULT_THRESHOLD, FALLBACK_BACKGROUND, default_background
from restorers.pipelines import check_restore_options, mask_preview, parser_ready, parser_spec, shared_background

from . import costs
from .common import (USER_ERRORS, ImageInput, background_choices, example, load_input, model_choices, model_state,
                     plain_message, request_dir, runnable, save_result_png, status_html)
from .fidelity import fidelity_box, parse_fidelities, show_fidelity
from .inpaint_section import build_inpaint_section
from .jobs import job, ui
from .restore_estimate import count_faces, estimate_html, faces_cost

# Preselected when they can run here; the learned one is skipped when its weights are missing, so the
# default never fails. The slider shows the input's nearest-neighbour enlargement against the first
# result, so even the Lanczos baseline differs visibly (smooth vs blocky), and a model's additions show.
PREFERRED_MODELS = ["lanczos", "realesr-general-x4v3"]
PROVISIONAL_NOTE = "faces first, on a Lanczos background; the background upsampler is still running"


def background_default() -> str:
    """The background the picker preselects: whole-photo mode's default where it can run, else Lanczos."""
    choice = default_background()
    return choice if runnable(choice) else FALLBACK_BACKGROUND


@dataclass
class Outputs:
    """What the page shows so far; ``values()`` is the handler's output tuple."""

    gallery: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    faces: list = field(default_factory=list)
    files: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    compare: dict = field(default_factory=dict)
    titles: dict = field(default_factory=dict)
    befores: dict = field(default_factory=dict)

    def values(self, status: str, early: list | None = None):
        """The output tuple: results so far (plus ``early``: gallery items of provisional results)."""
        first = next(iter(self.compare), None)
        return (
            [*self.gallery, *(early or [])],
            self.compare[first] if first else None,
            gr.update(choices=[(self.titles[n], n) for n in self.compare], value=first),
            list(self.rows),
            list(self.faces),
            status,
            list(self.files) or None,
            dict(self.compare),
        )


def restore_updates(
    image: str | None,
    models: list[str] | None,
    outscale: float = 2.0,
    mode: str = "whole",
    background: str = "auto",
    only_center_face: bool = False,
    min_face: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    blend: float = 1.0,
    fidelity: str | float = "0.5",
    checkpoint: str | None = None,
    mask: str | None = None,
    progress: gr.Progress | None = None,
    progressive: bool = True,
) -> Iterator[tuple]:
    """The Restore action as a generator of output tuples: one after each model (and, with ``progressive``,
    one with a face model's provisional result), the final outputs last."""
    loaded = load_input(image)
    if isinstance(models, str) or not all(isinstance(m, str) for m in models or []):
        raise gr.Error("models must be a list of model names.")
    models = list(models or [])
    try:
        own, own_failure = own_checkpoint(checkpoint), None
    except gr.Error as exc:  # the ticked models still run; the checkpoint's problem is said beside them
        if not models:
            raise
        own, own_failure = None, str(exc.message)
    if not models and own is None:
        raise gr.Error("Tick at least one model.")
    weights = parse_fidelities(fidelity)
    # Checked once, before any model runs: a NaN or out-of-range value is one clear message.
    face_options = check_restore_options(dict(outscale=outscale, mode=mode, background=background,
                                              only_center_face=only_center_face, min_face=min_face,
                                              threshold=threshold, blend=blend, mask=mask or None))
    folder = request_dir("restore")
    out = Outputs(failures=[own_failure] if own_failure else [])
    runs = [*models, *([own] if own is not None else [])]  # your checkpoint: one more column
    background_for_faces = None
    asked = len(runs) + (1 if own_failure else 0)
    for index, model in enumerate(runs):
        name = model if isinstance(model, str) else model.name
        if progress is not None:
            progress(index / len(runs), desc=f"{name} ({index + 1}/{len(runs)})")
        try:
            restorer = restorers.load(model)
            options = dict(outscale=face_options["outscale"])
            if restorer.spec.family == "face":
                # Whole photos: every face model pastes onto one Real-ESRGAN background, upscaled once per click.
                if background_for_faces is None:
                    background_for_faces = shared_background(face_options["background"], restorer.device,
                                                             restorer.precision)
                sweep = weights if restorer.spec.fidelity and len(weights) > 1 else None  # one column per w
                steps = restorer.restore_steps(loaded, fidelities=sweep, provisional=progressive,
                                               **dict(face_options, background=background_for_faces),
                                               fidelity=weights[0])
            else:
                steps = restorer.restore_steps(loaded, **options, fidelity=weights[0])
            for results in steps:
                if results[0].provisional:
                    early = [(save_result_png(folder, f"{_stem(r.model)}-early", r.image, r.alpha, r.grayscale),
                              f"{_title(restorer, name, r.model)} · {PROVISIONAL_NOTE}") for r in results]
                    yield out.values(running_status(index, runs, restorer.spec.title, True), early)
                    continue
                add_results(out, restorer, name, results, loaded, folder, mode)
        except USER_ERRORS + (RuntimeError,) as exc:
            out.failures.append(f"{restorers.get_spec(name).title if name in restorers.available_models() else name}: "
                                f"{plain_message(str(exc), image)}")
            continue
        if index + 1 < len(runs):
            yield out.values(running_status(index + 1, runs, None, False))
    if progress is not None:
        progress(1.0, desc="done")
    if not out.gallery:
        raise gr.Error("No model could run. " + " ".join(out.failures), duration=None)
    yield out.values(restore_status(asked, asked - len(out.failures), out.notes, out.failures))


def _stem(key: str) -> str:
    return key.replace(" (w=", "-w").rstrip(")")  # 'codeformer (w=0.5)' -> 'codeformer-w0.5'


def _title(restorer, name: str, key: str) -> str:
    # result.model is e.g. 'codeformer (w=0.5)' in a sweep; the title follows it.
    return restorer.spec.title + key[len(name):]


def add_results(out: Outputs, restorer, name: str, results: list, loaded, folder: Path, mode: str) -> None:
    """One model's final results into the outputs: gallery item, slider pair, timings row, face crops, notes."""
    for result in results:
        key, title = result.model, _title(restorer, name, result.model)
        stem = _stem(key)
        path = save_result_png(folder, stem, result.image, result.alpha, result.grayscale)
        width, height = result.size
        out.gallery.append((path, f"{title} · {width}x{height} · {result.seconds:.2f} s"))
        out.files.append(path)
        # The slider needs two images of one size: the input enlarged by nearest neighbour (its pixels as
        # they are, just bigger), so whatever the model added, smoothing included, is visible.
        # One such image per output size, not per model: models at the same scale share it (one PNG write each saved).
        if result.size not in out.befores:
            before = images.resize(loaded.rgb, result.size, "nearest")
            out.befores[result.size] = save_result_png(folder, f"input-{width}x{height}", before)
        out.compare[key] = (out.befores[result.size], path)
        out.titles[key] = title
        out.rows.append([title, f"{width}x{height}", round(result.seconds, 3), len(result.faces) or ""])
        if restorer.spec.family == "face":
            out.notes.append(f"{title}: {len(result.faces)} face(s) found" if mode == "whole"
                             else f"{title}: aligned face")
            for i, (crop_in, crop_out) in enumerate(zip(result.crops_before, result.crops_after)):
                out.faces.append((save_result_png(folder, f"{stem}-face{i}-before", crop_in), f"{key} face {i + 1}: before"))
                out.faces.append((save_result_png(folder, f"{stem}-face{i}-after", crop_out), f"{key} face {i + 1}: after"))
                if result.mask == "parse" and i < len(result.masks):  # white: what was pasted back
                    out.faces.append((save_result_png(folder, f"{stem}-face{i}-mask", mask_preview(result.masks[i])),
                                      f"{key} face {i + 1}: paste mask"))
        # Shown once, in the status under the results (not also as a toast).
        out.notes.extend(f"{title}: {warning}" for warning in result.warnings)


def running_status(done: int, runs: list, title: str | None, early: bool) -> str:
    """The status while a run goes on: how many models are done, and what is shown early."""
    line = f"{done} of {len(runs)} models done; running the next."
    if early and title:
        line = f"{done} of {len(runs)} models done. {title}: {PROVISIONAL_NOTE}."
    return status_html(line)


@job(costs.restore)
def run_restore(
    image: str | None,
    models: list[str] | None,
    outscale: float = 2.0,
    mode: str = "whole",
    background: str = "lanczos",
    only_center_face: bool = False,
    min_face: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    blend: float = 1.0,
    fidelity: str | float = "0.5",
    checkpoint: str | None = None,
    mask: str | None = None,
    progress: gr.Progress = gr.Progress(),
):
    """Restore a photo (a face crop or a whole photo with faces) with one or more models side by side, timed.

    Args:
        image: the photo: an http(s) URL or a data:image/png;base64,... URI (PNG, JPEG, WebP, TIFF).
        models: model names to run side by side, e.g. ["lanczos", "gfpgan-v1.4"]; 'bicubic' and 'lanczos' are classical baselines that need no weights; the others download pinned weights on first use.
        outscale: output size as a multiple of the input size (1 to 4); lowered, with a note, if the output would exceed the pixel limit.
        mode: face models only: 'whole' detects every face, restores it and pastes it back; 'aligned' treats the input as one aligned face crop.
        background: face models in 'whole' mode: how the rest of the photo is upscaled: 'lanczos', 'none' (keep the input size), 'auto' (realesr-general-x4v3 where its weights can run, else lanczos) or a Real-ESRGAN model name.
        only_center_face: face models: restore only the face nearest the centre.
        min_face: face models: ignore faces smaller than this many pixels (0 keeps all).
        threshold: face models: face detection score threshold (0.5 to 0.99).
        blend: face models: 1 = fully restored face, 0 = the original face.
        fidelity: CodeFormer only: its fidelity weight w in [0, 1] (0 = strongest restoration, 1 = most faithful; default 0.5), or several separated by commas (e.g. '0, 0.5, 1') for a sweep with one result per w.
        checkpoint: optional: your own .pth/.safetensors (RRDBNet/ESRGAN, SRVGGNetCompact, GPEN, GFPGAN or CodeFormer, recognised from its tensors); its result is one more column.
        mask: face models in 'whole' mode: how faces are pasted back: 'parse' (the face region found by face parsing; hair, hats and background keep the original) or 'square' (the whole aligned crop, soft edges); empty: 'parse' when the face-parsing weights are here, else 'square' with a note.
    Returns:
        one restored image per model (captioned with its size and seconds), the input enlarged for comparison, a timings table, face crops before and after, a status line, the PNG files.
    """
    final = None
    for final in restore_updates(image, models, outscale, mode, background, only_center_face, min_face, threshold,
                                 blend, fidelity, checkpoint, mask, progress, progressive=False):
        pass
    return final


@job(costs.restore, what="restore")
def restore_in_page(*args, progress: gr.Progress = gr.Progress()):
    """The page's Restore: the same work as run_restore, yielding the outputs as each model finishes."""
    yield from restore_updates(*args, progress=progress, progressive=True)


def run_restore_in_page(*args, progress: gr.Progress = gr.Progress()):
    """restore_in_page for the page: a request that fails clears the old results and says why in the status,
    instead of leaving stale results under an "Error" badge (the API endpoint raises as before)."""
    try:
        yield from restore_in_page(*args, progress=progress)
    except gr.Error as exc:
        yield [], None, gr.update(choices=[], value=None), [], [], status_html(str(exc.message), kind="error"), None, {}


def own_checkpoint(path: str | None):
    """The ModelSpec of an uploaded checkpoint (architecture recognised from its tensors), or None."""
    if not path:
        return None
    from restorers.models import CheckpointError, checkpoint_spec

    try:
        return checkpoint_spec(path)
    except (CheckpointError, OSError) as exc:
        raise gr.Error(f"Your checkpoint: {plain_message(str(exc), path)}") from None


def restore_status(asked: int, ran: int, notes: list[str], failures: list[str]) -> str:
    """The status under the results: one short line; every note and failure folded into Details."""
    summary = f"All {ran} models ran." if ran == asked else f"{ran} of {asked} models ran; {len(failures)} could not."
    if asked == 1 and ran == 1:
        summary = "The model ran."
    if notes:
        summary += f" {len(notes)} note{'s' if len(notes) > 1 else ''}."
    details = [f"Could not run: {f}" for f in failures] + notes
    return status_html(summary, details, "warn" if failures else "info")


def mask_choices() -> list[tuple[str, str]]:
    """The paste-back mask radio's choices; the parse one says whether its weights are here."""
    return [(f"Face parsing: hair, hats, background stay as they were · {model_state(parser_spec())[0]}", "parse"),
            ("Square: the whole aligned crop, soft edges", "square")]


def default_mask() -> str:
    """'parse' only when its weights are here and verified (never preselected when it would fail or download)."""
    try:
        return "parse" if parser_ready() else "square"
    except Exception:  # noqa: BLE001 - a default must never break the page
        return "square"


def refresh_mask_on_load(demo: gr.Blocks, radio: gr.Radio) -> None:
    """Re-read the parser's weights state each time the page opens (as the model pickers do)."""
    demo.load(lambda: gr.update(choices=mask_choices(), value=default_mask()), None, radio,
              api_visibility="private", queue=False)


@job(faces_cost, gpu=False)
def check_upload(path: str | None) -> dict:
    """Report an unreadable photo at once, in words; count its faces for the estimate under the button
    ({"image": path, "faces": count, or None where the detector's weights are not here})."""
    if not path:
        return {}
    load_input(path)
    return {"image": path, "faces": count_faces(path)}


@ui
def pick_comparison(name: str | None, compare: dict[str, tuple[str, str]] | None):
    if not compare or name not in compare:
        return gr.update()
    return compare[name]


def example_rows() -> list[list]:
    """Examples with models that can run here (learned models are left out when their weights are missing)."""
    learned = runnable("realesr-general-x4v3", "gfpgan-v1.4", "gpen-bfr-512")
    models = ["lanczos", *learned]
    return [
        [example("astronaut_face_low.png"), models, 4.0, "aligned"],
        [example("two_portraits.jpg"), models, 2.0, "whole"],
        [example("grace_hopper_face_blurred.png"), models, 2.0, "aligned"],
        # A grey photo: the colouriser joins when its weights are here (it colours the face only, and says so).
        [example("grace_hopper_gray.png"), ["bicubic", *runnable("realesr-general-x4v3", "codeformer-colorization")],
         2.0, "whole"],
    ]


def run_example(image: str, models: list[str], outscale: float, mode: str, progress: gr.Progress = gr.Progress()):
    """An example's run: its models, less those found unable to run since the page was built (the Hub
    known unreachable by now), so it does not report "1 of 4 models ran"."""
    yield from run_restore_in_page(image, runnable(*models) or models, outscale, mode, background_default(),
                                   progress=progress)


def refresh_background_on_load(demo: gr.Blocks, background: gr.Dropdown) -> None:
    """Each time the page opens, a background choice that cannot run now (its weights missing, the Hub found
    unreachable since start-up) falls back to the default, so it is never left preselected."""
    def fresh(value: str | None):
        return gr.update(value=value if value in ("lanczos", "bicubic", "none") or runnable(value or "")
                         else background_default())

    demo.load(fresh, background, background, api_visibility="private", queue=False)


def build_restore_tab() -> dict:
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = ImageInput("Photo: a face crop or a whole photo", height=280,
                               elem_id="restore-input")
            examples_slot = gr.Column()
            models = gr.CheckboxGroup(model_choices("baseline", "sr", "face"), value=runnable(*PREFERRED_MODELS),
                                      label="Models (run side by side)", elem_id="restore-models",
                                      info="Each says whether it is ready, downloads on first use, or misses its weights.")
            outscale = gr.Slider(1.0, 4.0, value=2.0, step=0.1, label="Output scale",
                                 info="Network output is resized to this scale (as Real-ESRGAN's outscale); "
                                      "very large outputs are capped (RESTORERS_MAX_OUTPUT_PIXELS)")
            with gr.Accordion("Face options (GPEN / GFPGAN / CodeFormer)", open=False):
                mode = gr.Radio([("Whole photo: detect, align, paste back", "whole"), ("Aligned face crop", "aligned")],
                                value="whole", label="Input mode")
                background = gr.Dropdown(background_choices(), value=background_default(), label="Background upsampler",
                                         elem_id="restore-background",
                                         info="Default: Real-ESRGAN general-x4v3 where its weights can run (a few "
                                              "seconds on CPU, visibly sharper than Lanczos), else Lanczos.")
                only_center = gr.Checkbox(False, label="Only the centre face")
                min_face = gr.Slider(0, 256, value=0, step=8, label="Minimum face size (px)")
                threshold = gr.Slider(0.5, 0.99, value=DEFAULT_THRESHOLD, step=0.01, label="Detection threshold")
                blend = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Blend strength (1 = fully restored)")
                mask = gr.Radio(mask_choices(), value=default_mask(), label="Paste-back mask (whole photo)",
                                elem_id="restore-mask",
                                info="Face parsing pastes back only the face; square pastes the whole aligned crop.")
            fidelity = fidelity_box("restore-fidelity")
            with gr.Accordion("Your own checkpoint", open=False):
                checkpoint = gr.File(label="ESRGAN / Real-ESRGAN / SRVGG / GPEN / GFPGAN / CodeFormer weights "
                                           "(.pth, .safetensors): recognised from its tensors, run as one more column",
                                     file_types=[".pth", ".pt", ".ckpt", ".bin", ".safetensors"], type="filepath",
                                     elem_id="restore-checkpoint")
            run = gr.Button("Restore", variant="primary", elem_id="restore-run")
            estimate = gr.HTML(estimate_html(None, None), elem_id="restore-estimate")
            api_run = gr.Button(visible=False)  # the /restore API endpoint (raises instead of writing the status)
            inpaint = build_inpaint_section()  # its own accordion, inputs and outputs: the tab above is unchanged
        with gr.Column(scale=2, min_width=300):
            status = gr.HTML(elem_id="restore-status")
            gallery = gr.Gallery(label="Results", columns=2, height=480, object_fit="contain", allow_preview=True,
                                 elem_id="restore-gallery")
            compare_with = gr.Dropdown(label="Compare with the input", choices=[], elem_id="restore-compare")
            slider = gr.ImageSlider(label="Before (input, nearest-neighbour enlarged) / after", type="filepath",
                                    elem_id="restore-slider")
            timings = gr.Dataframe(headers=["model", "output size", "seconds", "faces"], label="Timings",
                                   interactive=False, elem_id="restore-timings")
            faces = gr.Gallery(label="Faces: before / after (/ paste mask)", columns=4, height="auto",
                               object_fit="contain", elem_id="restore-faces")
            files = gr.File(label="Download PNGs", file_count="multiple")
    compare_state = gr.State({})
    found_faces = gr.State({})
    # mask last: the /restore endpoint's older clients, which send the arguments before it, keep working.
    inputs = [image, models, outscale, mode, background, only_center, min_face, threshold, blend, fidelity, checkpoint,
              mask]
    outputs = [gallery, slider, compare_with, timings, faces, status, files, compare_state]
    estimate_inputs = [image, models, outscale, mode, background, only_center, fidelity, checkpoint, found_faces]
    show_estimate = dict(fn=estimate_html, inputs=estimate_inputs, outputs=estimate, api_visibility="private",
                         queue=False)
    image.change(check_upload, image, found_faces, api_visibility="private").then(**show_estimate)
    models.change(show_fidelity, models, fidelity, api_visibility="private", queue=False)
    for control in (models, outscale, mode, background, only_center, fidelity, checkpoint):
        control.change(**show_estimate)
    # scroll_to_output: on a phone the results sit below the whole input column. The page's run yields
    # each model's column as it finishes; afterwards the estimate drops the loading cost of what is now loaded.
    run.click(run_restore_in_page, inputs, outputs, api_visibility="private", scroll_to_output=True
              ).then(**show_estimate)
    api_run.click(run_restore, inputs, outputs, api_name="restore")
    compare_with.change(pick_comparison, [compare_with, compare_state], slider, api_visibility="private")
    with examples_slot:
        gr.Examples(
            example_rows(), inputs=[image, models, outscale, mode],
            label="Examples (public-domain photos; click to run; models without weights here are left out)",
            fn=run_example,
            outputs=outputs, run_on_click=True, cache_examples=False, elem_id="restore-examples",
            visible_columns=[0], examples_per_page=8,
        )
    return {"image": image, "models": models, "mask": mask, "background": background,
            "inpaint_model": inpaint["model"]}
