"""Restore tab, 'Inpaint a face': paint the damaged part of a face white and CodeFormer's inpainting network
redraws it; every pixel you did not paint comes back unchanged."""
from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

import restorers
from restorers.models import registry

from . import costs
from .common import USER_ERRORS, model_state, plain_message, request_dir, save_result_png, status_html
from .jobs import job

MODES = [("Aligned face crop (as the model was trained)", "aligned"),
         ("Whole photo: the mask is warped into each face found", "whole")]


def inpaint_specs() -> list:
    return [spec for spec in registry.specs("face") if spec.face_task == "inpaint"]


def inpaint_choices() -> list[tuple[str, str]]:
    """The registered inpainting models, each labelled with its weights state ('missing weights' offline)."""
    return [(f"{spec.title} · {model_state(spec)[0]}", spec.name) for spec in inpaint_specs()]


def _layer(value: Any) -> np.ndarray | None:
    array = None if value is None else np.asarray(value)
    return array if array is not None and array.ndim == 3 and array.shape[2] in (3, 4) else None


def editor_image_and_mask(editor: dict | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(the uploaded photo as RGB uint8, the painted mask as HxW bool or None when nothing was painted).

    The editor's background is the photo as uploaded; its layers hold the brush strokes on transparency,
    so a stroke is wherever a layer is opaque (whatever its colour)."""
    if not isinstance(editor, dict):
        raise gr.Error("Upload a face and paint the damaged part white first.")
    background = _layer(editor.get("background"))
    if background is None:
        raise gr.Error("Upload a face first, then paint the damaged part white.")
    rgb = np.ascontiguousarray(background[:, :, :3]).astype(np.uint8)
    if rgb.min() == rgb.max():  # an empty canvas (e.g. painted before the upload reached the editor)
        raise gr.Error("The editor has not passed a photo on yet (a blank canvas): give it a moment after the "
                       "upload, paint the damaged part white, then press Inpaint again.")
    mask = np.zeros(rgb.shape[:2], bool)
    for layer in editor.get("layers") or []:
        array = _layer(layer)
        if array is None or array.shape[2] != 4:
            continue
        if array.shape[:2] != rgb.shape[:2]:
            raise gr.Error(f"The painted layer is {array.shape[1]}x{array.shape[0]} but the photo is "
                           f"{rgb.shape[1]}x{rgb.shape[0]}; paint on the photo without resizing the canvas.")
        mask |= array[:, :, 3] > 127
    return rgb, (mask if mask.any() else None)


def inpaint_cost(editor: Any, model: Any = None, mode: Any = "aligned", *_: Any, **__: Any):
    from restorers.analysis import budget

    background = _layer(editor.get("background")) if isinstance(editor, dict) else None
    if background is None or not isinstance(model, str):
        return budget.Estimate()
    size = (background.shape[1], background.shape[0])
    return budget.restore_cost(size, [model], 1.0, mode=mode if mode in ("aligned", "whole") else "aligned",
                               background="none").scaled(costs.factor())


@job(inpaint_cost)
def run_inpaint(editor: dict | None, model: str | None = "codeformer-inpainting", mode: str = "aligned",
                checkpoint: str | None = None, progress: gr.Progress = gr.Progress()):
    """Inpaint a face: what is painted white is redrawn by CodeFormer's inpainting network, the rest is kept.

    Args:
        editor: the image editor's value: the photo as its background and the white brush strokes as layers.
        model: a registered inpainting model ('codeformer-inpainting'; its file is brought by you).
        mode: 'aligned' (the photo is one aligned face crop) or 'whole' (faces are found and the mask is warped into each).
        checkpoint: optional: your CodeFormer inpainting checkpoint (recognised from its tensors); used instead of model.
    Returns:
        the inpainted image (the input's size) and a status line.
    """
    rgb, mask = editor_image_and_mask(editor)
    target: Any = model or "codeformer-inpainting"
    if checkpoint:
        from restorers.models import CheckpointError, checkpoint_spec

        try:
            target = checkpoint_spec(checkpoint)
        except (CheckpointError, OSError) as exc:
            raise gr.Error(f"Your checkpoint: {plain_message(str(exc), checkpoint)}") from None
        if target.face_task != "inpaint":
            raise gr.Error(f"Your checkpoint is {target.title}, not a CodeFormer inpainting network "
                           "(its codebook has 512 codes).")
    elif target not in [spec.name for spec in inpaint_specs()]:
        raise gr.Error(f"'{target}' is not an inpainting model; choose one of "
                       f"{', '.join(spec.name for spec in inpaint_specs())}.")
    progress(0.1, desc="inpainting")
    try:
        result = restorers.restore(rgb, target, mode=mode, inpaint_mask=mask, mask="square")
    except USER_ERRORS + (RuntimeError,) as exc:
        raise gr.Error(plain_message(str(exc))) from None
    path = save_result_png(request_dir("inpaint"), "inpainted", result.image)
    painted = int(mask.sum()) if mask is not None else int(np.all(rgb == 255, axis=2).sum())
    where = "the face" if mode == "aligned" else f"{len(result.faces)} face(s)"
    details = [f"{painted} pixels painted; every other pixel is the input's, unchanged"] + result.warnings
    return path, status_html(f"Inpainted {where} in {result.seconds:.2f} s.", details, "info")


def run_inpaint_in_page(*args, progress: gr.Progress = gr.Progress()):
    """run_inpaint for the page: a failure clears the old result and says why in the status."""
    try:
        return run_inpaint(*args, progress=progress)
    except gr.Error as exc:
        return None, status_html(str(exc.message), kind="error")


def build_inpaint_section() -> dict:
    """An accordion of its own (closed by default), so the Restore tab above stays as it was."""
    with gr.Accordion("Inpaint a face (CodeFormer inpainting)", open=False, elem_id="inpaint-section"):
        gr.Markdown("Paint the damaged part of the face **white** with the brush; only that part is redrawn, "
                    "every other pixel is kept. The network's file is not on the Hugging Face Hub: get "
                    f"[codeformer_inpainting.pth]({registry.CODEFORMER_INPAINTING_URL}) (S-Lab License 1.0, "
                    "non-commercial) and put it in `$RESTORERS_WEIGHTS_DIR`, or upload it below.")
        editor = gr.ImageEditor(
            label="Face: paint the damaged area white", type="numpy", image_mode="RGBA", format="png",
            sources=["upload", "clipboard"], transforms=(), layers=False, height=360,
            brush=gr.Brush(colors=["#ffffff"], default_color="#ffffff", color_mode="fixed", default_size=24),
            eraser=gr.Eraser(default_size=24), elem_id="inpaint-editor",
        )
        choices = inpaint_choices()
        model = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Inpainting model",
                            elem_id="inpaint-model")
        mode = gr.Radio(MODES, value="aligned", label="Input", elem_id="inpaint-mode")
        checkpoint = gr.File(label="Or your CodeFormer inpainting checkpoint (.pth, .safetensors)",
                             file_types=[".pth", ".pt", ".safetensors"], type="filepath", elem_id="inpaint-checkpoint")
        run = gr.Button("Inpaint", variant="primary", elem_id="inpaint-run")
        api_run = gr.Button(visible=False)
        status = gr.HTML(elem_id="inpaint-status")
        output = gr.Image(label="Inpainted", type="filepath", format="png", interactive=False, elem_id="inpaint-output")
    inputs = [editor, model, mode, checkpoint]
    run.click(run_inpaint_in_page, inputs, [output, status], api_visibility="private", scroll_to_output=True)
    api_run.click(run_inpaint, inputs, [output, status], api_name="inpaint")
    return {"editor": editor, "model": model}


def refresh_inpaint_on_load(demo: gr.Blocks, dropdown: gr.Dropdown) -> None:
    """Re-read the inpainting model's weights state each time the page opens (a file added meanwhile shows as ready)."""
    def fresh(value):
        choices = inpaint_choices()
        names = [name for _, name in choices]
        return gr.update(choices=choices, value=value if value in names else (names[0] if names else None))

    demo.load(fresh, dropdown, dropdown, api_visibility="private", queue=False)
