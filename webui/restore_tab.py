"""Restore tab: run several models side by side on one upload, with timings and a before/after slider."""
from __future__ import annotations

import gradio as gr

import restorers
from restorers import images

from .common import USER_ERRORS, example, load_input, model_choices, request_dir, save_result_png

DEFAULT_MODELS = ["lanczos", "realesr-general-x4v3"]
BG_CHOICES = [("Lanczos", "lanczos"), ("None (keep size)", "none"), ("Real-ESRGAN x2plus", "realesrgan-x2plus"),
              ("Real-ESRGAN x4plus", "realesrgan-x4plus"), ("Real-ESRGAN general-x4v3", "realesr-general-x4v3")]


def run_restore(
    image: str | None,
    models: list[str] | None,
    outscale: float = 2.0,
    mode: str = "whole",
    background: str = "lanczos",
    only_center_face: bool = False,
    min_face: int = 0,
    threshold: float = 0.9,
    blend: float = 1.0,
    progress: gr.Progress = gr.Progress(),
):
    """Restore ``image`` with each model; returns gallery, slider, compare choices, timings, faces, status, files."""
    loaded = load_input(image)
    if not models:
        raise gr.Error("Tick at least one model.")
    folder = request_dir("restore")
    gallery, rows, faces, files, failures, notes = [], [], [], [], [], []
    compare: dict[str, tuple[str, str]] = {}
    titles: dict[str, str] = {}
    for index, name in enumerate(models):
        progress(index / len(models), desc=f"{name} ({index + 1}/{len(models)})")
        try:
            restorer = restorers.load(name)
            options = dict(outscale=outscale)
            if restorer.spec.family == "face":
                options.update(mode=mode, background=background, only_center_face=only_center_face,
                               min_face=int(min_face), threshold=threshold, blend=blend)
            result = restorer.restore(loaded, **options)
        except USER_ERRORS + (RuntimeError,) as exc:
            failures.append(f"**{name}**: {exc}")
            continue
        path = save_result_png(folder, f"{name}", result.image, result.alpha, result.grayscale)
        width, height = result.size
        caption = f"{restorer.spec.title} · {width}x{height} · {result.seconds:.2f} s"
        gallery.append((path, caption))
        files.append(path)
        # The slider needs two images of one size: show the input resized to the result's size.
        before = images.resize(loaded.rgb, result.size, "lanczos")
        compare[name] = (save_result_png(folder, f"{name}-before", before), path)
        titles[name] = restorer.spec.title
        rows.append([restorer.spec.title, f"{width}x{height}", round(result.seconds, 3), len(result.faces) or ""])
        if restorer.spec.family == "face":
            notes.append(f"{restorer.spec.title}: {len(result.faces)} face(s) found" if mode == "whole"
                         else f"{restorer.spec.title}: aligned face")
            for i, (crop_in, crop_out) in enumerate(zip(result.crops_before, result.crops_after)):
                faces.append((save_result_png(folder, f"{name}-face{i}-before", crop_in), f"{name} face {i + 1}: before"))
                faces.append((save_result_png(folder, f"{name}-face{i}-after", crop_out), f"{name} face {i + 1}: after"))
        for warning in result.warnings:
            gr.Warning(f"{restorer.spec.title}: {warning}")
            notes.append(f"{restorer.spec.title}: {warning}")
    progress(1.0, desc="done")
    if not gallery:
        raise gr.Error("No model could run.\n\n" + "\n\n".join(failures), duration=None)
    for failure in failures:
        gr.Warning(failure.replace("**", ""), duration=None)
    first = next(iter(compare))
    status = "\n".join(f"- {line}" for line in notes + [f"failed: {f}" for f in failures]) or "All models ran."
    return (
        gallery,
        compare[first],
        gr.update(choices=[(titles[n], n) for n in compare], value=first),
        rows,
        faces,
        status,
        files,
        compare,
    )


def preview_image(path: str | None):
    """Show the upload (or clear the preview); a file that is not an image gets a clear error."""
    if not path:
        return None
    loaded = load_input(path)
    return images.to_pil(loaded.rgb, loaded.alpha, loaded.grayscale)


def pick_comparison(name: str | None, compare: dict[str, tuple[str, str]] | None):
    if not compare or name not in compare:
        return gr.update()
    return compare[name]


EXAMPLE_MODELS = ["lanczos", "realesr-general-x4v3", "gfpgan-v1.4", "gpen-bfr-512"]
EXAMPLES = [
    [example("astronaut_face_low.png"), EXAMPLE_MODELS, 4.0, "aligned"],
    [example("two_portraits.jpg"), EXAMPLE_MODELS, 2.0, "whole"],
    [example("grace_hopper_face_blurred.png"), EXAMPLE_MODELS, 2.0, "aligned"],
    [example("grace_hopper_gray.png"), ["bicubic", "lanczos", "realesr-general-x4v3"], 2.0, "whole"],
]


def build_restore_tab() -> dict:
    with gr.Row():
        with gr.Column(scale=1):
            # gr.File, not gr.Image: our own decoder keeps 16-bit, alpha and EXIF, and reports bad files clearly.
            image = gr.File(label="Photo (a face crop or a whole photo)", file_types=["image"], type="filepath",
                            elem_id="restore-input")
            preview = gr.Image(label="Input", interactive=False, height=240, elem_id="restore-preview")
            models = gr.CheckboxGroup(model_choices("baseline", "sr", "face"), value=DEFAULT_MODELS,
                                      label="Models (run side by side)", elem_id="restore-models")
            outscale = gr.Slider(1.0, 4.0, value=2.0, step=0.1, label="Output scale",
                                 info="Network output is resized to this scale (as Real-ESRGAN's outscale)")
            with gr.Accordion("Face options (GPEN / GFPGAN)", open=False):
                mode = gr.Radio([("Whole photo: detect, align, paste back", "whole"), ("Aligned face crop", "aligned")],
                                value="whole", label="Input mode")
                background = gr.Dropdown(BG_CHOICES, value="lanczos", label="Background upsampler")
                only_center = gr.Checkbox(False, label="Only the centre face")
                min_face = gr.Slider(0, 256, value=0, step=8, label="Minimum face size (px)")
                threshold = gr.Slider(0.5, 0.99, value=0.9, step=0.01, label="Detection threshold")
                blend = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Blend strength (1 = fully restored)")
            run = gr.Button("Restore", variant="primary", elem_id="restore-run")
        with gr.Column(scale=2):
            gallery = gr.Gallery(label="Results", columns=3, height="auto", elem_id="restore-gallery")
            compare_with = gr.Dropdown(label="Compare with the input", choices=[], elem_id="restore-compare")
            slider = gr.ImageSlider(label="Before / after", type="filepath", elem_id="restore-slider")
            timings = gr.Dataframe(headers=["model", "output size", "seconds", "faces"], label="Timings",
                                   interactive=False, elem_id="restore-timings")
            status = gr.Markdown(elem_id="restore-status")
            faces = gr.Gallery(label="Faces: before / after", columns=6, height="auto")
            files = gr.File(label="Download PNGs", file_count="multiple")
    compare_state = gr.State({})
    image.change(preview_image, image, preview, api_visibility="private")
    run.click(
        run_restore,
        [image, models, outscale, mode, background, only_center, min_face, threshold, blend],
        [gallery, slider, compare_with, timings, faces, status, files, compare_state],
        api_name="restore",
    )
    compare_with.change(pick_comparison, [compare_with, compare_state], slider, api_visibility="private")
    gr.Examples(
        EXAMPLES, inputs=[image, models, outscale, mode], label="Examples (public-domain photos; click to run)",
        fn=lambda *args: run_restore(*args[:3], args[3], "lanczos"),
        outputs=[gallery, slider, compare_with, timings, faces, status, files, compare_state],
        run_on_click=True, cache_examples=False,
    )
    return {"image": image}
