"""Degrade & Measure tab: degrade clean photos on purpose, restore them, score every model."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from restorers.analysis import (DEFAULT_METRICS, METRICS, MIN_SCORED_SIDE, PERCEPTUAL_METRICS, metric_problem,
                                 parse_degradation, suggested_metrics)
from restorers.analysis import evaluate as evaluation  # the module: its function has its name
from restorers.guards import check_int
from restorers.media import images, read_batch, unique_labels

from . import costs
from .charts import score_chart
from .common import (USER_ERRORS, example, model_choices, plain_message, request_dir, runnable,
                     save_result_png, status_html, too_small)
from .fidelity import fidelity_box, parse_fidelities, show_fidelity
from .jobs import job, ui

# The default shows a difference: a x4 downscale brought back by bicubic and by Lanczos, next to the
# degraded image itself (enlarged by nearest neighbour, i.e. not restored at all). Stack blur at scale 1
# left the baselines nothing to do, and gave three identical columns.
DEFAULT_SPEC = "downscale:4"
PREFERRED_MODELS = ["bicubic", "lanczos", "realesr-general-x4v3"]

MAX_BATCH = 24  # images per evaluation on a shared CPU Space
KINDS = [
    ("Stack blur (radius)", "stackblur", 8, 1, 32, 1),
    ("Gaussian blur (sigma)", "gaussian", 2.0, 0.2, 10, 0.1),
    ("Downscale (factor)", "downscale", 4, 1, 8, 0.5),
    ("Gaussian noise (sigma)", "noise", 15, 1, 60, 1),
    ("Poisson noise (scale)", "poisson", 1.0, 0.1, 4, 0.1),
    ("JPEG (quality)", "jpeg", 30, 5, 95, 1),
    ("Real-ESRGAN second-order chain (scale)", "realesrgan", 4, 1, 4, 1),
]
KIND_BY_ID = {k[1]: k for k in KINDS}


def spec_for(kind: str, value: float) -> str:
    if kind == "downscale" or kind in {"gaussian", "poisson"}:
        return f"{kind}:{float(value):g}"
    return f"{kind}:{int(round(value))}"


@ui
def kind_changed(kind: str):
    _, _, default, low, high, step = KIND_BY_ID[kind]
    return gr.update(minimum=low, maximum=high, step=step, value=default), spec_for(kind, default)


def _read_uploads(files: list[str] | None) -> list[tuple[str, np.ndarray]]:
    """Images from the uploads (a .zip contributes every image inside it); bad files are skipped with a warning."""
    return _read_batch(files)[0]


def _read_batch(files: list[str] | None) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """(images, one note per skipped file or zip member): an encrypted member or one with an impossible name
    is skipped, the rest of the batch is kept."""
    if not files:
        raise gr.Error("Upload one or more clean images (or a .zip of them) first.")
    try:
        batch = read_batch(files, MAX_BATCH)
    except USER_ERRORS as exc:
        raise gr.Error(f"{exc}. Run `python -m restorers evaluate` for bigger batches.") from None
    for note in batch.skipped:
        gr.Warning(note)
    if not batch.images:
        raise gr.Error("No readable image in the upload." + "".join(f"\n{n}" for n in batch.skipped[:5]))
    return batch.images, [plain_message(note) for note in batch.skipped]


@job(costs.degrade, gpu=False)
def preview_degradation(files: list[str] | None, spec: str, seed: float):
    """Degrade a clean image on purpose (blur, downscale, noise, JPEG...), seeded and reproducible.

    Args:
        files: clean images (http(s) URLs or data: URIs); the first one is degraded.
        spec: the degradation, e.g. 'stackblur:8', 'gaussian:2', 'downscale:4', 'noise:10', 'jpeg:30', 'realesrgan'; chain steps with '+', e.g. 'downscale:2+jpeg:40'.
        seed: random seed for the noisy steps.
    Returns:
        the clean image and the degraded one (brought back to the clean size).
    """
    seed = check_int("seed", seed, 0, 2**63 - 1)
    name, clean = _read_uploads(files)[0]
    try:
        degraded = parse_degradation(spec).apply(clean, seed)
    except ValueError as exc:
        raise gr.Error(str(exc)) from exc
    shown = images.resize(degraded, (clean.shape[1], clean.shape[0]), "nearest")
    return (clean, shown)


@job(costs.evaluate)
def run_evaluation(files: list[str] | None, spec: str, seed: float, models: list[str] | None,
                   metrics: list[str] | None, face_mode: str = "aligned", fidelity: str | float = "0.5",
                   progress: gr.Progress = gr.Progress()):
    """Degrade clean ground-truth images, restore them with each model and score every output against the original.

    Args:
        files: clean ground-truth images (http(s) URLs or data: URIs), or one .zip of images.
        spec: the degradation applied first, e.g. 'stackblur:8', 'downscale:4', 'jpeg:30'; chain with '+'.
        seed: random seed for the degradation.
        models: model names to compare, e.g. ["bicubic", "lanczos", "gpen-bfr-256"].
        metrics: scores to compute: any of 'ssim', 'psnr', 'uqi', 'uqi_sewar', 'ms_ssim', 'vifp', 'ssim_gaussian', 'lpips' (LPIPS-VGG, lower is better), 'identity' (ArcFace cosine to the ground truth's face), 'niqe' (no-reference, lower is better).
        face_mode: how face models take each image: 'aligned' (a face crop) or 'whole' (detect and paste back).
        fidelity: CodeFormer only: its fidelity weight w in [0, 1] (default 0.5), or several separated by commas (e.g. '0, 0.5, 1'): one scored column per w, e.g. 'codeformer (w=0.5)'.
    Returns:
        a table of mean scores per model (the degraded input as baseline), chart data, per-image scores, the restored images, a CSV file, a note.
    """
    seed = check_int("seed", seed, 0, 2**63 - 1)
    truths, upload_notes = _read_batch(files)
    metrics = metrics or list(DEFAULT_METRICS)
    weights = parse_fidelities(fidelity)
    try:
        result = evaluation.evaluate(truths, spec, models or [], seed=seed, metrics=metrics, face_mode=face_mode,
                          keep_outputs=True, progress=lambda f, d: progress(f, desc=d), fidelities=weights)
    except USER_ERRORS as exc:
        raise gr.Error(str(exc)) from exc
    summary = result.summary()
    batch = len(truths) > 1
    table = pd.DataFrame(
        [[METRICS[m].label] + [
            (f"{summary[m][c][0]:.4f} ± {summary[m][c][1]:.3f}" if batch else f"{summary[m][c][0]:.4f}")
            for c in result.columns] for m in metrics],
        columns=["metric", *result.columns],
    )
    chart = score_chart(summary, metrics, result.columns, {m: METRICS[m].label for m in metrics})
    per_image = pd.DataFrame(
        [{"image": r.image, "column": r.column, **{m: round(r.scores[m], 4) for m in metrics}, "seconds": round(r.seconds, 2)}
         for r in result.rows]
    )
    folder = request_dir("evaluate")
    csv_path = folder / "scores.csv"
    csv_path.write_text(result.csv())
    keys = list(result.outputs)
    stems = unique_labels(f"{Path(i).stem[:100]}-{c}" for i, c in keys)  # a.jpg and a.png must not share an output file
    gallery = [(save_result_png(folder, stem, result.outputs[key]), f"{key[0]} · {key[1]}") for stem, key in zip(stems, keys)]
    # Failures are said once, here (not also as toasts): one short line, the long messages folded away.
    failed = f"; {len(result.failures)} model(s) could not run" if result.failures else ""
    skipped_count = len(result.skipped) + len(upload_notes)
    skipped = f"; {skipped_count} file(s) skipped" if skipped_count else ""
    note = status_html(
        f"{len(truths) - len(result.skipped)} image(s), degradation {result.degradation}, "
        f"seed {result.seed}{failed}{skipped}.",
        [f"Could not run: {model}: {plain_message(message)}" for model, message in result.failures.items()]
        + [f"Skipped: {line}" for line in upload_notes]
        + [f"Skipped: {plain_message(line)}" for line in result.skipped] + [
            "Outputs of another size are resized to the ground truth's with Lanczos before scoring; the degraded "
            "column is the degraded image itself (enlarged by nearest neighbour when smaller): the baseline every "
            "model should beat."],
        "warn" if result.failures or skipped_count else "info")
    return table, chart, per_image, gallery, str(csv_path), note


def metric_choices() -> list[tuple[str, str]]:
    """Checkbox labels that say a learned score's state: "LPIPS-VGG (lower is better) · missing weights"."""
    return [(info.label + (" · missing weights" if metric_problem(name) else ""), name)
            for name, info in METRICS.items()]


def metrics_note() -> str:
    """One line per perceptual score that cannot run here: the file it needs and how to provide it."""
    lines = [plain_message(problem) for name in PERCEPTUAL_METRICS if (problem := metric_problem(name))]
    if not lines:
        return ""
    return status_html("Not preselected: " + ", ".join(METRICS[n].label for n in PERCEPTUAL_METRICS
                                                        if metric_problem(n)) + ".", lines, "info")


@ui
def check_clean_images(paths: list[str] | None) -> str:
    """Images too small to score are named when they arrive (file headers only), not after the run."""
    return too_small(paths, MIN_SCORED_SIDE, "scoring")


def build_measure_tab() -> dict:
    kind_ids = [(k[0], k[1]) for k in KINDS]
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            files = gr.File(label="Clean images (or a .zip)", file_count="multiple", file_types=["image", ".zip"],
                            elem_id="measure-input")
            examples_slot = gr.Column()
            kind = gr.Dropdown(kind_ids, value="downscale", label="Degradation")
            value = gr.Slider(1, 8, value=4, step=0.5, label="Strength")
            spec = gr.Textbox(DEFAULT_SPEC, label="Degradation spec (editable; chain steps with +)",
                              elem_id="measure-spec")
            seed = gr.Number(0, precision=0, label="Seed")
            preview = gr.Button("Preview degradation")
            models = gr.CheckboxGroup(model_choices("baseline", "sr", "face"), value=runnable(*PREFERRED_MODELS),
                                      label="Models", elem_id="measure-models")
            metrics = gr.CheckboxGroup(metric_choices(), value=suggested_metrics(), label="Metrics",
                                       elem_id="measure-metrics")
            gr.HTML(metrics_note(), elem_id="measure-metrics-note")
            face_mode = gr.Radio([("Aligned face", "aligned"), ("Whole photo", "whole")], value="aligned",
                                 label="Face models' input mode")
            fidelity = fidelity_box("measure-fidelity")
            run = gr.Button("Degrade, restore and measure", variant="primary", elem_id="measure-run")
        with gr.Column(scale=2, min_width=300):
            slider = gr.ImageSlider(label="Clean / degraded (first image)", elem_id="measure-preview")
            note = gr.HTML(elem_id="measure-note")
            table = gr.Dataframe(label="Scores (mean ± std over the batch)", interactive=False, wrap=True,
                                 elem_id="measure-table")
            chart = gr.Image(label="Scores per metric (axes zoomed)", type="numpy",
                             interactive=False, elem_id="measure-chart")
            per_image = gr.Dataframe(label="Per image", interactive=False, wrap=True)
            gallery = gr.Gallery(label="Outputs (at ground-truth size; the degraded one first)", columns=3,
                                 height=420, object_fit="contain", elem_id="measure-gallery")
            csv_file = gr.File(label="CSV")
    outputs = [table, chart, per_image, gallery, csv_file, note]
    kind.change(kind_changed, kind, [value, spec], api_visibility="private")
    value.release(lambda k, v: spec_for(k, v), [kind, value], spec, api_visibility="private")
    preview.click(preview_degradation, [files, spec, seed], slider, api_name="degrade")
    # Clear the previous results first, so a failing run never leaves the old numbers under an error.
    run.click(lambda: [None, None, None, [], None, ""], None, outputs, api_visibility="private", queue=False).then(
        run_evaluation, [files, spec, seed, models, metrics, face_mode, fidelity], outputs, api_name="evaluate")
    models.change(show_fidelity, models, fidelity, api_visibility="private", queue=False)
    files.upload(check_clean_images, files, note, api_visibility="private", queue=False)
    learned = runnable("realesr-general-x4v3", "gpen-bfr-256")
    with examples_slot:
        examples = gr.Examples(
            [[[example("astronaut_face.png"), example("grace_hopper_face.png")], "downscale:4",
              ["bicubic", "lanczos", *learned]],
             [[example("astronaut_face.png"), example("grace_hopper_face.png")], "downscale:2+jpeg:40",
              ["bicubic", "lanczos", *learned]]],
            inputs=[files, spec, models],
            label="Examples (two clean faces; click to run; models without weights here are left out)",
            cache_examples=False, elem_id="measure-examples",
            example_labels=["Two faces, downscale x4", "Two faces, downscale x2 + JPEG 40"],
        )
    # An example sets the files: show the clean / degraded preview first (one image, cheap), then run.
    examples.load_input_event.then(preview_degradation, [files, spec, seed], slider, api_visibility="private").then(
        lambda f, sp, m, chosen: run_evaluation(f, sp, 0, m, chosen or list(DEFAULT_METRICS)),
        [files, spec, models, metrics], outputs, api_visibility="private")  # the ticked metrics, NIQE included
    return {"files": files, "models": models}
