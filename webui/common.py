"""Helpers shared by the tabs: error translation, output files, choices."""
from __future__ import annotations

import html
import re
import uuid
from pathlib import Path

import gradio as gr
import numpy as np

import restorers
from restorers.media import images
from restorers.models import DownloadProgress
from restorers.models import ModelSpec, specs

from .tmpdirs import OUTPUT_ROOT, RUN_DIR, sweep_outputs, tmp_max_age_s  # noqa: F401 (re-exported)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str) -> str:
    return str(EXAMPLES / name)
USER_ERRORS = (restorers.ImageError, restorers.WeightsError, restorers.UnknownModelError, ValueError)


def request_dir(prefix: str) -> Path:
    """A fresh folder per request, so concurrent users never overwrite each other's files."""
    sweep_outputs()
    path = RUN_DIR / f"{prefix}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_result_png(folder: Path, stem: str, rgb: np.ndarray, alpha: np.ndarray | None = None, grayscale: bool = False) -> str:
    """A per-request PNG at zlib level 1: PNG is lossless, so the page and the download get the same pixels,
    and writing at level 1 instead of 6 made Restore several times faster (numbers in docs/benchmarks.md)."""
    return str(images.save_png(folder / f"{stem}.png", rgb, alpha, grayscale, compress_level=images.PNG_LEVEL_FAST))


# weights_status states in which a model runs right now without any download.
READY_STATES = {"builtin", "override", "cached"}


def model_state(spec: ModelSpec) -> tuple[str, bool]:
    """(short words for a picker, whether the model can run here). Unknown states count as "cannot run"."""
    try:
        status = restorers.weights_status(spec)
    except Exception:  # noqa: BLE001 - a picker label must never break the page
        status = "unknown"
    if status in READY_STATES:
        return "ready", True
    if status == "downloadable":
        size = spec.weights.size if spec.weights else 0
        return (f"downloads {size / 1e6:.0f} MB on first use" if size else "downloads on first use"), True
    if status == "missing":
        return "missing weights", False
    if status in ("override-bad", "cached-bad"):
        return "weights file fails its check", False
    return f"weights {status}".replace("_", " "), False


def runnable(*names: str) -> list[str]:
    """The models among ``names`` that can run here (weights built in, cached or downloadable)."""
    by_name = {spec.name: spec for spec in specs()}
    return [n for n in names if n in by_name and model_state(by_name[n])[1]]


def model_choices(*families: str) -> list[tuple[str, str]]:
    """Picker choices whose labels say each model's state: "Real-ESRGAN x4plus · missing weights"."""
    return [(f"{spec.title} · {model_state(spec)[0]}", spec.name) for spec in specs(*families)]  # type: ignore[arg-type]


PICKER_FAMILIES = ("baseline", "sr", "face")


def background_choices(*leave_out: str) -> list[tuple[str, str]]:
    """Background upsamplers for whole-photo face restoration: Lanczos, none (keep the size) and every registered
    SR model, so a model added to the registry is offered here without touching the tabs."""
    learned = [(spec.title, spec.name) for spec in specs("sr") if spec.name not in leave_out]
    return [("Lanczos", "lanczos"), ("None (keep size)", "none"), *learned]


# Always runnable (no weights): what a single-model picker falls back to when its model cannot run.
FALLBACK_MODEL = "lanczos"


def runnable_selection(value: str | list[str] | None) -> str | list[str] | None:
    """A picker's value without the models that cannot run now: a list keeps the others, one name falls back
    to FALLBACK_MODEL."""
    if isinstance(value, list):
        return runnable(*value)
    if isinstance(value, str) and not runnable(value):
        return FALLBACK_MODEL
    return value


def refresh_pickers_on_load(demo: gr.Blocks, pickers: list) -> None:
    """Re-read every picker's model states each time the page opens: weights downloaded since the app
    started (a first use, "Download now") then show as ready without a restart, and a model chosen when
    the page was built that cannot run now (the Hub found unreachable since) is unticked, not left
    selected under a "missing weights" label. Only what is already known is read: no network here."""
    def fresh(*values):
        choices = model_choices(*PICKER_FAMILIES)
        return [gr.update(choices=choices, value=runnable_selection(value)) for value in values]

    demo.load(fresh, pickers, pickers, api_visibility="private", queue=False)


_REPR = re.compile(r"<[^<>]*? object at 0x[0-9a-fA-F]+>")


def _private_roots() -> list[str]:
    """Folders whose paths say where this server keeps uploads and results: never shown to a visitor."""
    import os
    import tempfile

    roots = {tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR") or "", str(OUTPUT_ROOT)}
    return sorted((r.rstrip("/") for r in roots if r and r != "/"), key=len, reverse=True)


def scrub_paths(text: str) -> str:
    """``text`` with every path under the server's temporary folders cut to its file name
    ("/tmp/gradio/3f2a.../x.PKL" -> "x.PKL")."""
    def name_only(match: re.Match) -> str:
        path = match.group(0)
        core = path.rstrip("/.:")  # a sentence's own punctuation after the path stays
        return (core.rsplit("/", 1)[-1] or "the file") + path[len(core):]

    for root in _private_roots():
        text = re.sub(re.escape(root) + r"/[^\s'\"<>()\[\],;]*", name_only, text)
    return text


def plain_message(text: str, path: str | None = None) -> str:
    """A message fit for the page: the upload's own name instead of its temporary path, no Python reprs."""
    text = str(text)
    if path:
        text = text.replace(str(path), Path(path).name)
    text = _REPR.sub("the file", scrub_paths(text))
    return re.sub(r"\s*\((cannot identify image file the file)\)", " (not an image format we can decode)", text)


def status_html(summary: str, details: list[str] | None = None, kind: str = "info") -> str:
    """One short line, with the long text folded away in a <details> (kind: info, warn or error)."""
    body = f'<div class="studio-status studio-{kind}"><p>{html.escape(summary)}</p>'
    if details:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in details)
        body += f"<details><summary>Details</summary><ul>{items}</ul></details>"
    return body + "</div>"


WEIGHTS_LABELS = {"builtin": "built in", "override": "local override (verified)", "cached": "cached",
                  "downloadable": "downloads on first use", "missing": "MISSING",
                  "override-bad": "BAD local override (will not load)", "cached-bad": "BAD cached file (will not load)"}


def weights_label(spec: ModelSpec) -> str:
    """What using the model will do, in words; a bad or missing file says why."""
    status = restorers.weights_check(spec)
    label = WEIGHTS_LABELS[status.state]
    if status.state == "missing":
        # The reason (offline, or the Hub unreachable) is the same for every file: the Models tab says it once.
        return f"{label}: not cached"
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
        raise gr.Error(plain_message(str(exc), path)) from exc



def too_small(paths: str | list[str] | None, min_side: int, what: str) -> str:
    """A status line (empty when all is well) for uploads smaller than ``min_side`` on a side, said when the
    file arrives rather than after Run; sizes come from the file headers only."""
    names = []
    for path in [paths] if isinstance(paths, str) else list(paths or []):
        size = images.header_size(path) if str(path).lower().endswith(IMAGE_SUFFIXES) else None
        if size is not None and min(size) < min_side:
            names.append(f"{Path(path).name} is {size[0]}x{size[1]} px")
    if not names:
        return ""
    return status_html(f"Too small for {what}: it needs at least {min_side}x{min_side} px.", names, "warn")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
INPUT_SOURCES = ["upload", "clipboard", "webcam"]


def ImageInput(label: str, **kwargs) -> gr.Image:  # noqa: N802 - used like a component class
    """An image input (upload, paste from the clipboard, webcam) that hands our own decoder the untouched
    file (type filepath, no mode conversion), so 16-bit, alpha and EXIF survive, and that reports a file
    it cannot read in words (Pillow's own message names a temporary file)."""
    kwargs.setdefault("sources", INPUT_SOURCES)
    component = gr.Image(label=label, type="filepath", image_mode=None, format="png", **kwargs)
    # Wrapped on the instance, not in a subclass: gradio writes a .pyi stub next to any module that
    # defines a component class.
    original = component.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except Exception as exc:  # noqa: BLE001 - whatever Pillow raises, the user gets the same sentence
            path = getattr(payload, "path", None)
            if path:
                # Hand the untouched file on: the handler's own decoder says what is wrong in its status line.
                # Raising here stopped the event before the handler, so every output showed an "Error" badge.
                return str(path)
            name = getattr(payload, "orig_name", None) or "the upload"
            raise gr.Error(f"{name} is not a readable image (not an image format we can decode)") from exc

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component
