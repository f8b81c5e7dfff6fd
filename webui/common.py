"""Helpers shared by the tabs: error translation, output files, choices."""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import gradio as gr
import numpy as np

import restorers
from restorers import images
from restorers.hub import DownloadProgress
from restorers.registry import ModelSpec, specs

OUTPUT_ROOT = Path(tempfile.gettempdir()) / "restorers-app"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str) -> str:
    return str(EXAMPLES / name)
USER_ERRORS = (restorers.ImageError, restorers.WeightsError, restorers.UnknownModelError, ValueError)


def request_dir(prefix: str) -> Path:
    """A fresh folder per request, so concurrent users never overwrite each other's files."""
    path = OUTPUT_ROOT / f"{prefix}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_result_png(folder: Path, stem: str, rgb: np.ndarray, alpha: np.ndarray | None = None, grayscale: bool = False) -> str:
    """A per-request PNG at zlib level 1: PNG is lossless, so the page and the download get the same pixels,
    and writing at level 1 instead of 6 made Restore several times faster (numbers in the README)."""
    return str(images.save_png(folder / f"{stem}.png", rgb, alpha, grayscale, compress_level=images.PNG_LEVEL_FAST))


def model_choices(*families: str) -> list[tuple[str, str]]:
    return [(spec.title, spec.name) for spec in specs(*families)]  # type: ignore[arg-type]


WEIGHTS_LABELS = {"builtin": "built in", "override": "local override (verified)", "cached": "cached",
                  "downloadable": "downloads on first use", "missing": "MISSING",
                  "override-bad": "BAD local override (will not load)", "cached-bad": "BAD cached file (will not load)"}


def weights_label(spec: ModelSpec) -> str:
    """What using the model will do, in words; a bad or missing file says why."""
    status = restorers.weights_check(spec)
    label = WEIGHTS_LABELS[status.state]
    return f"{label}: {status.reason}" if status.reason else label


def report_download(report: DownloadProgress) -> None:
    """Show a weights download in the progress bar of the request that caused it (no-op outside a request).

    gr.Progress() finds the running event through Gradio's context variables, so the engine needs no
    handle on the page; app.py installs this once with hub.set_default_download_progress."""
    gr.Progress()(report.fraction, desc=report.describe())


def load_input(path: str | None, what: str = "an image"):
    """Decode an upload, or raise a gr.Error that says what is wrong."""
    if not path:
        raise gr.Error(f"Please upload {what} first.")
    try:
        return images.load_image(path)
    except restorers.ImageError as exc:
        raise gr.Error(str(exc)) from exc

